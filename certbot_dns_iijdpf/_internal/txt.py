"""TXT values in DPF's notation.

DPF stores a TXT RRset's values as strings that carry their own quotes:
``"abc"``, or ``"part1" "part2"`` for several character-strings.  An unquoted
value is rejected with ``invalid_quotes``.  Comparisons here are done on the
decoded character-strings, so ``"abc"`` written by another tool matches the
ACME value ``abc`` whatever spacing it used.
"""

from __future__ import annotations

import re

# A DNS-01 value is base64url(SHA-256(key authorization)) without padding: 43
# characters.  Edits that only add or remove such values at challenge names are
# what ACME clients do, and are the only foreign pending edits we tolerate.
_ACME_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_STRING = 255


def quote(text: str) -> str:
    """Encode ``text`` as a DPF TXT value, split into 255-byte character-strings."""
    data = text.encode("utf-8")
    chunks = [data[i : i + _MAX_STRING] for i in range(0, len(data), _MAX_STRING)] or [b""]
    return " ".join(f'"{_escape(chunk.decode("utf-8", "surrogateescape"))}"' for chunk in chunks)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def decode(value: str) -> str:
    """Decode a DPF TXT value to the text a resolver would hand to an ACME server.

    Quoted character-strings are unescaped and concatenated; anything outside
    quotes (which DPF should never return) is kept as it is, minus spaces.
    """
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == '"':
            i += 1
            while i < len(value) and value[i] != '"':
                if value[i] == "\\" and i + 1 < len(value):
                    i += 1
                out.append(value[i])
                i += 1
            i += 1
        elif ch.isspace():
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def is_acme_value(value: str) -> bool:
    """True if a DPF TXT value holds exactly one DNS-01 challenge value."""
    return _ACME_VALUE.fullmatch(decode(value)) is not None
