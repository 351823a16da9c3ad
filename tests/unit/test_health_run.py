"""The whole check over lineages on disk, with the DPF part replaced by a recorder.

What is judged from files (renewal configurations, certificates, credentials
files) is real; the DPF checks are the probe's, tested end to end in
tests/e2e/test_check.py.  Here they stand in, to show how one account's
findings reach each of its lineages, and the plugin's rule for staged edits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from certbot_dns_iijdpf._internal.health.accounts import AccountFindings, HealthProbe
from certbot_dns_iijdpf._internal.health.model import State
from certbot_dns_iijdpf._internal.health.output import dump_json, nagios, textfile
from certbot_dns_iijdpf._internal.health.run import run_check
from certbot_dns_iijdpf._internal.planner import ADDING, APPLIED, UPDATING, Row
from certbot_dns_iijdpf._internal.probe.facts import Zone, ZoneFacts
from certbot_dns_iijdpf._internal.probe.report import FAILED, OK, Check, Report
from certbot_dns_iijdpf._internal.settings import Settings
from tests.harness import write_ini
from tests.harness.lineages import make_lineage

SECRET = "secret-token-7fQ2"
ACME = "x" * 43


class Recorder:
    """Stands in for the DPF checks: records each account it is asked about."""

    def __init__(self, findings: AccountFindings | None = None) -> None:
        self.calls: list[tuple[Settings, list[str]]] = []
        self.findings = findings or AccountFindings()

    def __call__(self, settings: Settings, domains: Sequence[str]) -> AccountFindings:
        self.calls.append((settings, list(domains)))
        return self.findings


def ini(path: Path, token: str = SECRET, mode: int = 0o600) -> Path:
    values = {"dns_iijdpf_api_token": token, "dns_iijdpf_endpoint": "https://dpf.test/dpf/v1"}
    return write_ini(path, values, mode)


def states(result_checks: list[tuple[str, State]], check: str) -> set[State]:
    return {state for name, state in result_checks if name == check}


def test_lineages_sharing_an_account_are_checked_once(tmp_path: Path) -> None:
    creds = ini(tmp_path / "iijdpf.ini")
    other = ini(tmp_path / "other.ini", token="another-token-1")
    make_lineage(tmp_path, "a.test", ["a.test", "*.a.test"], credentials=creds)
    make_lineage(tmp_path, "b.test", ["b.test"], credentials=creds, days_left=10)
    make_lineage(tmp_path, "c.test", ["c.test"], credentials=other)
    make_lineage(tmp_path, "web.test", ["web.test"], authenticator="nginx")
    recorder = Recorder()
    result = run_check(str(tmp_path), account_checker=recorder)

    assert [(s.token == SECRET, d) for s, d in recorder.calls] == [
        (True, ["a.test", "*.a.test", "b.test"]),
        (False, ["c.test"]),
    ]
    assert [r.name for r in result.lineages] == ["a.test", "b.test", "c.test"]
    assert [(s.name, s.authenticator) for s in result.skipped] == [("web.test", "nginx")]
    by_name = {r.name: r for r in result.lineages}
    assert by_name["b.test"].state is State.WARNING
    assert result.state is State.WARNING
    assert [f.check for f in by_name["a.test"].findings] == [
        "renewal_conf",
        "expiry",
        "credentials",
    ]
    for text in (nagios(result), dump_json(result), textfile(result)):
        assert SECRET not in text


def test_account_findings_reach_the_lineages_they_concern(tmp_path: Path) -> None:
    creds = ini(tmp_path / "iijdpf.ini")
    make_lineage(tmp_path, "a.test", ["a.test"], credentials=creds)
    make_lineage(tmp_path, "b.test", ["www.b.test"], credentials=creds)
    found = AccountFindings(
        shared=[Check("token", "write", FAILED, "no dpf_write")],
        by_name={
            "_acme-challenge.a.test.": [Check("zone", "_acme-challenge.a.test", OK, "in a.test")],
            "_acme-challenge.www.b.test.": [
                Check("zone", "_acme-challenge.www.b.test", OK, "in b.test")
            ],
        },
        by_zone={
            "m1": [Check("staged", "a.test", "warning", "a draft")],
            "m2": [
                Check("dns", "ns1.test", OK, "serves"),
                Check("delegation", "_acme-challenge.other.b.test", FAILED, "not ours"),
            ],
        },
        zone_of={"_acme-challenge.a.test.": "m1", "_acme-challenge.www.b.test.": "m2"},
    )
    result = run_check(str(tmp_path), account_checker=Recorder(found))
    a, b = result.lineages
    assert [(f.check, f.state) for f in a.findings[3:]] == [
        ("token_write", State.CRITICAL),
        ("zone", State.OK),
        ("staged", State.WARNING),
    ]
    # Another name's delegation finding in the same zone is not b.test's.
    assert [(f.check, f.state) for f in b.findings[3:]] == [
        ("token_write", State.CRITICAL),
        ("zone", State.OK),
        ("dns", State.OK),
    ]
    assert (a.state, b.state, result.state) == (State.CRITICAL, State.CRITICAL, State.CRITICAL)


def test_bad_input_is_one_line_each_and_the_rest_is_still_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = ini(tmp_path / "iijdpf.ini")
    make_lineage(tmp_path, "good.test", ["good.test"], credentials=creds)
    (tmp_path / "renewal" / "broken.test.conf").write_text("cert = /x\n[renewalparams\n")
    make_lineage(tmp_path, "nocert.test", ["nocert.test"], credentials=creds)
    (tmp_path / "archive" / "nocert.test" / "cert1.pem").unlink()
    make_lineage(tmp_path, "nocreds.test", ["nocreds.test"], credentials=tmp_path / "gone.ini")
    make_lineage(tmp_path, "unset.test", ["unset.test"])
    make_lineage(
        tmp_path, "open.test", ["open.test"], credentials=ini(tmp_path / "o.ini", mode=0o644)
    )
    locked = ini(tmp_path / "locked.ini")
    make_lineage(tmp_path, "locked.test", ["locked.test"], credentials=locked)
    bad = write_ini(tmp_path / "bad.ini", {"dns_iijdpf_endpoint": "https://dpf.test/dpf/v1"})
    make_lineage(tmp_path, "notoken.test", ["notoken.test"], credentials=bad)
    real_access = os.access
    # As for a checking user who may not read a root-only file (root reads every file).
    monkeypatch.setattr(
        os, "access", lambda p, m: False if str(p) == str(locked) else real_access(p, m)
    )
    recorder = Recorder()
    result = run_check(str(tmp_path), account_checker=recorder)

    by_name = {r.name: r for r in result.lineages}
    expected = {
        "good.test": State.OK,
        "broken.test": State.CRITICAL,
        "nocert.test": State.CRITICAL,
        "nocreds.test": State.CRITICAL,
        "unset.test": State.CRITICAL,
        "open.test": State.WARNING,
        "locked.test": State.UNKNOWN,
        "notoken.test": State.CRITICAL,
    }
    assert {n: r.state for n, r in by_name.items()} == expected
    problems = {n: [f.detail for f in r.problems] for n, r in by_name.items()}
    assert (
        len(problems["broken.test"]) == 1
        and "broken.test.conf is broken" in (problems["broken.test"][0])
    )
    assert "cert.pem is missing" in problems["nocert.test"][0]
    assert f"credentials file {tmp_path / 'gone.ini'} is missing" in problems["nocreds.test"][0]
    assert "names no credentials file (dns_iijdpf_credentials)" in problems["unset.test"][0]
    assert "run chmod 600" in problems["open.test"][0]
    assert "permission denied" in problems["locked.test"][0]
    assert "dns_iijdpf_api_token is missing" in problems["notoken.test"][0]
    # One account (one token in two files), checked once; a lineage without its certificate
    # brings no names, and the unusable credentials files none at all.
    assert [sorted(d) for _, d in recorder.calls] == [["good.test", "open.test"]]
    text = nagios(result)
    assert text.splitlines()[0].startswith("IIJDPF CRITICAL - 7 of 8 lineage(s) not OK: ")
    assert "Traceback" not in text and SECRET not in text


def test_what_keeps_the_check_from_judging_is_unknown(tmp_path: Path) -> None:
    missing = run_check(str(tmp_path / "nowhere"), account_checker=Recorder())
    assert missing.state is State.UNKNOWN
    assert "nowhere/renewal does not exist" in nagios(missing)

    make_lineage(tmp_path, "web.test", ["web.test"], authenticator="apache")
    only_others = run_check(str(tmp_path), account_checker=Recorder())
    assert only_others.state is State.UNKNOWN
    assert nagios(only_others).splitlines()[0] == (
        f"IIJDPF UNKNOWN - no dns-iijdpf lineage in {tmp_path}/renewal, 1 skipped"
    )

    creds = ini(tmp_path / "iijdpf.ini")
    make_lineage(tmp_path, "a.test", ["a.test"], credentials=creds)
    chosen = run_check(str(tmp_path), ["a.test", "typo.test"], account_checker=Recorder())
    assert [r.name for r in chosen.lineages] == ["a.test"]
    assert chosen.state is State.UNKNOWN
    assert "--cert-name typo.test: no renewal configuration" in nagios(chosen)


# -- the plugin's rule for staged edits ------------------------------------------------


def staged_check(*rows: Row, currents: tuple[Row, ...] = ()) -> Check:
    zone = Zone("m1", "example.com.", "dpm00000001", 2, 0)
    fact = ZoneFacts(zone, names=["_acme-challenge.www.example.com."])
    fact.rows, fact.currents = list(rows), list(currents)
    report = Report(None)
    probe = HealthProbe(None, Settings("t"), report)  # type: ignore[arg-type]
    probe._check_staged(fact)
    (check,) = report.checks
    return check


def test_a_colleagues_draft_would_stop_the_renewal() -> None:
    check = staged_check(Row("r1", "draft.example.com.", "A", ("192.0.2.7",), ADDING))
    assert check.status == "warning"
    assert "draft.example.com A (to be added)" in check.detail
    assert "refuses to apply" in check.detail


def test_acme_challenge_values_are_not_in_the_way() -> None:
    check = staged_check(
        Row("r1", "_acme-challenge.www.example.com.", "TXT", (f'"{ACME}"',), ADDING),
        Row("r2", "_acme-challenge.other.example.com.", "TXT", (f'"{ACME}"',), ADDING),
    )
    assert check.status == "ok" and "only ACME challenge values" in check.detail


def test_an_spf_change_at_a_challenge_name_is_someones_work() -> None:
    # Updated from what DNS serves (the currents) to something that is not an ACME value.
    name = "_acme-challenge.www.example.com."
    check = staged_check(
        Row("r1", name, "TXT", (f'"{ACME}"', '"v=spf1 -all"'), UPDATING),
        currents=(Row("r1", name, "TXT", (f'"{ACME}"',), APPLIED),),
    )
    assert check.status == "warning"


def test_nothing_staged() -> None:
    check = staged_check(Row("r1", "www.example.com.", "A", ("192.0.2.1",), APPLIED))
    assert (check.status, check.detail) == ("ok", "no staged (unapplied) edits")
