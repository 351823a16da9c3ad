"""The plugin under every answer DPF may give where its documentation is silent.

Each case switches the emulator to one plausible answer (or all strict ones
at once, see ``tests/dpf_emulator/README.md``) and runs what operators do:
a first issuance next to an unrelated TXT value kept at ``_acme-challenge``
and a stale draft of the same DPF user at another challenge name, a renewal,
a renewal while a colleague's draft sits in the zone, and two hosts at once.
After each step: nothing of ours is staged or live, nothing of others was
changed, and the colleague's draft was never published.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.dpf_emulator import RecordSpec, TokenSpec, ZoneSpec
from tests.dpf_emulator.config import SWITCH_CASES
from tests.e2e.plugin_support import (
    TOKEN,
    credentials,
    output,
    spawn_certonly,
    wait_until_served,
)
from tests.harness import CertbotRunner
from tests.harness.dpf import CHALLENGE_NAME, SERVICE_CODE, ZONE, domain_args

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e

NAME = CHALLENGE_NAME
WWW = "_acme-challenge.www.example.com."
KEEP = '"keep-me"'
# A killed run of the same DPF user left this draft (state 1) behind.
STALE = '"' + "S" * 43 + '"'
COLLEAGUE = "colleague-token"
DOMAINS = ["example.com", "*.example.com", "www.example.com"]


def _challenge_values(rows: list[dict[str, Any]]) -> set[str]:
    return {
        d["value"] for r in rows if str(r["name"]).startswith("_acme-challenge") for d in r["rdata"]
    }


def _assert_clean(emulator: Emulator, step: str, colleague_draft: bool = False) -> None:
    """Nothing of ours staged or live; the kept value and the zone's other data untouched."""
    rows = emulator.records(ZONE)
    pending = [(r["name"], r["rrtype"], r["state"]) for r in rows if r["state"] in (1, 2, 3)]
    expected = [("draft.example.com.", "A", 1)] if colleague_draft else []
    assert pending == expected, (step, rows)
    live = emulator.currents(ZONE)
    # The stale draft was the same user's challenge value at our challenge
    # name: publishing it is allowed, and it authorises nothing.
    assert _challenge_values(live) <= {KEEP, STALE}, (step, live)
    assert [
        [d["value"] for d in r["rdata"]] for r in live if r["name"] == NAME and r["rrtype"] == "TXT"
    ] == [[KEEP]], (step, live)
    assert "draft.example.com." not in {r["name"] for r in live}, step
    assert wait_until_served(emulator, NAME, [KEEP]) == [[KEEP], [KEEP]], step


def _cancel_as(emulator: Emulator, token: str, record_id: str) -> None:
    answer = requests.delete(
        f"{emulator.api_url}/zones/{emulator.zone_id(ZONE)}/records/{record_id}/changes",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    emulator.wait_job(answer.json()["request_id"])


@pytest.mark.parametrize(
    "answers", [answers for _, answers in SWITCH_CASES], ids=[case for case, _ in SWITCH_CASES]
)
def test_every_step_holds_under_the_answer(
    emulator_factory: Callable[..., Emulator],
    certbot_factory: Callable[..., CertbotRunner],
    certbot_runner: CertbotRunner,
    answers: dict[str, Any],
) -> None:
    emulator = emulator_factory(
        zones=[ZoneSpec(ZONE, SERVICE_CODE, records=[RecordSpec(NAME, "TXT", [KEEP])])],
        tokens=[TokenSpec(TOKEN), TokenSpec(COLLEAGUE, operator="SA0000002")],
        **answers,
    )
    emulator.stage_as(TOKEN, ZONE, WWW, "TXT", [STALE])
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)

    issue = ["certonly", "-a", "dns-iijdpf", "--dns-iijdpf-credentials", str(ini)]
    first = certbot_runner.run([*issue, *domain_args(DOMAINS), "--cert-name", "cert"])
    assert first.returncode == 0, certbot_runner.describe(first)
    assert certbot_runner.cert_sans("cert") == set(DOMAINS)
    _assert_clean(emulator, "issuance")

    renewal = certbot_runner.run(["renew", "--force-renewal"])
    assert renewal.returncode == 0, certbot_runner.describe(renewal)
    _assert_clean(emulator, "renewal")

    applies = emulator.applies(ZONE)
    draft = emulator.stage_as(COLLEAGUE, ZONE, "draft.example.com.", "A", ["192.0.2.8"])
    refused = certbot_runner.run(["renew", "--force-renewal"])
    text = output(refused)
    assert refused.returncode != 0
    assert "draft.example.com A (to be added, by SA0000002)" in text, text
    assert "Traceback" not in text
    assert emulator.applies(ZONE) == applies
    _assert_clean(emulator, "colleague's draft", colleague_draft=True)
    _cancel_as(emulator, COLLEAGUE, draft)

    other = certbot_factory(certbot_runner.pebble, name="other-host")
    other_ini = credentials(other.base_dir / "iijdpf.ini", emulator)
    processes = [
        spawn_certonly(certbot_runner, ini, ["example.com"], "--cert-name", "a"),
        spawn_certonly(other, other_ini, ["*.example.com"], "--cert-name", "b"),
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n----\n".join(outputs)
    _assert_clean(emulator, "two hosts")
