"""certbot with this plugin, Pebble and the DPF emulator: issuance, renewal, several zones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.dpf_emulator import RecordSpec, ZoneSpec
from tests.e2e.plugin_support import (
    certonly,
    challenge_rows,
    credentials,
    output,
    snapshot,
    wait_until_served,
)
from tests.harness import VENVS, CertbotRunner, Pebble
from tests.harness.dpf import CHALLENGE_NAME, SERVICE_CODE, TOKEN, ZONE

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e


def test_wildcard_and_apex_then_forced_renewal_runs_deploy_hook(
    emulator: Emulator, certbot_runner: CertbotRunner, tmp_path: Path
) -> None:
    # A relative path, as typed in a shell; the timer later runs from "/".
    credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    hook_out = tmp_path / "deployed.txt"
    hook = f'echo "$RENEWED_DOMAINS" >> {hook_out}'

    result = certonly(
        certbot_runner, "iijdpf.ini", ["*.example.com", "example.com"], "--deploy-hook", hook
    )
    assert result.returncode == 0, certbot_runner.describe(result)
    assert certbot_runner.cert_sans("example.com") == {"example.com", "*.example.com"}
    first_serial = certbot_runner.live_cert("example.com").serial_number

    conf = certbot_runner.renewal_conf("example.com")
    assert "authenticator = dns-iijdpf" in conf
    assert f"dns_iijdpf_credentials = {certbot_runner.base_dir / 'iijdpf.ini'}" in conf
    # One apply to publish both values, one to remove them.
    assert emulator.applies(ZONE) == 2
    assert challenge_rows(emulator, ZONE) == []
    assert wait_until_served(emulator, CHALLENGE_NAME, []) == [[], []]

    renewed = certbot_runner.run(["renew", "--force-renewal"])
    assert renewed.returncode == 0, certbot_runner.describe(renewed)
    assert certbot_runner.live_cert("example.com").serial_number != first_serial
    assert hook_out.read_text().split("\n")[-2].split() in (
        ["*.example.com", "example.com"],
        ["example.com", "*.example.com"],
    )
    assert emulator.applies(ZONE) == 4
    assert challenge_rows(emulator, ZONE) == []


def test_names_in_two_zones_in_one_certificate(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(
        zones=[
            ZoneSpec(name=ZONE, service_code=SERVICE_CODE),
            ZoneSpec(name="example.net.", service_code="dpm00000002"),
            # A delegated sub-zone: its names must go there, not to example.net.
            ZoneSpec(name="sub.example.net.", service_code="dpm00000003"),
        ]
    )
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    domains = ["example.com", "www.example.net", "*.sub.example.net"]
    result = certonly(certbot_runner, ini, domains)
    assert result.returncode == 0, certbot_runner.describe(result)
    assert certbot_runner.cert_sans("example.com") == set(domains)
    assert [emulator.applies(z) for z in (ZONE, "example.net.", "sub.example.net.")] == [
        2,
        2,
        2,
    ]
    for zone in (ZONE, "example.net.", "sub.example.net."):
        assert challenge_rows(emulator, zone) == []


def test_other_records_and_an_unrelated_challenge_value_are_left_as_they_were(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    unrelated = '"kept-by-another-tool"'
    zone = ZoneSpec(
        name=ZONE,
        service_code=SERVICE_CODE,
        records=[
            RecordSpec(CHALLENGE_NAME, "TXT", [unrelated], ttl=120, description="x"),
            RecordSpec("example.com.", "TXT", ['"v=spf1 -all"']),
            RecordSpec("www.example.com.", "A", ["192.0.2.10"]),
            RecordSpec("example.com.", "MX", ["10 mail.example.com."]),
        ],
    )
    emulator = emulator_factory(zones=[zone])
    before = snapshot(emulator, ZONE)
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)

    result = certonly(certbot_runner, ini, ["*.example.com", "example.com", "www.example.com"])
    assert result.returncode == 0, certbot_runner.describe(result)
    assert snapshot(emulator, ZONE) == before
    assert wait_until_served(emulator, CHALLENGE_NAME, [unrelated]) == [
        [unrelated],
        [unrelated],
    ]


def test_lego_style_environment_works_without_a_credentials_file(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    env = {
        "IIJ_DPF_API_TOKEN": TOKEN,
        "IIJ_DPF_DPM_SERVICE_CODE": SERVICE_CODE,
        "IIJ_DPF_API_ENDPOINT": emulator.api_url,
    }
    result = certonly(certbot_runner, None, ["example.com"], env=env)
    assert result.returncode == 0, certbot_runner.describe(result)
    assert "renewal timer will not have these variables" in output(result)
    assert challenge_rows(emulator, ZONE) == []


def test_ten_names_cost_one_apply_per_phase(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    domains = [f"host{i}.example.com" for i in range(10)]
    result = certonly(certbot_runner, ini, domains)
    assert result.returncode == 0, certbot_runner.describe(result)
    assert certbot_runner.cert_sans("host0.example.com") == set(domains)
    assert emulator.applies(ZONE) == 2
    assert challenge_rows(emulator, ZONE) == []


def test_debian_12_certbot_2_1_issues_and_renews(
    emulator: Emulator, pebble: Pebble, certbot_factory: Callable[..., CertbotRunner]
) -> None:
    """The oldest certbot we promise: Debian 12's package, which has no ``achall.identifier``."""
    runner = certbot_factory(pebble, executable=VENVS / "debian" / "bin" / "certbot", name="deb")
    version = runner.run(["--version"])
    assert "certbot 2.1.0" in version.stdout + version.stderr
    ini = credentials(runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(runner, ini, ["*.example.com", "example.com"])
    assert result.returncode == 0, runner.describe(result)
    assert runner.cert_sans("example.com") == {"example.com", "*.example.com"}
    renewed = runner.run(["renew", "--force-renewal"])
    assert renewed.returncode == 0, runner.describe(renewed)
    assert emulator.applies(ZONE) == 4
    assert challenge_rows(emulator, ZONE) == []


def test_certbot_lists_the_plugin_and_warns_about_a_readable_credentials_file(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    listed = certbot_runner.run(["plugins"])
    assert "* dns-iijdpf" in listed.stdout, listed.stdout
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    ini.chmod(0o644)
    result = certonly(certbot_runner, ini, ["example.com"])
    assert result.returncode == 0, certbot_runner.describe(result)
    assert "Unsafe permissions on credentials configuration file" in output(result)
