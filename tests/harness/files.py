"""Small file helpers the end-to-end tests keep needing."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    """Write ``text`` to a file that has ``mode`` from the moment it exists.

    An existing file is replaced, not rewritten in place, so a wider mode it
    had before does not survive.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    # os.open honours the umask; a test that asks for 0644 must get exactly that.
    os.chmod(path, mode)
    return path


def write_ini(path: Path, values: Mapping[str, object], mode: int = 0o600) -> Path:
    """Write a certbot credentials file (``key = value`` lines), 0600 by default.

    configobj would read an unquoted ``,`` as a list separator and strip an
    unquoted ``#...`` as a comment, so such values are quoted.
    """
    lines = []
    for key, value in values.items():
        text = str(value)
        if any(ch in text for ch in "#,\"'") or text != text.strip():
            if '"' not in text:
                text = f'"{text}"'
            elif "'" not in text:
                text = f"'{text}'"
            else:
                raise ValueError(f"configobj cannot quote a value with both quote kinds: {key}")
        lines.append(f"{key} = {text}\n")
    return write_private(path, "".join(lines), mode)


def write_executable(path: Path, text: str) -> Path:
    """Write a hook script that certbot can run (0700)."""
    write_private(path, text, stat.S_IRWXU)
    return path
