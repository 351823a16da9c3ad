"""rpm/: the RPM builds with rpmbuild, is rpmlint clean, and holds what EPEL's certbot needs.

The spec is built here with Debian's rpm (no Fedora Python macros, so its
fallback route: pip wheel, pip install --target into Fedora's site-packages
layout) from a tarball of the tree as a fresh clone has it, once per change
of the tree, next to the Debian package in the cache. ``--nodeps`` because
the build requirements are RPMs, which Debian's rpm database has none of.

What the built package is read for: the explicit Requires with the floors of
pyproject.toml; what rpm's Python generators (which Debian's rpm has too)
add from the dist-info: python(abi), python3.Ydist() requirements and the
python3dist(certbot-dns-iijdpf) provide; the files: the package, the
dist-info with the entry point EPEL's /usr/bin/certbot looks for, the licence
and the docs. rpmlint reports no errors (with rpm/'s rpmlintrc, which applies
Fedora's rpmlint policy that Debian's rpmlint lacks).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.test_systemd_renewal import readme_commands
from tests.harness import REPO_ROOT, HarnessError
from tests.harness.container import ROOTFS_CACHE, _locked, _tree_digest, copy_source_tree
from tests.harness.process import tail
from tests.packaging.test_release import package_version

SPEC = REPO_ROOT / "rpm" / "python-certbot-dns-iijdpf.spec"
RPMLINTRC = REPO_ROOT / "rpm" / "python-certbot-dns-iijdpf.rpmlintrc"
RPM_PROGRAMS = ("rpmbuild", "rpm", "rpmspec", "rpmlint")
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}
# pyproject.toml's project names and the Fedora/EPEL packages that provide them.
FEDORA_NAMES = {
    "certbot": "python3-certbot",
    "requests": "python3-requests",
    "dnspython": "python3-dns",
}
ENTRY_POINT = "dns-iijdpf = certbot_dns_iijdpf.authenticator:Authenticator"


@dataclass(frozen=True)
class RpmBuild:
    directory: Path
    rpm: Path
    srpm: Path
    log: Path


def ensure_rpm_package(cache: Path = ROOTFS_CACHE, timeout: float = 600) -> RpmBuild:
    """``rpmbuild -ba`` of rpm/'s spec on a tarball of this tree, once per change of its files."""
    missing = [name for name in RPM_PROGRAMS if shutil.which(name, path=CLEAN_ENV["PATH"]) is None]
    if missing:
        raise HarnessError(f"not installed: {', '.join(missing)}; scripts/bootstrap installs them")
    cache.mkdir(parents=True, exist_ok=True)
    version = package_version()
    top = f"certbot-dns-iijdpf-{version}"
    staging = Path(tempfile.mkdtemp(prefix=".rpm-source-", dir=cache))
    try:
        source = copy_source_tree(staging / top)
        final = cache / f"rpm-package-{_tree_digest(source)}"
        with _locked(cache / ".lock"):
            if not final.is_dir():
                topdir = staging / "rpmbuild"
                (topdir / "SOURCES").mkdir(parents=True)
                # What the README's `git archive --prefix=<top>/` makes of a clone.
                with tarfile.open(topdir / "SOURCES" / f"{top}.tar.gz", "w:gz") as tar:
                    tar.add(source, arcname=top)
                log = staging / "rpmbuild.log"
                argv = [
                    "rpmbuild",
                    "-ba",
                    "--nodeps",
                    "--define",
                    f"_topdir {topdir}",
                    str(source / "rpm" / SPEC.name),
                ]
                with log.open("w") as out:
                    out.write(f"$ {shlex.join(argv)}\n")
                    out.flush()
                    result = subprocess.run(
                        argv,
                        cwd=staging,
                        env=CLEAN_ENV,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        timeout=timeout,
                        check=False,
                    )
                if result.returncode != 0:
                    raise HarnessError(
                        f"rpmbuild failed (exit {result.returncode})\n--- {log} ---\n"
                        f"{tail(log.read_text(errors='replace'))}"
                    )
                for built in [*topdir.glob("RPMS/*/*.rpm"), *topdir.glob("SRPMS/*.rpm")]:
                    shutil.move(built, staging / built.name)
                shutil.rmtree(topdir)
                shutil.rmtree(source)
                building = cache / f".building-{final.name}"
                shutil.rmtree(building, ignore_errors=True)
                staging.rename(building)
                staging = building
                building.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    def one(pattern: str) -> Path:
        found = sorted(final.glob(pattern))
        if len(found) != 1:
            raise HarnessError(f"{final}: {len(found)} files match {pattern}")
        return found[0]

    return RpmBuild(
        directory=final,
        rpm=one(f"python3-certbot-dns-iijdpf-{version}-1.noarch.rpm"),
        srpm=one(f"python-certbot-dns-iijdpf-{version}-1.src.rpm"),
        log=final / "rpmbuild.log",
    )


@pytest.fixture(scope="module")
def built() -> RpmBuild:
    return ensure_rpm_package()


def run(argv: Sequence[str]) -> str:
    result = subprocess.run(
        list(argv), env=CLEAN_ENV, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, f"{shlex.join(argv)}: {result.stdout}{result.stderr}"
    return result.stdout


def query(package: Path, *options: str) -> list[str]:
    return run(["rpm", "-qp", *options, str(package)]).splitlines()


def pyproject_floors() -> dict[str, str]:
    """``name: floor`` of every runtime dependency in pyproject.toml."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[\n(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert block, "pyproject.toml: no dependencies list"
    floors = dict(re.findall(r'^\s*"([A-Za-z0-9_.-]+)>=([0-9.]+)",', block.group(1), re.MULTILINE))
    assert set(floors) == set(FEDORA_NAMES), floors
    return floors


def sitelib(listing: list[str]) -> str:
    found = {
        m.group(0) for p in listing if (m := re.match(r"/usr/lib/python3\.\d+/site-packages", p))
    }
    assert len(found) == 1, listing
    return found.pop()


def test_spec_is_the_package_version_with_a_changelog_entry() -> None:
    shown = run(["rpmspec", "-q", "--srpm", "--qf", "%{name} %{version} %{license}\n", str(SPEC)])
    assert shown.split() == ["python-certbot-dns-iijdpf", package_version(), "Apache-2.0"]
    changelog = SPEC.read_text().split("%changelog\n", 1)[1].splitlines()[0]
    assert changelog.endswith(f" - {package_version()}-1"), changelog


def test_spec_requires_the_floors_of_pyproject() -> None:
    text = SPEC.read_text()
    for name, floor in pyproject_floors().items():
        fedora = FEDORA_NAMES[name]
        assert re.search(rf"^Requires:\s+{fedora} >= {re.escape(floor)}$", text, re.MULTILINE), (
            f"the spec's Requires on {fedora} is not >= {floor} (pyproject.toml)"
        )
        # EL9 skips the generated build requirements; the import check needs them.
        assert re.search(
            rf"^BuildRequires:\s+{fedora} >= {re.escape(floor)}$", text, re.MULTILINE
        ), f"the spec's EL9 BuildRequires on {fedora} is not >= {floor}"


@pytest.mark.parametrize(
    ("defines", "taken", "not_taken"),
    [
        # Fedora and EL10: the macros' route (stand-ins for the macros here).
        (
            {"fedora": "42", "pyproject_wheel": "PYPROJECT-WHEEL", "pyproject_install": "X"},
            ["PYPROJECT-WHEEL", "BuildRequires:  pyproject-rpm-macros"],
            ["pip wheel", "python3.11 -m pip", "python3.11-setuptools"],
        ),
        # EL9: python3.11's setuptools builds the wheel, the macros install it.
        (
            {"rhel": "9", "pyproject_wheel": "PYPROJECT-WHEEL", "pyproject_install": "X"},
            ["python3.11 -m pip wheel", "BuildRequires:  python3.11-setuptools"],
            ["PYPROJECT-WHEEL"],
        ),
        # Debian's rpm: no macros, the fallback.
        ({}, ["/usr/bin/python3 -m pip wheel", "pip install --no-deps"], ["pyproject-rpm-macros"]),
    ],
    ids=["fedora", "el9", "fallback"],
)
def test_each_build_host_takes_its_route(
    defines: dict[str, str], taken: list[str], not_taken: list[str]
) -> None:
    argv = ["rpmspec", "--parse"]
    for name, value in defines.items():
        argv += ["--define", f"{name} {value}"]
    parsed = run([*argv, str(SPEC)])
    for text in taken:
        assert text in parsed, f"{defines}: {text!r} not in the parsed spec"
    for text in not_taken:
        assert text not in parsed, f"{defines}: {text!r} in the parsed spec"


def test_requires_and_provides(built: RpmBuild) -> None:
    assert query(built.rpm, "--qf", "%{name} %{arch} %{license}\n") == [
        "python3-certbot-dns-iijdpf noarch Apache-2.0"
    ]
    requires = query(built.rpm, "--requires")
    for name, floor in pyproject_floors().items():
        assert f"{FEDORA_NAMES[name]} >= {floor}" in requires, requires
    # rpm's own Python generators (pythondist.attr, python.attr), from the
    # dist-info and the path: the build host's Python version (3.11 here, 3.9
    # on EL9), the floors with trailing zeros dropped.
    version = sitelib(query(built.rpm, "--list")).removeprefix("/usr/lib/python")
    version = version.removesuffix("/site-packages")
    assert f"python(abi) = {version}" in requires, requires
    generated = {line.split(" ")[0] for line in requires if "dist(" in line}
    assert generated == {f"python{version}dist({name})" for name in FEDORA_NAMES}, requires
    provides = query(built.rpm, "--provides")
    assert f"python3-certbot-dns-iijdpf = {package_version()}-1" in provides, provides
    short = re.sub(r"(\.0)+$", "", package_version())
    assert f"python3dist(certbot-dns-iijdpf) = {short}" in provides, provides
    assert query(built.rpm, "--enhances") == ["certbot"]


def test_files_hold_the_package_entry_point_licence_and_docs(built: RpmBuild) -> None:
    listing = query(built.rpm, "--list")
    site = sitelib(listing)
    dist_info = f"{site}/certbot_dns_iijdpf-{package_version()}.dist-info"
    for path in (
        f"{site}/certbot_dns_iijdpf/authenticator.py",
        f"{site}/certbot_dns_iijdpf/_internal/publisher.py",
        f"{site}/certbot_dns_iijdpf/py.typed",
        f"{dist_info}/METADATA",
        f"{dist_info}/entry_points.txt",
        f"/usr/share/licenses/python3-certbot-dns-iijdpf-{package_version()}/LICENSE",
    ):
        assert path in listing, path
    docs = f"/usr/share/doc/python3-certbot-dns-iijdpf-{package_version()}"
    for name in ("README.md", "README.ja.md", "CHANGELOG.md", "contrib/README.md"):
        assert f"{docs}/{name}" in listing, name
    assert f"{docs}/contrib/renewal-hooks/deploy/reload-nginx" in listing
    assert not [path for path in listing if "/tests/" in path or path.endswith("/RECORD")]
    # Byte-compiled as Fedora's buildroots do, so that root's certbot does not
    # write caches into directories rpm does not own.
    assert any(path.endswith(".pyc") for path in listing), listing
    assert set(query(built.rpm, "--licensefiles")) == {
        f"/usr/share/licenses/python3-certbot-dns-iijdpf-{package_version()}/LICENSE"
    }

    payload = subprocess.run(
        ["rpm2cpio", str(built.rpm)], env=CLEAN_ENV, capture_output=True, check=True, timeout=60
    ).stdout
    extracted = Path(tempfile.mkdtemp())
    try:
        subprocess.run(
            ["cpio", "-idm", "--quiet"],
            input=payload,
            cwd=extracted,
            env=CLEAN_ENV,
            check=True,
            timeout=60,
        )
        entry_points = (extracted / dist_info.lstrip("/") / "entry_points.txt").read_text()
        installer = (extracted / dist_info.lstrip("/") / "INSTALLER").read_text()
    finally:
        shutil.rmtree(extracted)
    assert "[certbot.plugins]" in entry_points
    assert ENTRY_POINT in entry_points, entry_points
    assert installer.strip() == "rpm"


def test_check_section_found_the_entry_point(built: RpmBuild) -> None:
    log = built.log.read_text()
    assert "Executing(%check)" in log
    assert 'ep.group == "certbot.plugins" and ep.name == "dns-iijdpf"' in log


def test_rpmlint_reports_no_errors(built: RpmBuild) -> None:
    result = subprocess.run(
        ["rpmlint", "-r", str(RPMLINTRC), str(built.rpm), str(built.srpm), str(SPEC)],
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if re.search(r": E: ", line)]
    summary = re.search(r"(\d+) errors, (\d+) warnings", result.stdout)
    assert summary, result.stdout + result.stderr
    assert summary.group(1) == "0" and not errors, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    # The one warning left: Source0 is not a URL until the first release is on PyPI.
    warnings = [line for line in result.stdout.splitlines() if re.search(r": W: ", line)]
    assert all("invalid-url Source0:" in line for line in warnings), warnings


def test_readme_builds_it_as_the_tests_do() -> None:
    block = readme_commands("rpmbuild -bb rpm/python-certbot-dns-iijdpf.spec")
    top = f"certbot-dns-iijdpf-{package_version()}"
    assert f"git archive --prefix={top}/ -o ~/rpmbuild/SOURCES/{top}.tar.gz HEAD" in block
    for package in ("rpm-build", "pyproject-rpm-macros", "python3-devel"):
        assert package in block
    assert "certbot-renew" not in block, "the EL route never copies contrib/systemd/'s units"
    assert block.count("rpmbuild -bb") == 1
