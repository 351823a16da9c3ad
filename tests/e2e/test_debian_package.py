"""python3-certbot-dns-iijdpf in a Debian 12 system booted with systemd, with Debian's certbot.

The package is built on this machine from the tree (ensure_debian_package,
cached by the tree's digest next to the container image) and installed in the
container with the README's `apt install certbot ../python3-certbot-dns-iijdpf_*.deb`
(from the image's apt cache: the container has no way out). Then Debian's own
/usr/bin/certbot issues through the DPF emulator and Pebble, and Debian's own
certbot.service (what certbot.timer starts) renews with the deploy hooks: no
virtual environment, no drop-in.

Before the package, the README's CERTBOT_PLUGIN_PATH route is shown to work
with the same certbot: the wheel unpacked into a directory that certbot adds
to its search path.
"""

from __future__ import annotations

import re
import shutil
import time
from typing import TYPE_CHECKING

import pytest

from tests.e2e import test_systemd_renewal as renewal
from tests.e2e.test_systemd_renewal import (
    CLONE,
    OFFLINE_PIP,
    Route,
    check_plugins,
    check_timer,
    issue_and_serve,
    readme_commands,
    record,
    renew,
    trust_pebble,
)
from tests.harness import PKI, Pebble
from tests.harness.container import (
    Container,
    DebianBuild,
    copy_source_tree,
    describe,
    ensure_debian_package,
)

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.systemd]

# The container machinery of the renewal test, shared.
system_image = renewal.system_image
container = renewal.container

PACKAGE = Route("/usr/bin/certbot", "certbot.service", "certbot.timer")
PLUGIN_PATH = "/opt/certbot-plugins"


@pytest.fixture(scope="session")
def debian_package() -> DebianBuild:
    return ensure_debian_package()


def lists_the_plugin(container: Container, env: dict[str, str] | None = None) -> bool:
    plugins = container.run(["/usr/bin/certbot", "plugins"], env=env)
    return bool(re.search(r"^\* dns-iijdpf$", plugins.stdout, re.MULTILINE))


def plugin_path_route(container: Container, built: DebianBuild) -> None:
    """README: CERTBOT_PLUGIN_PATH with Debian's certbot; then undone again."""
    container.path(f"{CLONE}/dist").mkdir(parents=True)
    shutil.copy(built.wheel, container.path(f"{CLONE}/dist"))
    block = readme_commands("CERTBOT_PLUGIN_PATH=/opt/certbot-plugins certbot plugins")
    assert f"dist/{built.wheel.name}" in block
    done = container.sh(block, cwd=CLONE, env=OFFLINE_PIP)
    assert re.search(r"^\* dns-iijdpf$", done.stdout, re.MULTILINE), describe(done)
    assert not lists_the_plugin(container), "found without CERTBOT_PLUGIN_PATH"
    assert lists_the_plugin(container, {"CERTBOT_PLUGIN_PATH": PLUGIN_PATH})
    shown = container.run(["systemctl", "show", "certbot.service", "--property=Environment"])
    assert f"CERTBOT_PLUGIN_PATH={PLUGIN_PATH}" in shown.stdout, describe(shown)
    # Undone, so that what follows proves the package alone.
    container.sh(
        f"rm -rf {PLUGIN_PATH} /etc/systemd/system/certbot.service.d\nsystemctl daemon-reload"
    )
    assert not lists_the_plugin(container)


def install_the_package(container: Container, built: DebianBuild) -> None:
    """README, Installing, Debian / Ubuntu: the package, next to the clone it was built in."""
    shutil.copy(built.deb, container.path(f"{CLONE}/.."))
    install = readme_commands("apt install certbot ../python3-certbot-dns-iijdpf_")
    assert f"../{built.deb.name}" in install
    done = container.sh(install, cwd=CLONE, env=OFFLINE_PIP)
    assert re.search(r"^\* dns-iijdpf$", done.stdout, re.MULTILINE), describe(done)
    status = container.run(["dpkg-query", "-W", "-f=${Status}", "python3-certbot-dns-iijdpf"])
    assert status.stdout == "install ok installed", describe(status)


def test_debian_package_with_debians_certbot_and_its_timer(
    container: Container,
    debian_package: DebianBuild,
    emulator: Emulator,
    pebble: Pebble,
    pki: PKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    trust_pebble(container, pki)
    copy_source_tree(container.path(CLONE))
    container.write("/etc/apt/apt.conf.d/90e2e-assume-yes", 'APT::Get::Assume-Yes "true";\n')

    plugin_path_route(container, debian_package)
    install_the_package(container, debian_package)

    version = container.run(["/usr/bin/certbot", "--version"])
    assert version.stdout.strip() == "certbot 2.1.0", describe(version)
    check_plugins(container, PACKAGE)
    # Debian's units as shipped: no drop-in, no virtual environment.
    assert not container.path("/etc/systemd/system/certbot.service.d").exists()
    assert not container.path("/opt/certbot-iijdpf").exists()
    assert not container.path("/opt/certbot").exists()
    unit = container.run(["systemctl", "cat", "certbot.service"])
    assert "ExecStart=/usr/bin/certbot -q renew" in unit.stdout, describe(unit)
    assert "# /lib/systemd/system/certbot.service" in unit.stdout
    assert "drop-in" not in unit.stdout.lower(), unit.stdout

    first = issue_and_serve(container, PACKAGE, emulator, pebble)
    renew(container, PACKAGE, first, capsys)
    check_timer(container, PACKAGE, capsys)
    enabled = container.run(["systemctl", "is-enabled", "certbot.timer"], check=False)
    assert enabled.stdout.strip() == "enabled", describe(enabled)
    record(capsys, "duration", f"{time.monotonic() - began:.0f} s in the container")
