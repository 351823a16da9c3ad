"""The plugin on EL9's Python 3.9 and libraries, and its renewal unit under systemd 247.

AlmaLinux/RHEL 9 run EPEL's certbot 3.1.0 on Python 3.9 with the base
system's requests 2.25.1 and urllib3 1.26 (tests/harness/stacks.py, ``EL9``,
says which versions and why). Debian 11 has the same Python and systemd
247, the oldest systemd reachable here (EL8 has 239), so one booted Debian 11
container (tests/harness/container.py, ``BULLSEYE``) with a wheelhouse of
exactly EL9's versions proves both:

- the unit tests (tests/unit) pass on that Python with those libraries, the
  project imported from a copy of the repository, every module of the package
  imports and its commands (probe, check) start;
- the README's virtual environment route, run unchanged, installs certbot
  3.1.0 with those libraries; contrib/systemd/'s certbot-renew.service starts
  on a fresh install, the first certificate is issued (the emulator + Pebble
  on the test's network), the renewal is forced and run by systemd, the
  deploy hooks reload nginx and Apache, which then serve the new
  certificate, and with the DPF API down the renewal fails with the reason in
  the journal.

The phases reuse tests/e2e/test_systemd_renewal.py's functions, which run
the README's command blocks.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_systemd_renewal import (
    VENV,
    check_plugins,
    check_timer,
    fail_with_the_api_down,
    install_in_a_venv,
    issue_and_serve,
    record,
    renew,
    start_unit,
    trust_pebble,
)
from tests.harness import PKI, Diagnostics, Pebble
from tests.harness.container import (
    WHEELHOUSE_IN_CONTAINER,
    Container,
    copy_source_tree,
    describe,
    require_programs,
    watch,
)
from tests.harness.stacks import (
    EL9,
    StackImage,
    describe_versions,
    ensure_stack,
    installed_versions,
    make_venv,
    pytest_summary,
    run_pytest,
)

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.systemd]

UNIT_CHECKOUT = "/root/unit-tests"
UNIT_VENV = "/opt/el9-tests"
SHOWN = ("certbot", "acme", "josepy", "requests", "urllib3", "dnspython", "cryptography")
STATUS_BY_NAME = "[Manager]\nStatusUnitFormat=name\n"


@pytest.fixture(scope="module")
def el9_image() -> StackImage:
    require_programs()
    return ensure_stack(EL9)


@pytest.fixture(scope="module")
def el9_container(
    tmp_path_factory: pytest.TempPathFactory, el9_image: StackImage
) -> Iterator[Container]:
    """One Debian 11 boot for both tests: the unit tests use paths of their own."""
    machine = Container(
        el9_image.rootfs.path,
        tmp_path_factory.mktemp("el9") / "container",
        machine=f"certbot-el9-{os.getpid()}",
        read_only_binds={el9_image.wheelhouse: WHEELHOUSE_IN_CONTAINER},
    )
    with machine:
        yield machine


@pytest.fixture
def container(el9_container: Container, diagnostics: Diagnostics) -> Container:
    machine = el9_container
    watch(machine, diagnostics)
    return machine


def test_the_container_is_el9s_python_and_systemd(container: Container) -> None:
    python = container.run(["python3", "--version"])
    assert re.fullmatch(r"Python 3\.9\.\d+", python.stdout.strip()), describe(python)
    systemd = container.run(["systemctl", "--version"])
    assert systemd.stdout.startswith("systemd 247 "), describe(systemd)


@pytest.fixture(scope="module")
def unit_venv(el9_container: Container) -> dict[str, str]:
    """EL9's libraries and pytest in a venv, and a copy of the repository beside it."""
    versions = make_venv(el9_container, EL9, UNIT_VENV)
    copy_source_tree(el9_container.path(UNIT_CHECKOUT))
    return versions


def test_unit_tests_with_el9s_libraries(
    container: Container, unit_venv: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    record(capsys, "EL9 stack (unit tests)", describe_versions(unit_venv, SHOWN))
    result = run_pytest(container, f"{UNIT_VENV}/bin/python", UNIT_CHECKOUT, ["tests/unit"])
    summary = pytest_summary(result.stdout)
    record(capsys, "pytest tests/unit on Python 3.9", summary)
    assert result.returncode == 0, describe(result)
    assert re.search(r"\b\d+ passed\b", summary) and "failed" not in summary, describe(result)


# Every module of the package, not only those the unit tests reach.
IMPORT_ALL = """
import importlib, pkgutil, certbot_dns_iijdpf
names = [m.name for m in pkgutil.walk_packages(certbot_dns_iijdpf.__path__, "certbot_dns_iijdpf.")]
for name in names:
    if name != "certbot_dns_iijdpf.__main__":
        importlib.import_module(name)
print(len(names))
"""


def test_every_module_imports_and_the_commands_start_on_python39(
    container: Container, unit_venv: dict[str, str]
) -> None:
    python = f"{UNIT_VENV}/bin/python"
    env = {"PYTHONPATH": UNIT_CHECKOUT, "PYTHONDONTWRITEBYTECODE": "1"}
    imported = container.run([python, "-c", IMPORT_ALL], env=env, check=False)
    assert imported.returncode == 0, describe(imported)
    assert int(imported.stdout.strip()) > 20, describe(imported)
    version = container.run([python, "-m", "certbot_dns_iijdpf", "--version"], env=env)
    assert re.fullmatch(r"certbot-dns-iijdpf \S+", version.stdout.strip()), describe(version)
    for command in ("probe", "check"):
        shown = container.run([python, "-m", "certbot_dns_iijdpf", command, "--help"], env=env)
        assert shown.stdout.startswith("usage: "), describe(shown)


def test_venv_route_and_contrib_units_under_systemd_247(
    container: Container,
    emulator: Emulator,
    pebble: Pebble,
    pki: PKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    # systemd 247 logs a finished job by the unit's description ("Finished
    # Renew certificates with certbot."), later ones by name and description;
    # the shared checks look for the name, which this setting makes 247 log.
    container.write("/etc/systemd/system.conf.d/e2e-unit-names.conf", STATUS_BY_NAME)
    container.run(["systemctl", "daemon-reexec"])
    trust_pebble(container, pki)
    install_in_a_venv(container)
    # The README installs certbot unpinned; the wheelhouse holds EL9's versions only.
    versions = installed_versions(container, "/opt/certbot/bin/python")
    record(capsys, "EL9 stack (/opt/certbot)", describe_versions(versions, SHOWN))
    for name, pinned in EL9.versions().items():
        assert versions.get(name) == pinned, (name, versions.get(name), pinned)
    shown = container.run(["/opt/certbot/bin/certbot", "--version"])
    assert shown.stdout.strip() == "certbot 3.1.0", describe(shown)

    # A fresh install: the service must start under its sandbox before
    # certbot ever ran (StateDirectory= and friends, as systemd 247 has them).
    for directory in ("/etc/letsencrypt", "/var/lib/letsencrypt", "/var/log/letsencrypt"):
        assert not container.path(directory).exists(), directory
    fresh = start_unit(container, VENV.service)
    assert fresh.started.returncode == 0 and fresh.result == "success", fresh.explain()

    check_plugins(container, VENV)
    first = issue_and_serve(container, VENV, emulator, pebble)
    second = renew(container, VENV, first, capsys)
    check_timer(container, VENV, capsys)
    # systemd 247 knows every directive of the units: none was ignored (247 says
    # "Unknown key name 'X' in section 'Service', ignoring.", 239 "Unknown lvalue").
    loaded = container.journal("-b", "-u", VENV.service, "-u", VENV.timer)
    assert not re.search(r"Unknown (key name|lvalue)", loaded), loaded
    fail_with_the_api_down(container, VENV, emulator, second, capsys)
    record(capsys, "duration", f"{time.monotonic() - began:.0f} s in the container")
