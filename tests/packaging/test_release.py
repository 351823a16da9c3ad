"""A release can be cut: scripts/release-check passes and the release workflow is well formed.

scripts/release-check needs PyPI (it installs the oldest and the newest
certbot into clean venvs); inside scripts/in-netns it runs on the network the
tests were started from, as the container image's build does. Deselect with
``-m 'not release'`` where PyPI is out of reach.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import REPO_ROOT
from tests.harness.container import on_host_network

pytestmark = pytest.mark.release

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "release.yml"
BIN = Path(sys.executable).parent


def package_version() -> str:
    tree = ast.parse((REPO_ROOT / "certbot_dns_iijdpf" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
        ):
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError("certbot_dns_iijdpf/__init__.py sets no __version__")


def test_one_source_for_the_version() -> None:
    from importlib import metadata

    import certbot_dns_iijdpf

    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.MULTILINE)
    assert not re.search(r'^version = "', pyproject, re.MULTILINE)
    assert 'version = {attr = "certbot_dns_iijdpf.__version__"}' in pyproject
    assert certbot_dns_iijdpf.__version__ == package_version()
    assert metadata.version("certbot-dns-iijdpf") == package_version(), (
        "the installed metadata is stale: run scripts/bootstrap"
    )
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(package_version())}\b", changelog, re.MULTILINE)


def test_release_check_script() -> None:
    result = subprocess.run(
        on_host_network([str(REPO_ROOT / "scripts" / "release-check")]),
        cwd=REPO_ROOT,
        env={"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "PYTHON": sys.executable},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    version = package_version()
    assert "oldest: certbot 2.1.0" in output, output
    assert re.search(r"newest: certbot \d+\.\d+", output), output
    for name in ("oldest", "newest"):
        assert f"{name}: certbot plugins lists dns-iijdpf; certbot-dns-iijdpf {version}" in output


def test_release_check_refuses_a_tag_of_another_version() -> None:
    # Fails before building anything: no network needed.
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "release-check"), "--tag", "v0.0.0-not-this"],
        cwd=REPO_ROOT,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "PYTHON": sys.executable},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"tag v0.0.0-not-this is not v{package_version()}" in result.stderr


def test_release_workflow_passes_the_linters() -> None:
    schema = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", WORKFLOW],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", WORKFLOW],
        capture_output=True,
        text=True,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_release_workflow_publishes_with_trusted_publishing() -> None:
    text = WORKFLOW.read_text()
    assert re.search(r"^on:\n  push:\n    tags:\n      - \"v\*\"$", text, re.MULTILINE)
    assert "scripts/release-check --outdir dist --tag" in text
    assert re.search(r"uses: pypa/gh-action-pypi-publish@[0-9a-f]{40}\b", text)
    assert "id-token: write" in text
    assert re.search(r"environment:\n\s+name: pypi\n", text)
    assert not re.search(r"password|api[-_]token|secrets\.", text, re.IGNORECASE)
