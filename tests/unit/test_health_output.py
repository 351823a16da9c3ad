"""The check's Nagios text, its perfdata, its JSON and its node_exporter textfile."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from certbot_dns_iijdpf._internal.health.model import (
    CheckResult,
    Finding,
    LineageResult,
    Skipped,
    State,
    Thresholds,
)
from certbot_dns_iijdpf._internal.health.output import (
    as_json,
    nagios,
    perfdata,
    textfile,
    write_atomically,
)

NOW = 1_800_000_000.0


def lineage(name: str, days: float | None, *findings: tuple[str, State]) -> LineageResult:
    result = LineageResult(name, f"/etc/letsencrypt/renewal/{name}.conf", names=[name])
    if days is not None:
        result.days_left = days
        result.not_after = NOW + days * 86400
    for check, state in findings:
        result.add(check, state, f"{check} said {state.name}", subject="example.com")
    return result


def run(*lineages: LineageResult, skipped: tuple[Skipped, ...] = ()) -> CheckResult:
    return CheckResult(
        "/etc/letsencrypt", Thresholds(), NOW, lineages=list(lineages), skipped=list(skipped)
    )


def test_all_ok_status_line_and_perfdata() -> None:
    result = run(
        lineage("example.com", 62.14, ("expiry", State.OK)),
        lineage("example.net", 20.0, ("expiry", State.OK)),
        skipped=(Skipped("other.test", "/r/other.test.conf", "nginx"),),
    )
    lines = nagios(result).splitlines()
    assert lines[0] == (
        "IIJDPF OK - 2 lineage(s) OK; next expiry example.net in 20.0 days, 1 skipped"
        " | 'example.com days_left'=62.1d;14;7;0 'example.net days_left'=20.0d;14;7;0"
    )
    assert lines[1] == "example.com: OK - 62.1 days left (example.com)"
    assert lines[-1] == "other.test: skipped (authenticator nginx, not dns-iijdpf)"
    assert perfdata(run(lineage("a.test", None))) == ""


def test_problems_name_the_lineage_and_the_check() -> None:
    result = run(
        lineage("a.test", 60.0, ("expiry", State.OK), ("staged", State.WARNING)),
        lineage("b.test", 5.0, ("expiry", State.CRITICAL), ("token_write", State.CRITICAL)),
        lineage("c.test", 50.0, ("expiry", State.OK)),
    )
    text = nagios(result)
    head = text.splitlines()[0]
    assert head.startswith(
        "IIJDPF CRITICAL - 2 of 3 lineage(s) not OK: b.test CRITICAL (expiry, token_write); "
        "a.test WARNING (staged) | "
    )
    assert "  CRITICAL token_write example.com: token_write said CRITICAL" in text.splitlines()
    assert "  WARNING staged example.com: staged said WARNING" in text.splitlines()
    # OK findings stay out of the long output.
    assert "said OK" not in text


def test_a_run_wide_problem_alone_is_the_status_line() -> None:
    result = run()
    result.problems.append(Finding("lineages", State.UNKNOWN, "no dns-iijdpf lineage in /x"))
    assert nagios(result) == "IIJDPF UNKNOWN - no dns-iijdpf lineage in /x"


def test_thresholds_in_perfdata_follow_the_options() -> None:
    result = CheckResult("/x", Thresholds(21.5, 10), NOW, lineages=[lineage("a.test", 30.0)])
    assert perfdata(result) == "'a.test days_left'=30.0d;21.5;10;0"


def test_json_is_one_object_with_every_lineage() -> None:
    result = run(lineage("a.test", 5.0, ("expiry", State.CRITICAL)))
    data = json.loads(json.dumps(as_json(result)))
    assert (data["state"], data["exit_status"]) == ("CRITICAL", 2)
    assert data["checked_at"] == "2027-01-15T08:00:00Z"
    (entry,) = data["lineages"]
    assert entry["name"] == "a.test" and entry["days_left"] == 5.0
    assert entry["not_after"] == "2027-01-20T08:00:00Z"
    assert entry["checks"] == [
        {
            "check": "expiry",
            "subject": "example.com",
            "state": "CRITICAL",
            "detail": "expiry said CRITICAL",
        }
    ]


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family
        assert family.documentation
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_textfile_parses_as_prometheus_reads_it() -> None:
    result = run(
        lineage("a.test", 60.0, ("expiry", State.OK), ("dns", State.OK), ("dns", State.WARNING)),
        lineage('we"ird\\name', None, ("certificate", State.UNKNOWN)),
    )
    found = metrics(textfile(result))
    prefix = "certbot_dns_iijdpf_"
    assert found[(prefix + "check_timestamp_seconds", ())] == NOW
    assert found[(prefix + "status", ())] == 3
    assert found[(prefix + "lineage_status", (("lineage", "a.test"),))] == 1
    assert found[(prefix + "lineage_status", (("lineage", 'we"ird\\name'),))] == 3
    expiry = prefix + "certificate_expiry_timestamp_seconds"
    assert found[(expiry, (("lineage", "a.test"),))] == NOW + 60 * 86400
    assert not [k for k in found if k[0] == expiry and k[1] != (("lineage", "a.test"),)]
    check = prefix + "lineage_check_status"
    assert found[(check, (("check", "dns"), ("lineage", "a.test")))] == 1  # the worst subject
    assert found[(check, (("check", "expiry"), ("lineage", "a.test")))] == 0
    assert found[(check, (("check", "certificate"), ("lineage", 'we"ird\\name')))] == 3


def test_textfile_is_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "certbot_dns_iijdpf.prom"
    write_atomically(str(target), "old 1\n")
    write_atomically(str(target), "new 1\n")
    assert target.read_text() == "new 1\n"
    assert os.stat(target).st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == [target.name]

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_atomically(str(target), "half")
    # The old file stands, and no temporary file is left for node_exporter to trip over.
    assert target.read_text() == "new 1\n"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_pipe_in_a_message_cannot_start_perfdata() -> None:
    result = run(lineage("a.test", 60.0))
    result.lineages[0].add("api", State.CRITICAL, "DPF answered <html>a | b</html>")
    lines = nagios(result).splitlines()
    assert lines[0].count("|") == 1
    assert lines[-1] == "  CRITICAL api: DPF answered <html>a / b</html>"
