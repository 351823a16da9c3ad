"""Delegated validation: ``_acme-challenge`` is a CNAME into a validation zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.dpf_emulator import RecordSpec, TokenSpec, ZoneSpec
from tests.e2e.plugin_support import certonly, credentials, output, snapshot
from tests.harness import CertbotRunner
from tests.harness.dpf import CHALLENGE_NAME, SERVICE_CODE, TOKEN, ZONE

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e

TARGET = "_acme-challenge.example.com.acme.example.net."


def delegated(emulator_factory: Callable[..., Emulator], visible: list[str]) -> Emulator:
    return emulator_factory(
        zones=[
            ZoneSpec(
                name=ZONE,
                service_code=SERVICE_CODE,
                records=[RecordSpec(CHALLENGE_NAME, "CNAME", [TARGET])],
            ),
            ZoneSpec(name="acme.example.net.", service_code="dpm00000002"),
        ],
        tokens=[TokenSpec(token=TOKEN, zones=visible)],
    )


def test_token_seeing_only_the_validation_zone_issues_wildcard_and_apex(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = delegated(emulator_factory, ["acme.example.net."])
    before = snapshot(emulator, ZONE)
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["*.example.com", "example.com"])
    assert result.returncode == 0, certbot_runner.describe(result)
    assert certbot_runner.cert_sans("example.com") == {"*.example.com", "example.com"}
    assert emulator.applies("acme.example.net.") == 2
    assert emulator.applies(ZONE) == 0
    assert snapshot(emulator, ZONE) == before
    assert [r for r in emulator.records("acme.example.net.") if r["rrtype"] == "TXT"] == []


def test_target_outside_every_visible_zone_is_named(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = delegated(emulator_factory, [ZONE])
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"])
    text = output(result)
    assert result.returncode != 0
    assert "_acme-challenge.example.com is a CNAME to " + TARGET.rstrip(".") in text, text
    assert "Traceback" not in text
