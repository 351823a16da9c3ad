"""debian/: python3-certbot-dns-iijdpf builds with Debian's tools and is lintian clean.

The package is built once per change of the tree (tests/harness/container.py,
ensure_debian_package), as README.md says: `dpkg-buildpackage -us -uc -b`.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.e2e.test_systemd_renewal import readme_commands
from tests.harness import REPO_ROOT
from tests.harness.container import DebianBuild, ensure_debian_package
from tests.packaging.test_release import package_version

CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}


@pytest.fixture(scope="module")
def built() -> DebianBuild:
    return ensure_debian_package()


def test_debian_changelog_is_the_package_version() -> None:
    first = (REPO_ROOT / "debian" / "changelog").read_text().splitlines()[0]
    assert first.startswith(f"certbot-dns-iijdpf ({package_version()}) "), first


def test_the_readme_builds_and_installs_it_as_the_tests_do(built: DebianBuild) -> None:
    build = readme_commands("apt install dpkg-dev debhelper")
    assert "dpkg-buildpackage -us -uc -b\n" in build
    for package in ("dpkg-dev", "debhelper", "dh-python", "pybuild-plugin-pyproject"):
        assert package in build
    install = readme_commands("apt install certbot ../python3-certbot-dns-iijdpf_")
    assert f"../{built.deb.name}" in install


def test_lintian_clean(built: DebianBuild) -> None:
    result = subprocess.run(
        ["lintian", "--info", "--fail-on", "error,warning", str(built.changes), str(built.dsc)],
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    tags = [line for line in result.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert result.returncode == 0 and not tags, result.stdout + result.stderr


def fields(deb: Path) -> dict[str, str]:
    shown = subprocess.run(
        ["dpkg-deb", "--field", str(deb)], env=CLEAN_ENV, capture_output=True, text=True
    )
    return dict(line.split(": ", 1) for line in shown.stdout.splitlines() if ": " in line[:40])


def test_depends_on_debians_certbot_abi_and_ships_the_entry_point(built: DebianBuild) -> None:
    control = fields(built.deb)
    assert control["Package"] == "python3-certbot-dns-iijdpf"
    assert control["Version"] == package_version()
    assert control["Architecture"] == "all"
    depends = [d.strip() for d in control["Depends"].split(",")]
    assert "python3-certbot-abi-2 | python3-certbot-abi-3 | python3-certbot-abi-4" in depends
    assert "python3-requests" in depends and "python3-dnspython" in depends
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(built.deb)], env=CLEAN_ENV, capture_output=True, text=True
    ).stdout
    dist_info = f"./usr/lib/python3/dist-packages/certbot_dns_iijdpf-{package_version()}.dist-info"
    assert f"{dist_info}/entry_points.txt" in listing, listing
    assert "./usr/lib/python3/dist-packages/certbot_dns_iijdpf/authenticator.py" in listing
    assert "./usr/lib/python3/dist-packages/certbot_dns_iijdpf/_internal/publisher.py" in listing
    assert "/tests/" not in listing
    extracted = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(built.deb)], env=CLEAN_ENV, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(extracted)) as tar:
        member = tar.extractfile(f"{dist_info}/entry_points.txt")
        assert member is not None
        entry_points = member.read().decode()
    assert "[certbot.plugins]" in entry_points
    assert "dns-iijdpf = certbot_dns_iijdpf.authenticator:Authenticator" in entry_points
