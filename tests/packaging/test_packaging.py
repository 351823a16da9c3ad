"""The distribution builds as an sdist and a wheel that PyPI accepts and certbot finds."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.harness import REPO_ROOT


def test_sdist_and_wheel_build_and_pass_twine_check(tmp_path: Path) -> None:
    # --no-isolation: the tests may run without network access.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheels = list(tmp_path.glob("certbot_dns_iijdpf-*.whl"))
    sdists = list(tmp_path.glob("certbot[-_]dns[-_]iijdpf-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(tmp_path.iterdir())
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, wheels + sdists)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr

    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        assert "certbot_dns_iijdpf/py.typed" in names
        assert "certbot_dns_iijdpf/_internal/publisher.py" in names
        assert not any(n.startswith("tests/") for n in names)
        meta = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = wheel.read(meta).decode()
        assert "[certbot.plugins]" in entry_points
        assert "dns-iijdpf = certbot_dns_iijdpf.authenticator:Authenticator" in entry_points
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        assert "Requires-Dist: certbot>=2.1.0" in metadata
        assert "zope" not in metadata.lower()


def test_loading_the_plugin_does_not_import_its_working_modules() -> None:
    # certbot loads every plugin on every run; only the glue and the light
    # modules it needs to describe its options may load then.
    code = (
        "import sys, certbot_dns_iijdpf.authenticator as a; a.Authenticator; "
        "print(' '.join(m for m in sys.modules if m.startswith(('dns', 'certbot_dns_iijdpf'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert set(loaded) == {
        "certbot_dns_iijdpf",
        "certbot_dns_iijdpf.authenticator",
        "certbot_dns_iijdpf._internal",
        "certbot_dns_iijdpf._internal.endpoint",
        "certbot_dns_iijdpf._internal.errors",
        "certbot_dns_iijdpf._internal.settings",
    }, loaded
