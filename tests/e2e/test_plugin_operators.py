"""Zones and habits that operators really have.

Wildcard CNAMEs, leftovers of another name, interrupted runs, one-run
opt-ins, several zones at once, unusual zones, two IIJ ID users, and runs
that must end in bounded time.  Each test runs certbot against Pebble and
the DPF emulator, as a user would.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.dpf_emulator import FaultRule, RecordSpec, TokenSpec, ZoneSpec
from tests.e2e.plugin_support import (
    TOKEN,
    a_write_was_refused,
    certonly,
    challenge_rows,
    credentials,
    output,
    signal_when,
    slow_nameservers,
    snapshot,
    spawn_certonly,
)
from tests.harness import CertbotRunner, write_ini
from tests.harness.dpf import CHALLENGE_NAME, SERVICE_CODE, ZONE
from tests.harness.waiting import wait_for

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e

COLLEAGUE = "colleague-token"
# What another ACME client's challenge value looks like: 43 base64url characters.
ACME_LOOKING = '"' + "Q" * 43 + '"'


def writes(emulator: Emulator) -> list[str]:
    return [
        f"{e.method} {e.path}"
        for e in emulator.request_log
        if e.method in ("POST", "PATCH", "DELETE") and not e.path.startswith("/_")
    ]


def pending(emulator: Emulator, zone: str) -> list[dict[str, Any]]:
    return [r for r in emulator.records(zone) if r["state"] in (1, 2, 3)]


# -- wildcard CNAMEs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["app.some-host.example.", "example.com."], ids=["hosting", "apex"]
)
def test_a_wildcard_cname_does_not_send_the_challenge_elsewhere(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner, target: str
) -> None:
    # The resolver answers _acme-challenge.example.com with a CNAME made from
    # the wildcard; the name that exists in DPF is where the CA looks.
    emulator = emulator_factory(
        zones=[
            ZoneSpec(
                ZONE,
                SERVICE_CODE,
                records=[
                    RecordSpec("*.example.com.", "CNAME", [target]),
                    RecordSpec("example.com.", "TXT", ['"v=spf1 -all"']),
                ],
            )
        ]
    )
    before = snapshot(emulator, ZONE)
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["*.example.com", "example.com"])
    assert result.returncode == 0, certbot_runner.describe(result)
    assert certbot_runner.cert_sans("example.com") == {"*.example.com", "example.com"}
    assert snapshot(emulator, ZONE) == before
    # Only the challenge name was ever written; the apex TXT (SPF) never.
    bodies = [e.body for e in emulator.request_log if e.method == "POST" and e.body]
    assert {b["name"] for b in bodies} == {CHALLENGE_NAME}
    spf = [r for r in emulator.records(ZONE) if r["name"] == ZONE and r["rrtype"] == "TXT"]
    assert all(e.method != "PATCH" or spf[0]["id"] not in e.path for e in emulator.request_log)


def test_no_follow_cname_writes_at_the_name_itself(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    # The resolver shows a CNAME into a zone the token sees; with following
    # off, the plugin must not write there and must say where it would write.
    target = "_acme-challenge.example.org.acme.example.net."
    emulator = emulator_factory(
        zones=[
            ZoneSpec(
                "example.org.",
                SERVICE_CODE,
                records=[RecordSpec("_acme-challenge.example.org.", "CNAME", [target])],
            ),
            ZoneSpec("acme.example.net.", "dpm00000002"),
        ],
        tokens=[TokenSpec(TOKEN, zones=["acme.example.net."])],
    )
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    followed = certonly(certbot_runner, ini, ["example.org"])
    assert followed.returncode == 0, certbot_runner.describe(followed)
    assert emulator.applies("acme.example.net.") == 2
    emulator.clear_log()

    result = certonly(
        certbot_runner, ini, ["example.org"], "--dns-iijdpf-no-follow-cname", "--force-renewal"
    )
    text = output(result)
    assert result.returncode != 0
    assert "_acme-challenge.example.org" in text and "acme.example.net" in text, text
    assert "Traceback" not in text
    assert writes(emulator) == []


# -- leftovers and interruptions -----------------------------------------------------


def test_leftovers_of_another_name_are_removed_by_the_next_run(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(nameservers=slow_nameservers(5.0))
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    process = spawn_certonly(
        certbot_runner, ini, ["a.example.com"], "--dns-iijdpf-propagation-seconds", "60"
    )
    signal_when(process, lambda: emulator.applies(ZONE) == 1, signal.SIGKILL)
    emulator.wait_jobs()
    assert [r["name"] for r in challenge_rows(emulator, ZONE)] == ["_acme-challenge.a.example.com."]

    result = certonly(
        certbot_runner, ini, ["b.example.com"], "--dns-iijdpf-propagation-seconds", "30"
    )
    assert result.returncode == 0, certbot_runner.describe(result)
    assert challenge_rows(emulator, ZONE) == []
    assert emulator.currents(ZONE) == emulator.records(ZONE)


def test_sigterm_during_the_writes_of_ten_names_leaves_nothing_after_the_next_run(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(job_seconds=2.0)
    domains = [f"n{i}.example.com" for i in range(10)]
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    process = spawn_certonly(certbot_runner, ini, domains)
    signal_when(
        process,
        lambda: sum(e.method == "POST" for e in emulator.request_log) >= 4,
        signal.SIGTERM,
    )
    # Writes the interrupted run sent keep landing after it ended.
    emulator.set_job_seconds(0.2)
    emulator.wait_jobs(timeout=30)

    result = certonly(certbot_runner, ini, ["example.com"])
    assert result.returncode == 0, certbot_runner.describe(result)
    emulator.wait_jobs()
    assert challenge_rows(emulator, ZONE) == []
    assert [r for r in emulator.currents(ZONE) if r["name"].startswith("_acme")] == []


# -- an opt-in is for one run --------------------------------------------------------


def test_publish_pending_edits_is_not_repeated_by_unattended_renewals(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(
        tokens=[TokenSpec(TOKEN), TokenSpec(COLLEAGUE, operator="SA0000002")]
    )
    emulator.stage_as(COLLEAGUE, ZONE, "www.example.com.", "A", ["192.0.2.7"])
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    first = certonly(certbot_runner, ini, ["example.com"], "--dns-iijdpf-publish-pending-edits")
    assert first.returncode == 0, certbot_runner.describe(first)
    assert [r["name"] for r in emulator.currents(ZONE) if r["rrtype"] == "A"] == [
        "www.example.com."
    ]
    assert "dns_iijdpf_publish_pending_edits" in certbot_runner.renewal_conf("example.com")

    emulator.stage_as(COLLEAGUE, ZONE, "draft.example.com.", "A", ["192.0.2.8"])
    renewal = certbot_runner.run(["renew", "--force-renewal"])
    text = output(renewal)
    assert renewal.returncode != 0
    assert "Ignoring --dns-iijdpf-publish-pending-edits" in text, text
    assert "draft.example.com A (to be added, by SA0000002)" in text, text
    draft = [r for r in emulator.records(ZONE) if r["name"] == "draft.example.com."]
    assert [r["state"] for r in draft] == [1]
    assert challenge_rows(emulator, ZONE) == []


# -- several zones ---------------------------------------------------------------------


def test_a_draft_in_one_zone_leaves_nothing_of_ours_in_the_other(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(
        zones=[ZoneSpec(ZONE, SERVICE_CODE), ZoneSpec("example.net.", "dpm00000002")],
        tokens=[TokenSpec(TOKEN), TokenSpec(COLLEAGUE, operator="SA0000002")],
    )
    emulator.stage_as(COLLEAGUE, ZONE, "www.example.com.", "A", ["192.0.2.7"])
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.net", "example.com"])
    text = output(result)
    assert result.returncode != 0
    assert "www.example.com A" in text, text
    assert emulator.applies(ZONE) == 0
    assert [r["state"] for r in emulator.records(ZONE) if r["rrtype"] == "A"] == [1]
    for zone in (ZONE, "example.net."):
        assert challenge_rows(emulator, zone) == [], zone
        assert [r for r in emulator.currents(zone) if r["name"].startswith("_acme")] == []


def test_nested_zones_get_their_own_names_and_one_apply_each(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(
        zones=[
            ZoneSpec(
                ZONE,
                SERVICE_CODE,
                records=[
                    RecordSpec("sub.example.com.", "NS", ["ns1.dpf-emulator.test."]),
                    RecordSpec("sub.example.com.", "NS", ["ns2.dpf-emulator.test."]),
                ],
            ),
            ZoneSpec("sub.example.com.", SERVICE_CODE),
        ]
    )
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(
        certbot_runner, ini, ["www.example.com", "sub.example.com", "*.sub.example.com"]
    )
    assert result.returncode == 0, certbot_runner.describe(result)
    assert emulator.applies(ZONE) == 2
    assert emulator.applies("sub.example.com.") == 2
    posts = {
        (e.path, e.body["name"])
        for e in emulator.request_log
        if e.method == "POST" and isinstance(e.body, dict)
    }
    assert posts == {
        (f"/zones/{emulator.zone_id(ZONE)}/records", "_acme-challenge.www.example.com."),
        (
            f"/zones/{emulator.zone_id('sub.example.com.')}/records",
            "_acme-challenge.sub.example.com.",
        ),
    }
    for zone in (ZONE, "sub.example.com."):
        assert challenge_rows(emulator, zone) == []


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unpublished", "is not published yet"),
        ("delegated", "delegates to other nameservers"),
        ("zone proxy", "has zone proxy enabled"),
        ("duplicate", "The token sees 2 DPF zones named example.com"),
    ],
)
def test_an_unusual_zone_is_named_at_once(
    emulator_factory: Callable[..., Emulator],
    certbot_runner: CertbotRunner,
    case: str,
    expected: str,
) -> None:
    domain = "www.example.com"
    if case == "unpublished":
        emulator = emulator_factory(zones=[ZoneSpec(ZONE, SERVICE_CODE, state=1)])
    elif case == "delegated":
        domain = "www.sub.example.com"
        emulator = emulator_factory(
            zones=[
                ZoneSpec(
                    ZONE,
                    SERVICE_CODE,
                    records=[RecordSpec("sub.example.com.", "NS", ["ns.elsewhere.example."])],
                )
            ]
        )
    elif case == "zone proxy":
        emulator = emulator_factory(
            zones=[ZoneSpec(ZONE, SERVICE_CODE, proxy_enabled=True)],
            omit_zone_proxy_field=True,
        )
    else:
        emulator = emulator_factory(
            zones=[
                ZoneSpec(ZONE, SERVICE_CODE, zone_id="m0000000000001"),
                ZoneSpec(ZONE, "dpm00000002", zone_id="m0000000000002"),
            ]
        )
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, [domain])
    text = output(result)
    assert result.returncode != 0
    assert expected in text, text
    assert "example.com" in text
    assert "Traceback" not in text
    assert writes(emulator) == []


# -- two IIJ ID users -------------------------------------------------------------------


@pytest.mark.parametrize("cleared", [True, False], ids=["cleared", "stays"])
def test_another_users_challenge_draft_at_our_name_is_waited_for(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner, cleared: bool
) -> None:
    emulator = emulator_factory(
        tokens=[TokenSpec(TOKEN), TokenSpec(COLLEAGUE, operator="SA0000002")]
    )
    emulator.stage_as(COLLEAGUE, ZONE, CHALLENGE_NAME, "TXT", [ACME_LOOKING])

    def finish() -> None:
        wait_for(lambda: a_write_was_refused(emulator), "a write refused under the draft")
        emulator.apply_as(COLLEAGUE, ZONE)
        record = next(r for r in emulator.records(ZONE) if r["name"] == CHALLENGE_NAME)
        answer = requests.delete(
            f"{emulator.api_url}/zones/{emulator.zone_id(ZONE)}/records/{record['id']}",
            headers={"Authorization": f"Bearer {COLLEAGUE}"},
            timeout=10,
        )
        emulator.wait_job(answer.json()["request_id"])
        emulator.apply_as(COLLEAGUE, ZONE)

    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Once our run has met the draft (DPF refused to edit the record under
        # it), the other user's ACME client applies and withdraws its value,
        # as such a client does within seconds.
        helper = pool.submit(finish) if cleared else None
        result = certonly(
            certbot_runner, ini, ["example.com"], "--dns-iijdpf-timeout-seconds", "15"
        )
    text = output(result)
    if helper is not None:
        # The other user's failure (say, our run never met the draft) explains ours.
        helper.result()
        assert result.returncode == 0, certbot_runner.describe(result)
        assert challenge_rows(emulator, ZONE) == []
        return
    assert result.returncode != 0
    assert "Another DPF user's staged challenge record" in text, text
    assert "by SA0000002" in text, text
    rows = challenge_rows(emulator, ZONE)
    assert [(r["state"], [d["value"] for d in r["rdata"]]) for r in rows] == [(1, [ACME_LOOKING])]


def test_two_iij_id_users_at_the_same_name_at_once(
    emulator_factory: Callable[..., Emulator],
    certbot_factory: Callable[..., CertbotRunner],
    certbot_runner: CertbotRunner,
) -> None:
    # DPF refuses each user's edits while the other's are pending: one host
    # waits for the other's draft to be applied and withdrawn, then goes on.
    emulator = emulator_factory(
        tokens=[TokenSpec(TOKEN), TokenSpec(COLLEAGUE, operator="SA0000002")], job_seconds=0.5
    )
    other = certbot_factory(certbot_runner.pebble, name="other-host")
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    other_ini = write_ini(
        other.base_dir / "iijdpf.ini",
        {"dns_iijdpf_api_token": COLLEAGUE, "dns_iijdpf_endpoint": emulator.api_url},
    )
    processes = [
        spawn_certonly(certbot_runner, ini, ["example.com"], "--cert-name", "cert"),
        spawn_certonly(other, other_ini, ["*.example.com"], "--cert-name", "cert"),
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n----\n".join(outputs)
    assert certbot_runner.cert_sans("cert") == {"example.com"}
    assert other.cert_sans("cert") == {"*.example.com"}
    assert challenge_rows(emulator, ZONE) == []
    # Both users' edits went through DPF, each under its own token.
    staged = {
        e.operator
        for e in emulator.request_log
        if e.method in ("POST", "PATCH") and "/records" in e.path and e.status == 202
    }
    assert staged == {"SA0000001", "SA0000002"}


# -- bounded runs, and the token only where it belongs ------------------------------


def test_a_retry_after_beyond_the_budget_ends_the_run_at_once(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    emulator.add_fault(FaultRule(503, retry_after=3600))
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"])
    text = output(result)
    assert result.returncode != 0
    assert "--dns-iijdpf-timeout-seconds" in text, text
    assert "Traceback" not in text
    assert len([e for e in emulator.request_log if not e.path.startswith("/_")]) <= 2


def test_an_api_that_never_answers_ends_within_the_budget(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    emulator.add_fault(FaultRule("hang", methods=["GET"], path=r"^/zones$"))
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"], "--dns-iijdpf-timeout-seconds", "10")
    text = output(result)
    assert result.returncode != 0
    assert "time budget of 10 seconds (--dns-iijdpf-timeout-seconds)" in text, text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    "endpoint",
    ["http://user:s3cr3t-pw@{host}/", "http://{host}/?a=b", "http://{host}/#frag"],
    ids=["userinfo", "query", "fragment"],
)
def test_an_endpoint_with_extra_parts_is_refused(
    emulator: Emulator, certbot_runner: CertbotRunner, endpoint: str
) -> None:
    host = emulator.api_url.split("://", 1)[1].rstrip("/")
    ini = write_ini(
        certbot_runner.base_dir / "iijdpf.ini",
        {"dns_iijdpf_api_token": TOKEN, "dns_iijdpf_endpoint": endpoint.format(host=host)},
    )
    result = certonly(certbot_runner, ini, ["example.com"])
    text = output(result)
    assert result.returncode != 0
    assert "The DPF endpoint" in text, text
    assert "s3cr3t-pw" not in text + certbot_runner.logs_text()
    assert "Traceback" not in text
    assert [e for e in emulator.request_log if not e.path.startswith("/_")] == []


def test_a_netrc_never_replaces_the_token(
    emulator: Emulator, certbot_runner: CertbotRunner, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"], env={"HOME": str(home)})
    assert result.returncode == 0, certbot_runner.describe(result)
    schemes = {e.auth_scheme for e in emulator.request_log if not e.path.startswith("/_")}
    assert schemes == {"Bearer"}
