"""Debian 13 (trixie): the Debian package built there, with trixie's certbot 4.0.0 on Python 3.13.

One trixie container (tests/harness/container.py, ``TRIXIE``) booted with
systemd, on the test's network:

- the README's build commands (``apt install dpkg-dev debhelper ...``,
  ``dpkg-buildpackage -us -uc -b``) run in a copy of the repository, with
  trixie's debhelper and pybuild; the README's ``apt install certbot
  ../python3-certbot-dns-iijdpf_*.deb`` installs it with trixie's certbot
  4.0.0 (from the image's apt cache: the container has no way out);
- trixie's /usr/bin/certbot issues through the DPF emulator and Pebble, and
  trixie's own certbot.service (what certbot.timer starts) renews, forced,
  with the deploy hooks reloading nginx and Apache;
- then the unit tests run with trixie's Python 3.13 and its certbot,
  requests and dnspython (python3-pytest from trixie too), from another copy
  of the repository (tests/harness/stacks.py, ``run_pytest``).

The phases are tests/e2e/test_systemd_renewal.py's and
tests/e2e/test_debian_package.py's.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_debian_package import PACKAGE
from tests.e2e.test_systemd_renewal import (
    CLONE,
    OFFLINE_PIP,
    check_plugins,
    check_timer,
    issue_and_serve,
    readme_commands,
    record,
    renew,
    trust_pebble,
)
from tests.harness import PKI, Diagnostics, Pebble
from tests.harness.container import (
    TRIXIE,
    Container,
    Rootfs,
    copy_source_tree,
    describe,
    ensure_rootfs,
    require_programs,
    watch,
)
from tests.harness.stacks import pytest_summary, run_pytest
from tests.packaging.test_release import package_version

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.systemd]

UNIT_CHECKOUT = "/root/unit-tests"


@pytest.fixture(scope="module")
def trixie_image() -> Rootfs:
    require_programs()
    return ensure_rootfs(TRIXIE)


@pytest.fixture(scope="module")
def trixie_container(
    tmp_path_factory: pytest.TempPathFactory, trixie_image: Rootfs
) -> Iterator[Container]:
    """One trixie boot for both tests: the unit tests need the package's libraries installed."""
    machine = Container(
        trixie_image.path,
        tmp_path_factory.mktemp("trixie") / "container",
        machine=f"certbot-trixie-{os.getpid()}",
    )
    with machine:
        yield machine


@pytest.fixture
def container(trixie_container: Container, diagnostics: Diagnostics) -> Container:
    machine = trixie_container
    watch(machine, diagnostics)
    return machine


def build_and_install(container: Container) -> str:
    """README, Installing, Debian / Ubuntu: dpkg-buildpackage in the clone, then apt install."""
    copy_source_tree(container.path(CLONE))
    container.write("/etc/apt/apt.conf.d/90e2e-assume-yes", 'APT::Get::Assume-Yes "true";\n')
    build = readme_commands("apt install dpkg-dev debhelper")
    built = container.sh(build, cwd=CLONE, env=OFFLINE_PIP, timeout=900)
    deb = f"python3-certbot-dns-iijdpf_{package_version()}_all.deb"
    assert container.path(f"{CLONE}/../{deb}").is_file(), describe(built)
    install = readme_commands("apt install certbot ../python3-certbot-dns-iijdpf_")
    assert f"../{deb}" in install
    done = container.sh(install, cwd=CLONE, env=OFFLINE_PIP, timeout=900)
    assert re.search(r"^\* dns-iijdpf$", done.stdout, re.MULTILINE), describe(done)
    status = container.run(["dpkg-query", "-W", "-f=${Status}", "python3-certbot-dns-iijdpf"])
    assert status.stdout == "install ok installed", describe(status)
    return deb


def test_debian_package_built_on_trixie_with_its_certbot_and_timer(
    container: Container,
    emulator: Emulator,
    pebble: Pebble,
    pki: PKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    python = container.run(["python3", "--version"])
    assert re.fullmatch(r"Python 3\.13\.\d+", python.stdout.strip()), describe(python)
    trust_pebble(container, pki)
    build_and_install(container)

    version = container.run(["/usr/bin/certbot", "--version"])
    assert version.stdout.strip() == "certbot 4.0.0", describe(version)
    check_plugins(container, PACKAGE)
    # trixie's units as shipped: no drop-in, no virtual environment.
    assert not container.path("/etc/systemd/system/certbot.service.d").exists()
    unit = container.run(["systemctl", "cat", "certbot.service"])
    assert "ExecStart=/usr/bin/certbot -q renew" in unit.stdout, describe(unit)
    assert "drop-in" not in unit.stdout.lower(), unit.stdout

    first = issue_and_serve(container, PACKAGE, emulator, pebble)
    renew(container, PACKAGE, first, capsys)
    check_timer(container, PACKAGE, capsys)
    enabled = container.run(["systemctl", "is-enabled", "certbot.timer"], check=False)
    assert enabled.stdout.strip() == "enabled", describe(enabled)
    record(capsys, "duration", f"{time.monotonic() - began:.0f} s in the container")


def test_unit_tests_with_trixies_python_and_libraries(
    container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    # certbot, requests and dnspython are trixie's, installed with the package
    # by the test above (or here, if it was deselected).
    container.sh(
        "apt-get install -y -q certbot python3-pytest python3-prometheus-client",
        env=OFFLINE_PIP,
        timeout=600,
    )
    shown = container.run(
        [
            "python3",
            "-c",
            "import certbot, requests, dns.version, urllib3, sys; "
            "print(sys.version.split()[0], certbot.__version__, requests.__version__, "
            "dns.version.version, urllib3.__version__)",
        ]
    )
    record(capsys, "Python, certbot, requests, dnspython, urllib3 (trixie)", shown.stdout)
    python, certbot = shown.stdout.split()[:2]
    assert python.startswith("3.13.") and certbot == "4.0.0", describe(shown)
    copy_source_tree(container.path(UNIT_CHECKOUT))
    result = run_pytest(container, "/usr/bin/python3", UNIT_CHECKOUT, ["tests/unit"])
    summary = pytest_summary(result.stdout)
    record(capsys, "pytest tests/unit on Python 3.13", summary)
    assert result.returncode == 0, describe(result)
    assert re.search(r"\b\d+ passed\b", summary) and "failed" not in summary, describe(result)
