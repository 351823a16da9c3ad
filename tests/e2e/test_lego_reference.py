"""The reference client (lego's iijdpf provider, inside certbot-dns-multi) against the emulator.

lego's provider was written against the real DPF API and is used in
production, so if it cannot get a certificate through the emulator, the
emulator is wrong, not lego. This pins the emulator to real-world behaviour
before our own plugin is judged by it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.plugin_support import wait_until_served
from tests.harness import CertbotRunner, Pebble
from tests.harness.dpf import (
    CHALLENGE_NAME,
    DNS_MULTI_CERTBOT,
    PEBBLE_DNS,
    SERVICE_CODE,
    TOKEN,
    ZONE,
    challenge_rows,
    dns_multi_credentials,
)

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e

_APPLY = re.compile(r"^/zones/[^/]+/changes$")
_RECORDS = re.compile(r"^/zones/[^/]+/records$")
_RECORD = re.compile(r"^/zones/[^/]+/records/[^/]+$")


def _write_kind(method: str, path: str) -> str:
    """Name a write request by what it does, so the sequence reads like the lego source."""
    if method == "PATCH" and _APPLY.match(path):
        return "apply"
    if method == "POST" and _RECORDS.match(path):
        return "create"
    if method == "PATCH" and _RECORD.match(path):
        return "update"
    if method == "DELETE" and _RECORD.match(path):
        return "delete"
    return f"{method} {path}"


def test_lego_iijdpf_issues_wildcard_and_apex(
    tmp_path: Path,
    emulator_factory: Callable[..., Emulator],
    pebble_factory: Callable[..., Pebble],
    certbot_factory: Callable[..., CertbotRunner],
) -> None:
    if not DNS_MULTI_CERTBOT.exists():
        pytest.fail(f"{DNS_MULTI_CERTBOT} is missing: run scripts/bootstrap")

    emu = emulator_factory()
    # The VA asks the nameserver with the longest lag, so issuance proves the
    # client waited until the slowest authoritative server had the record.
    pebble = pebble_factory(PEBBLE_DNS)
    certbot = certbot_factory(pebble, executable=DNS_MULTI_CERTBOT, name="lego")

    credentials = dns_multi_credentials(
        tmp_path / "dns-multi.ini", emu.api_url, TOKEN, SERVICE_CODE
    )

    certbot.run_ok(
        [
            "certonly",
            "--authenticator", "dns-multi",
            "--dns-multi-credentials", str(credentials),
            "--dns-multi-propagation-seconds", "2",
            "--cert-name", "example.com",
            "-d", "*.example.com",
            "-d", "example.com",
        ]
    )  # fmt: skip

    assert certbot.cert_sans("example.com") == {"*.example.com", "example.com"}

    # Cleanup: nothing left in the edit view (pending rows included) ...
    leftovers = challenge_rows(emu, ZONE)
    assert leftovers == [], f"challenge rows left in the zone: {leftovers}"

    # ... and, once the slowest nameserver has caught up, nothing served anywhere.
    served = wait_until_served(emu, CHALLENGE_NAME, [])
    assert not any(served), f"still served after cleanup: {served}"

    # lego's iijdpf provider, two authorizations at one name: each Present and
    # each CleanUp is one staged write followed by its own apply.
    log = emu.request_log
    writes = [_write_kind(entry.method, entry.path) for entry in log if entry.method != "GET"]
    assert writes == [
        "create", "apply",   # Present #1: nothing in /currents, POST the RRset
        "update", "apply",   # Present #2: append the second value
        "update", "apply",   # CleanUp #1: drop one value
        "delete", "apply",   # CleanUp #2: last value, DELETE the RRset
    ], writes  # fmt: skip
    assert emu.applies(ZONE) == 4
    failed = [entry for entry in log if entry.status is None or entry.status >= 400]
    assert failed == [], f"requests the emulator refused: {failed}"
