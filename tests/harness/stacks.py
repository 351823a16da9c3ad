"""Another Python and another set of libraries: a distribution's, inside a system container.

A :class:`Stack` names a Debian release (its Python) and the exact versions of
the libraries another distribution ships, e.g. EL9's Python 3.9 with EPEL's
certbot 3.1.0 and RHEL's requests 2.25.1. :func:`ensure_stack` builds (once,
cached) the release's root file system and a wheelhouse of just those
versions, plus the test tools; in a container booted from it,
:func:`make_venv` makes a virtual environment of them offline and
:func:`run_pytest` runs the project's tests with it, from a copy of the
repository. Because the wheelhouse holds nothing else, a README command that
installs ``certbot`` unpinned gets the stack's certbot too.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .container import (
    BULLSEYE,
    WHEELHOUSE_IN_CONTAINER,
    Container,
    Distro,
    Rootfs,
    ensure_rootfs,
    ensure_wheelhouse,
)
from .process import HarnessError

# What tests/unit needs besides the project's dependencies, from the [test]
# extra of pyproject.toml (pytest 8 is the last for Python 3.9).
TEST_TOOLS = ("pytest>=7,<9", "prometheus-client>=0.16")
# Make pip in the container install from the wheelhouse alone (it has no way out).
OFFLINE_PIP = {
    "PIP_NO_INDEX": "1",
    "PIP_FIND_LINKS": WHEELHOUSE_IN_CONTAINER,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


@dataclass(frozen=True)
class Stack:
    """A Python (that of ``distro``) and pinned libraries, as a distribution ships them.

    ``pins`` are exact requirements (``name==version``); what they need
    besides is resolved by pip once, when the wheelhouse is made. pip
    evaluates environment markers for the Python it runs on, not for the one
    it downloads for, so a dependency behind a marker (``python_version <
    "3.10"``) of the stack's Python is listed in ``marked``.
    """

    name: str
    distro: Distro
    pins: tuple[str, ...]
    marked: tuple[str, ...] = ()
    test_tools: tuple[str, ...] = TEST_TOOLS

    def versions(self) -> dict[str, str]:
        """The pinned versions by normalised project name."""
        found: dict[str, str] = {}
        for pin in self.pins:
            name, _, version = pin.partition("==")
            found[normalise(name)] = version
        return found


def normalise(name: str) -> str:
    """A project name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


# AlmaLinux/RHEL 9: Python 3.9 (Debian 11's is 3.9.2), EPEL 9's certbot,
# acme and josepy, and the base system's requests, urllib3, dnspython,
# cryptography and pyOpenSSL. configobj is left to pip: EL9's 5.0.6 is a
# source archive only on PyPI, and the wheelhouse takes wheels only.
EL9 = Stack(
    name="EL9",
    distro=BULLSEYE,
    pins=(
        "certbot==3.1.0",
        "acme==3.1.0",
        "josepy==1.14.0",
        "requests==2.25.1",
        "urllib3==1.26.5",
        "dnspython==2.1.0",
        "cryptography==36.0.1",
        "pyOpenSSL==21.0.0",
    ),
    # certbot's for Python older than 3.10, pytest's for older than 3.11
    marked=("importlib-metadata>=4.6", "exceptiongroup>=1", "tomli>=1"),
)


@dataclass(frozen=True)
class StackImage:
    """What a container of a stack boots from and installs from."""

    stack: Stack
    rootfs: Rootfs
    wheelhouse: Path


def ensure_stack(stack: Stack) -> StackImage:
    """The stack's root file system and wheelhouse, built first if this machine has none."""
    rootfs = ensure_rootfs(stack.distro)
    requirements = ["pip", "setuptools", "wheel", *stack.pins, *stack.marked, *stack.test_tools]
    return StackImage(stack, rootfs, ensure_wheelhouse(rootfs, requirements))


def installed_versions(container: Container, python: str) -> dict[str, str]:
    """Every distribution the interpreter ``python`` sees, by normalised name."""
    listed = container.run(
        [python, "-m", "pip", "list", "--format", "json"], env=OFFLINE_PIP, timeout=120
    )
    return {normalise(item["name"]): item["version"] for item in json.loads(listed.stdout)}


def make_venv(container: Container, stack: Stack, venv: str) -> dict[str, str]:
    """A virtual environment at ``venv`` with the stack's libraries and test tools.

    Returns what it holds (name -> version), after checking that every pin
    is what got installed.
    """
    container.run(["python3", "-m", "venv", venv])
    container.run(
        [f"{venv}/bin/pip", "install", "-q", *stack.pins, *stack.test_tools],
        env=OFFLINE_PIP,
        timeout=600,
    )
    versions = installed_versions(container, f"{venv}/bin/python")
    wrong = {
        name: versions.get(name)
        for name, pinned in stack.versions().items()
        if versions.get(name) != pinned
    }
    if wrong:
        raise HarnessError(f"{stack.name}: pip installed other versions than pinned: {wrong}")
    return versions


def run_pytest(
    container: Container,
    python: str,
    checkout: str,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in the checkout ``checkout`` (a copy of the repository).

    The project is imported from the checkout (``PYTHONPATH``), not
    installed, so that the tests exercise the tree at hand with exactly
    the stack's libraries. No bytecode and no cache are written into it.
    """
    environment = {
        "PYTHONPATH": checkout,
        "PYTHONDONTWRITEBYTECODE": "1",
        **(env or {}),
    }
    argv = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    return container.run(argv, env=environment, cwd=checkout, check=False, timeout=timeout)


def pytest_summary(output: str) -> str:
    """pytest's closing line ("12 passed, 1 skipped in 3.4s"), or "" if there is none."""
    lines = [line.strip("= ") for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"\b\d+ (passed|failed|error|errors|skipped)\b", line):
            return line
    return ""


def describe_versions(versions: Mapping[str, str], names: Sequence[str]) -> str:
    """``name version`` of each of ``names``, for the test output."""
    return ", ".join(f"{name} {versions.get(normalise(name), '(none)')}" for name in names)


__all__ = [
    "EL9",
    "OFFLINE_PIP",
    "Stack",
    "StackImage",
    "describe_versions",
    "ensure_stack",
    "installed_versions",
    "make_venv",
    "normalise",
    "pytest_summary",
    "run_pytest",
]
