"""Bad input: each mistake an operator can make gets its message, a non-zero exit, no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.dpf_emulator import TokenSpec, ZoneSpec
from tests.e2e.plugin_support import certonly, challenge_rows, credentials, output
from tests.harness import CertbotRunner, write_ini
from tests.harness.dpf import SERVICE_CODE, TOKEN, ZONE

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e


def failed_with(result_text: str, returncode: int, *needles: str) -> None:
    assert returncode != 0, result_text
    assert "Traceback" not in result_text, result_text
    for needle in needles:
        assert needle in result_text, result_text


def test_no_credentials_at_all(certbot_runner: CertbotRunner) -> None:
    result = certonly(certbot_runner, None, ["example.com"])
    failed_with(output(result), result.returncode, "--dns-iijdpf-credentials")


def test_missing_and_unreadable_credentials_file(
    certbot_runner: CertbotRunner, tmp_path: Path
) -> None:
    result = certonly(certbot_runner, tmp_path / "nowhere.ini", ["example.com"])
    failed_with(output(result), result.returncode, "File not found", "nowhere.ini")
    result = certonly(certbot_runner, tmp_path, ["example.com"])
    failed_with(output(result), result.returncode, "Path is a directory")


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"dns_iijdpf_endpoint": "http://127.0.0.1:1/dpf/v1"}, "dns_iijdpf_api_token"),
        ({"dns_iijdpf_api_token": ""}, "dns_iijdpf_api_token"),
    ],
)
def test_missing_or_empty_token_key(
    certbot_runner: CertbotRunner, values: dict[str, object], needle: str
) -> None:
    ini = write_ini(certbot_runner.base_dir / "iijdpf.ini", values)
    result = certonly(certbot_runner, ini, ["example.com"])
    failed_with(output(result), result.returncode, needle)


def test_bad_token(emulator: Emulator, certbot_runner: CertbotRunner) -> None:
    ini = write_ini(
        certbot_runner.base_dir / "iijdpf.ini",
        {"dns_iijdpf_api_token": "expired-token", "dns_iijdpf_endpoint": emulator.api_url},
    )
    result = certonly(certbot_runner, ini, ["example.com"])
    failed_with(output(result), result.returncode, "DPF rejected the API token", "dpf_write scopes")
    assert "expired-token" not in output(result)


def test_token_without_write_scope(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(tokens=[TokenSpec(token=TOKEN, scopes=("dpf_read",))])
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"])
    failed_with(output(result), result.returncode, "needs the dpf_write scope")
    assert challenge_rows(emulator, ZONE) == []


def test_endpoint_that_does_not_answer(certbot_runner: CertbotRunner) -> None:
    ini = write_ini(
        certbot_runner.base_dir / "iijdpf.ini",
        {"dns_iijdpf_api_token": TOKEN, "dns_iijdpf_endpoint": "http://127.0.0.1:9/dpf/v1"},
    )
    result = certonly(certbot_runner, ini, ["example.com"])
    failed_with(
        output(result), result.returncode, "Could not reach the DPF API at http://127.0.0.1:9"
    )


def test_domain_in_no_visible_zone(emulator: Emulator, certbot_runner: CertbotRunner) -> None:
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com", "www.example.org"])
    failed_with(
        output(result),
        result.returncode,
        "No DPF zone visible to this token contains _acme-challenge.www.example.org",
        "example.com",
    )
    # Zones are resolved before any write: nothing was staged for example.com either.
    assert challenge_rows(emulator, ZONE) == []
    assert emulator.applies(ZONE) == 0


def test_zone_with_read_only_records(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(
        zones=[ZoneSpec(name=ZONE, service_code=SERVICE_CODE, proxy_enabled=True)]
    )
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"])
    failed_with(output(result), result.returncode, "zone proxy enabled", "read-only")


def test_upper_case_and_punycode_names(emulator: Emulator, certbot_runner: CertbotRunner) -> None:
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    domains = ["WWW.Example.COM", "xn--eckwd4c7c.example.com"]
    result = certonly(certbot_runner, ini, domains)
    assert result.returncode == 0, certbot_runner.describe(result)
    assert certbot_runner.cert_sans("www.example.com") == {
        "www.example.com",
        "xn--eckwd4c7c.example.com",
    }
    assert challenge_rows(emulator, ZONE) == []
