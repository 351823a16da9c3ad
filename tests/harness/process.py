"""A long-running helper process (Pebble, challtestsrv) whose output is kept.

Output goes to a file instead of a pipe: a chatty server writing into a pipe
nobody reads blocks once the pipe buffer fills, which looks like a hang in the
test that uses it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

LOG_TAIL_CHARS = 20_000


class HarnessError(AssertionError):
    """A test helper failed; the message carries the helper's log.

    Derived from AssertionError so pytest shows it as a test failure with its
    full message, not as an error inside the harness.
    """


def tail(text: str, limit: int = LOG_TAIL_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} earlier characters cut ...]\n" + text[-limit:]


def split_hostport(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def port_open(address: str, timeout: float = 0.2) -> bool:
    host, port = split_hostport(address)
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


P = TypeVar("P", bound="ManagedProcess")


class ManagedProcess:
    """Start a command with its output in ``log_path``; stop it for sure on exit.

    Subclasses implement :meth:`start` (spawn, then wait until ready); the
    context manager starts and :meth:`close` stops and removes the temporary
    working directory that :meth:`workdir_or_temporary` may have made.
    """

    name = "process"
    _tempdir: tempfile.TemporaryDirectory[str] | None = None

    def workdir_or_temporary(self, workdir: Path | None, prefix: str) -> Path:
        """``workdir`` (created), or a temporary directory that :meth:`close` removes."""
        if workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix=prefix)
            workdir = Path(self._tempdir.name)
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def failure(self, message: str) -> HarnessError:
        return HarnessError(
            f"{self.name}: {message}\ncommand: {' '.join(self.argv)}\n"
            f"--- {self.name} log ({self.log_path}) ---\n{tail(self.log_text())}"
        )

    def spawn(self) -> None:
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    cwd=self.cwd,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Own process group: a Ctrl-C in the terminal reaches pytest
                    # only, and pytest's teardown still gets to stop the server.
                    start_new_session=True,
                )
            except OSError as exc:
                raise self.failure(f"cannot start: {exc}") from exc

    def wait_until(
        self, ready: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise self.failure(f"exited with status {code} before {what}")
            if ready():
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise self.failure(f"not {what} after {timeout:.0f}s")
            time.sleep(interval)

    def stop(self, grace: float = 5.0) -> str:
        """Stop the process (TERM, then KILL) and return its log."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)
        return self.log_text()

    def start(self: P) -> P:
        raise NotImplementedError

    def close(self) -> None:
        """Stop, and remove the temporary directory if this instance made one."""
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self: P) -> P:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
