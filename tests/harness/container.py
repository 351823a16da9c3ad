"""A Debian system container (12 unless told otherwise) with systemd as PID 1, on our network.

The root file system is built once per machine with ``debootstrap`` and kept
in a cache (``ROOTFS_CACHE``); every container boots from a private overlay on
top of it, so a test never changes the cached tree and its files vanish with
it. ``systemd-nspawn --keep-unit --register=no -b`` boots it without a private
network: the container shares the network namespace of ``scripts/in-netns``,
where the DPF emulator, its nameservers and Pebble listen, and its
/etc/resolv.conf is a copy of that namespace's (the emulator's resolver).

That namespace has no way out, so the two steps that need the internet (the
debootstrap and the wheels pip installs from) run in the network and mount
namespaces of the process that started ``scripts/in-netns``: the machine's.
Inside the container pip installs offline from that wheelhouse
(``PIP_NO_INDEX`` + ``PIP_FIND_LINKS``), which lets the README's install
commands run unchanged.

Commands run in the container with ``nsenter --all`` into its PID 1, with a
clean environment. :meth:`Container.close` powers the container off and, if
that does not finish in time, kills its PID 1 (which ends every process of
its PID namespace) and the nspawn process group, then removes the overlay.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .diagnostics import Diagnostics
from .paths import REPO_ROOT
from .process import HarnessError, ManagedProcess, tail

MIRROR = os.environ.get("E2E_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Shared by every clone on the machine; each build has its own directory,
# named after what went into it, so a changed recipe builds anew.
ROOTFS_CACHE = Path(os.environ.get("E2E_ROOTFS_CACHE", "/var/cache/certbot-dns-iijdpf-e2e"))


@dataclass(frozen=True)
class Distro:
    """A Debian release to boot: its suite and what its image holds.

    ``packages`` are installed by debootstrap; ``downloaded`` only land in the
    image's apt cache, so that a README's ``apt install`` of them works offline
    inside the container.
    """

    suite: str
    packages: tuple[str, ...]
    downloaded: tuple[str, ...] = ()


# What an operator's Debian 12 host has: systemd as init, the two web servers,
# Python with venv, openssl for checking what is served. Debian's own certbot
# is only downloaded, for the README's `apt install certbot python3-venv
# python3-dnspython` (Debian's certbot route). dma is the mail transport agent
# that delivers the failure notices to /var/mail/root, without a daemon.
BOOKWORM = Distro(
    suite="bookworm",
    packages=(
        "systemd",
        "systemd-sysv",
        "dbus",
        "nginx",
        "apache2",
        "python3-venv",
        "openssl",
        "ca-certificates",
        "dma",
    ),
    downloaded=("certbot", "python3-venv", "python3-dnspython"),
)
# Debian 13: Python 3.13 and certbot 4.0.0. The package is built inside it
# (the README's dpkg-buildpackage, with trixie's debhelper and pybuild), so its
# build tools are installed; certbot is only downloaded, for the README's
# `apt install certbot ../python3-certbot-dns-iijdpf_*.deb`, and so are
# pytest and prometheus-client, for the unit tests with trixie's libraries.
TRIXIE = Distro(
    suite="trixie",
    packages=(
        "systemd",
        "systemd-sysv",
        "dbus",
        "nginx",
        "apache2",
        "python3",
        "openssl",
        "ca-certificates",
        "build-essential",
        "dpkg-dev",
        "debhelper",
        "dh-python",
        "pybuild-plugin-pyproject",
        "python3-all",
        "python3-setuptools",
    ),
    downloaded=(
        "certbot",
        "python3-dnspython",
        "python3-requests",
        "python3-pytest",
        "python3-prometheus-client",
    ),
)
# Debian 11: Python 3.9 (EL9's interpreter) and systemd 247, the closest
# reachable to EL8's 239. The web servers are there for the deploy hooks; the
# plugin and its libraries come from a wheelhouse of EL9's versions.
BULLSEYE = Distro(
    suite="bullseye",
    packages=(
        "systemd",
        "systemd-sysv",
        "dbus",
        "nginx",
        "apache2",
        "python3-venv",
        "openssl",
        "ca-certificates",
    ),
)
# Bump when the recipe below changes in a way the package lists do not show.
RECIPE_VERSION = "1"

WHEELHOUSE_IN_CONTAINER = "/var/cache/e2e-wheelhouse"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

REQUIRED_PROGRAMS = ("debootstrap", "systemd-nspawn", "nsenter", "unshare", "mount", "umount")


# -- the machine's own network ---------------------------------------------------------


def _namespace(pid: int | str, kind: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^PPid:\s+(\d+)$", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _outside_network_pid() -> int | None:
    """The nearest ancestor in another network namespace: whoever ran scripts/in-netns.

    None when this process is on that network itself. (PID 1's namespaces
    would do as well, but a sandboxed machine may not let even root open them.)
    """
    own = _namespace("self", "net")
    pid = os.getppid()
    while pid > 0:
        try:
            if _namespace(pid, "net") != own:
                return pid
            pid = _parent(pid)
        except OSError:
            break
    return None


def on_host_network(argv: Sequence[str]) -> list[str]:
    """``argv`` run on the network the tests were started from, with mounts of its own.

    Inside ``scripts/in-netns`` only loopback exists and /etc/resolv.conf points
    at the emulator; the process that started scripts/in-netns has the
    machine's network and resolver, and its namespaces are entered. The extra
    private mount namespace keeps debootstrap's /proc and /sys mounts in the
    target from ever reaching the machine's own mount table.
    """
    private = ["unshare", "--mount", "--propagation", "private", "--", *argv]
    outside = _outside_network_pid()
    if outside is None:
        return private
    return ["nsenter", f"--target={outside}", "--mount", "--net", "--", *private]


def missing_programs() -> list[str]:
    search = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    return [name for name in REQUIRED_PROGRAMS if shutil.which(name, path=search) is None]


def require_programs() -> None:
    """Fail, naming what is missing, where this machine cannot make a container."""
    missing = missing_programs()
    if missing:
        raise HarnessError(
            f"not installed: {', '.join(missing)}; scripts/bootstrap installs debootstrap "
            "and systemd-container"
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path``, so that concurrent runs build a cache entry once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_logged(argv: Sequence[str], log: Path, what: str, timeout: float) -> None:
    with log.open("a") as out:
        out.write(f"$ {shlex.join(argv)}\n")
        out.flush()
        try:
            result = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"{what} did not finish within {timeout:.0f} s\n--- {log} ---\n"
                f"{tail(log.read_text(errors='replace'))}"
            ) from None
    if result.returncode != 0:
        raise HarnessError(
            f"{what} failed (exit {result.returncode}); it needs the internet "
            f"({MIRROR}, PyPI)\n--- {log} ---\n{tail(log.read_text(errors='replace'))}"
        )


# -- the cached root file system --------------------------------------------------------


@dataclass(frozen=True)
class Rootfs:
    """A built root file system and what pip needs to know to fetch wheels for it."""

    path: Path
    python_version: str  # "3.11"
    glibc: str  # "2.36"
    machine: str  # "x86_64"


_BUILD_SCRIPT = r"""
set -eu
target=$1 mirror=$2 suite=$3 include=$4 download=$5
debootstrap --variant=minbase --include="$include" "$suite" "$target" "$mirror"
# Debian's own certbot for the README's Debian-package route: fetched now,
# installed (or not) by a test, offline.
chroot "$target" apt-get install --download-only -y -q $download
chroot "$target" /usr/bin/python3 -B -c '
import json, os, platform, sys
print(json.dumps({"python_version": "%d.%d" % sys.version_info[:2],
                  "glibc": os.confstr("CS_GNU_LIBC_VERSION").split()[1],
                  "machine": platform.machine()}))' > "$target.json"
"""


def ensure_rootfs(
    distro: Distro = BOOKWORM, cache: Path = ROOTFS_CACHE, timeout: float = 1800
) -> Rootfs:
    """The cached root file system of ``distro``, built first if this machine has none."""
    suite = distro.suite
    recipe = "\n".join(
        [
            RECIPE_VERSION,
            suite,
            MIRROR,
            *distro.packages,
            "--",
            *distro.downloaded,
            _BUILD_SCRIPT,
        ]
    )
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    final = cache / f"{suite}-{key}"
    info = cache / f"{suite}-{key}.json"
    with _locked(cache / ".lock"):
        if not (final.is_dir() and info.is_file()):
            building = cache / f".building-{suite}-{key}"
            if building.exists():  # an earlier build that was interrupted
                shutil.rmtree(building)
            Path(f"{building}.json").unlink(missing_ok=True)
            log = cache / f"{suite}-{key}.build.log"
            log.write_text("")
            argv = on_host_network(
                [
                    "sh",
                    "-c",
                    _BUILD_SCRIPT,
                    "build-rootfs",
                    str(building),
                    MIRROR,
                    suite,
                    ",".join(distro.packages),
                    " ".join(distro.downloaded),
                ]
            )
            _run_logged(argv, log, f"debootstrap of Debian {suite} into {building}", timeout)
            os.replace(f"{building}.json", info)
            os.replace(building, final)
    data = json.loads(info.read_text())
    return Rootfs(
        path=final,
        python_version=str(data["python_version"]),
        glibc=str(data["glibc"]),
        machine=str(data["machine"]),
    )


# -- the wheelhouse ---------------------------------------------------------------------


def project_requirements(distribution: str = "certbot-dns-iijdpf") -> list[str]:
    """What building and installing the project's wheel needs: pip, setuptools, its dependencies.

    The dependencies come from the metadata of the project as installed in the
    test environment (scripts/bootstrap reinstalls it when pyproject.toml changes).
    """
    runtime = [
        requirement
        for requirement in metadata.requires(distribution) or []
        if "extra ==" not in requirement
    ]
    return sorted({"pip", "setuptools", "wheel", *runtime})


def _platforms(rootfs: Rootfs) -> list[str]:
    # pip does not widen a PEP 600 platform to the older glibc versions it
    # implies, so every manylinux tag the container's glibc accepts is listed.
    major, minor = (int(part) for part in rootfs.glibc.split(".")[:2])
    tags = [f"manylinux_{major}_{m}_{rootfs.machine}" for m in range(minor, 4, -1)]
    tags += [f"manylinux2014_{rootfs.machine}", f"linux_{rootfs.machine}"]
    return tags


def ensure_wheelhouse(
    rootfs: Rootfs,
    requirements: Sequence[str],
    cache: Path = ROOTFS_CACHE,
    timeout: float = 900,
) -> Path:
    """Wheels of ``requirements`` and their dependencies for the container's Python."""
    version = rootfs.python_version.replace(".", "")
    options = [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        version,
        "--abi",
        f"cp{version}",
    ]
    for platform in _platforms(rootfs):
        options += ["--platform", platform]
    recipe = "\n".join([*options, "--", *sorted(requirements)])
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    final = cache / f"wheels-{key}"
    with _locked(cache / ".lock"):
        if not final.is_dir():
            building = cache / f".building-wheels-{key}"
            if building.exists():
                shutil.rmtree(building)
            log = cache / f"wheels-{key}.log"
            log.write_text("")
            argv = on_host_network(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--disable-pip-version-check",
                    "--dest",
                    str(building),
                    *options,
                    *requirements,
                ]
            )
            _run_logged(argv, log, "pip download of the wheelhouse", timeout)
            os.replace(building, final)
    return final


def copy_source_tree(destination: Path, source: Path = REPO_ROOT) -> Path:
    """The repository as a fresh clone has it: no virtual environments, caches or builds."""
    ignored = shutil.ignore_patterns(
        ".git",
        ".venvs",
        ".venv",
        ".cache",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "__pycache__",
        "*.egg-info",
        "build",
        "dist",
    )
    shutil.copytree(source, destination, ignore=ignored, symlinks=True)
    return destination


# -- the container ----------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found += [int(child) for child in text.split()]
    return found


def _namespace_pid(pid: int) -> int | None:
    """The pid of ``pid`` in the innermost PID namespace it belongs to."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^NSpid:\s+(.*)$", status, re.MULTILINE)
    return int(match.group(1).split()[-1]) if match else None


_PR_SET_PDEATHSIG = 1


def _terminate_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Container(ManagedProcess):
    """``systemd-nspawn -b`` of an overlay over ``rootfs``, sharing this network namespace.

    ``root`` is the container's ``/`` as seen from the test (the overlay's
    mount point), for copying files in and reading them back.
    """

    name = "systemd-nspawn"

    def __init__(
        self,
        rootfs: Path,
        workdir: Path,
        *,
        machine: str,
        read_only_binds: Mapping[Path, str] | None = None,
        boot_timeout: float = 180.0,
    ) -> None:
        self.rootfs = rootfs
        self.workdir = workdir
        self.machine = machine
        self.boot_timeout = boot_timeout
        self.root = workdir / "root"
        self._upper = workdir / "upper"
        self._work = workdir / "work"
        self._mounted = False
        self.pid1: int | None = None
        argv = [
            "systemd-nspawn",
            "--keep-unit",
            "--register=no",
            "--boot",
            f"--directory={self.root}",
            f"--machine={machine}",
            "--resolv-conf=copy-host",
            "--link-journal=no",
            "--console=read-only",
        ]
        for source, target in (read_only_binds or {}).items():
            argv.append(f"--bind-ro={source}:{target}")
        super().__init__(argv, log_path=workdir / "console.log")

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Container:
        for directory in (self.root, self._upper, self._work):
            directory.mkdir(parents=True, exist_ok=True)
        options = f"lowerdir={self.rootfs},upperdir={self._upper},workdir={self._work}"
        subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(self.root)],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self._mounted = True
        try:
            self.spawn()
            self.wait_until(self._find_pid1, timeout=30, what="running the container's PID 1")
            self.wait_until(self._booted, timeout=self.boot_timeout, what="booted", interval=0.5)
        except BaseException:
            self.close()
            raise
        return self

    def spawn(self) -> None:
        """Start nspawn in a session of its own, told to power off if the test process dies.

        A test killed outright runs no finalizer; SIGTERM from the parent-death
        signal is nspawn's cue for a clean shutdown of the container.
        """
        if self._proc is not None:
            raise RuntimeError("systemd-nspawn already started")
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_terminate_with_parent,
                )
            except OSError as exc:
                raise self.failure(f"cannot start: {exc}") from exc

    def _find_pid1(self) -> bool:
        """PID 1 of the container: the process below nspawn that is pid 1 in its namespace."""
        assert self.pid is not None
        pending = _children(self.pid)
        while pending:
            pid = pending.pop()
            if _namespace_pid(pid) == 1:
                self.pid1 = pid
                return True
            pending += _children(pid)
        return False

    def _booted(self) -> bool:
        # is-system-running fails until systemd's private socket exists;
        # "degraded" means some unit failed, which the test judges itself.
        result = self.run(
            ["systemctl", "is-system-running", "--wait"], check=False, timeout=self.boot_timeout
        )
        return result.stdout.strip() in ("running", "degraded")

    def stop(self, grace: float = 30.0) -> str:
        """Power the container off (nspawn turns SIGTERM into a clean shutdown), or kill it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                # PID 1 of a PID namespace takes every process in it along.
                if self.pid1 is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid1, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)
        elif self.pid1 is not None:
            # nspawn is gone but its container may not be.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid1, signal.SIGKILL)
        return self.log_text()

    def close(self) -> None:
        self.stop()
        if self._mounted:
            result = subprocess.run(
                ["umount", str(self.root)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                subprocess.run(["umount", "--lazy", str(self.root)], check=False)
            self._mounted = False
        # The overlay's upper layer holds a whole virtual environment; the
        # console log stays for the failure report.
        for directory in (self._upper, self._work):
            shutil.rmtree(directory, ignore_errors=True)

    # -- commands ----------------------------------------------------------------------

    def command(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str = "/"
    ) -> list[str]:
        if self.pid1 is None:
            raise HarnessError("the container is not running")
        environment = {"PATH": CONTAINER_PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}
        environment.update(env or {})
        return [
            "nsenter",
            f"--target={self.pid1}",
            "--all",
            "--",
            "env",
            "-i",
            f"--chdir={cwd}",
            *(f"{key}={value}" for key, value in environment.items()),
            *argv,
        ]

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = "/",
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the container; ``check`` raises with its output when it fails."""
        try:
            result = subprocess.run(
                self.command(argv, env, cwd),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"in the container, {shlex.join(argv)}: no end after {timeout:.0f} s"
            ) from None
        result.args = list(argv)  # what failed, not how it was entered
        if check and result.returncode != 0:
            raise HarnessError(f"in the container: {describe(result)}")
        return result

    def sh(
        self,
        script: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = "/",
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell script (``sh -eu``, every command echoed) in the container."""
        return self.run(
            ["/bin/sh", "-eux", "-c", script], env=env, cwd=cwd, check=check, timeout=timeout
        )

    def path(self, inside: str) -> Path:
        """Where a path of the container is, seen from the test."""
        return self.root / inside.lstrip("/")

    def write(self, inside: str, text: str, mode: int = 0o644) -> None:
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(target, mode)

    def journal(self, *args: str) -> str:
        result = self.run(["journalctl", "--no-pager", "--quiet", *args], check=False)
        return result.stdout + result.stderr


def watch(machine: Container, diagnostics: Diagnostics) -> Container:
    """``machine``, with its console, journal and certbot's log shown when the test fails."""
    diagnostics.add("container console", machine.log_text)
    diagnostics.add("container journal", lambda: machine.journal("-b", "-n", "300"))
    diagnostics.add(
        "container letsencrypt.log",
        lambda: machine.path("/var/log/letsencrypt/letsencrypt.log").read_text(errors="replace"),
    )
    return machine


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A command's exit status and output, for assertion messages."""
    args = result.args
    shown = shlex.join(str(a) for a in args) if isinstance(args, list) else str(args)
    return (
        f"{shown}\nexit status {result.returncode}\n"
        f"--- stdout ---\n{tail(result.stdout)}\n--- stderr ---\n{tail(result.stderr)}"
    )


# -- the Debian package -----------------------------------------------------------------

# What dpkg-buildpackage needs on the host (scripts/bootstrap installs them).
DEBIAN_BUILD_PROGRAMS = ("dpkg-buildpackage", "dpkg-source", "dh", "pybuild", "lintian")
# A clean environment: the tests' interpreter (a venv, pyenv) must not be the
# python3 that pybuild finds first on PATH.
_DEBIAN_BUILD_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class DebianBuild:
    """The source package and python3-certbot-dns-iijdpf built from this repository."""

    directory: Path
    deb: Path
    dsc: Path
    changes: Path
    wheel: Path  # `pip wheel --no-deps` of the same tree, for the CERTBOT_PLUGIN_PATH route


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def ensure_debian_package(cache: Path = ROOTFS_CACHE, timeout: float = 600) -> DebianBuild:
    """``dpkg-buildpackage -us -uc -b`` of this repository, once per change of its files.

    Built on this machine (Debian 12, as the package's users have it) in a
    copy of the tree as a fresh clone has it, next to the container image and
    named after a digest of that tree. The source package (``dpkg-source -b``,
    before the build dirties the tree) is made too, for lintian.
    """
    search = "/usr/sbin:/usr/bin:/sbin:/bin"
    missing = [name for name in DEBIAN_BUILD_PROGRAMS if shutil.which(name, path=search) is None]
    if missing:
        raise HarnessError(
            f"not installed: {', '.join(missing)}; scripts/bootstrap installs dpkg-dev, "
            "debhelper, dh-python, pybuild-plugin-pyproject and lintian"
        )
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".debian-source-", dir=cache))
    try:
        source = copy_source_tree(staging / "certbot-dns-iijdpf")
        final = cache / f"debian-package-{_tree_digest(source)}"
        with _locked(cache / ".lock"):
            if not final.is_dir():
                log = staging / "build.log"
                log.write_text("")
                environment = dict(_DEBIAN_BUILD_ENV)

                def run(argv: Sequence[str], cwd: Path, what: str) -> None:
                    with log.open("a") as out:
                        out.write(f"$ {shlex.join(argv)}\n")
                        out.flush()
                        result = subprocess.run(
                            list(argv),
                            cwd=cwd,
                            env=environment,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            timeout=timeout,
                            check=False,
                        )
                    if result.returncode != 0:
                        raise HarnessError(
                            f"{what} failed (exit {result.returncode})\n--- {log} ---\n"
                            f"{tail(log.read_text(errors='replace'))}"
                        )

                run(["dpkg-source", "-b", source.name], staging, "dpkg-source -b")
                run(["dpkg-buildpackage", "-us", "-uc", "-b"], source, "dpkg-buildpackage")
                wheels = staging / "wheels"
                run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "wheel",
                        "--quiet",
                        "--no-deps",
                        "--no-build-isolation",
                        "--wheel-dir",
                        str(wheels),
                        str(source),
                    ],
                    staging,
                    "pip wheel",
                )
                shutil.rmtree(source)
                building = cache / f".building-{final.name}"
                shutil.rmtree(building, ignore_errors=True)
                os.replace(staging, building)
                staging = building
                os.replace(building, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    def one(pattern: str) -> Path:
        found = sorted(final.glob(pattern))
        if len(found) != 1:
            raise HarnessError(f"{final}: {len(found)} files match {pattern}")
        return found[0]

    return DebianBuild(
        directory=final,
        deb=one("python3-certbot-dns-iijdpf_*_all.deb"),
        dsc=one("certbot-dns-iijdpf_*.dsc"),
        changes=one("certbot-dns-iijdpf_*.changes"),
        wheel=one("wheels/certbot_dns_iijdpf-*-py3-none-any.whl"),
    )
