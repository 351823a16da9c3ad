"""``python -m certbot_dns_iijdpf check`` over lineages certbot issued, against the emulator.

A lineage issued by real certbot through Pebble and the emulator is checked
as a monitoring system would run the check: its exit status, its status line
and perfdata, its JSON and its node_exporter textfile (read back with
Prometheus' own parser).  Then what must make it warn or fail: a certificate
five days from expiry, a token without dpf_write, a colleague's draft in the
zone, and the bad input of the issue.  Every run must leave DPF as it was.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dpf_emulator import Emulator, RequestLogEntry, TokenSpec, ZoneSpec
from tests.e2e.plugin_support import TOKEN, certonly, credentials, snapshot
from tests.harness import REPO_ROOT, CertbotRunner
from tests.harness.dpf import SERVICE_CODE, ZONE, plugin_credentials
from tests.harness.lineages import make_lineage, replace_certificate

pytestmark = pytest.mark.e2e

EmulatorFactory = Callable[..., Emulator]

DOMAINS = ["example.com", "*.example.com"]
LINEAGE = "example.com"
READ_ONLY = "read-only-token"
COLLEAGUE = "colleague-token"
ABSENT_RECORD = "/records/r00000000000000"
EVERY_CHECK = {
    "renewal_conf",
    "expiry",
    "credentials",
    "api",
    "token_read",
    "token_write",
    "zone",
    "published",
    "zone_proxy",
    "delegation",
    "cname",
    "dns",
    "staged",
}
PERFDATA = re.compile(r"'example\.com days_left'=(\d+\.\d)d;14;7;0")


# -- running the check --------------------------------------------------------------


def _environment() -> dict[str, str]:
    # The plugin falls back to lego's IIJ_DPF_* variables; none may leak in.
    return {k: v for k, v in os.environ.items() if not k.startswith("IIJ_DPF_")}


def run_check(
    config_dir: Path, *args: str, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = [*prefix, sys.executable, "-m", "certbot_dns_iijdpf", "check"]
    return subprocess.run(
        [*command, "--config-dir", str(config_dir), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env=_environment(),
        stdin=subprocess.DEVNULL,
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def assert_clean(result: subprocess.CompletedProcess[str], status: int, *secrets: str) -> None:
    """The exit status, a Nagios status line, and no traceback or token anywhere."""
    assert result.returncode == status, describe(result)
    state = ["OK", "WARNING", "CRITICAL", "UNKNOWN"][status]
    assert result.stdout.startswith(f"IIJDPF {state} - "), describe(result)
    assert "Traceback" not in result.stdout + result.stderr, describe(result)
    for secret in (TOKEN, *secrets):
        assert secret not in result.stdout + result.stderr
    assert result.stderr == "", describe(result)


def long_line(result: subprocess.CompletedProcess[str], start: str) -> str:
    for text in result.stdout.splitlines():
        if text.startswith(start):
            return text
    raise AssertionError(f"no line starting {start!r}\n{describe(result)}")


def payload(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict), result.stdout
    return parsed


def accepted_writes(log: list[RequestLogEntry]) -> list[RequestLogEntry]:
    return [e for e in log if e.method != "GET" and (e.status == 202 or e.fault == "lost")]


def assert_read_only(emulator: Emulator, before: set[tuple[Any, ...]]) -> None:
    """Nothing written: the write-scope probe (a PATCH of a never-issued id) is the only write."""
    log = emulator.request_log
    assert accepted_writes(log) == [], log
    for entry in log:
        if entry.method != "GET":
            assert (entry.method, entry.status) == ("PATCH", 400), entry
            assert entry.path.endswith(ABSENT_RECORD), entry
    assert snapshot(emulator, ZONE) == before


def issue(runner: CertbotRunner, emulator: Emulator) -> Path:
    """A lineage as certbot leaves it; returns its credentials file."""
    ini = credentials(runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(runner, ini, DOMAINS)
    assert result.returncode == 0, runner.describe(result)
    assert "authenticator = dns-iijdpf" in runner.renewal_conf(LINEAGE)
    return ini


def metrics(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


# -- a lineage certbot issued ---------------------------------------------------------


# Let's Encrypt's lifetime, not Pebble's default of five years.
@pytest.mark.parametrize("pebble", [{"validity_seconds": 90 * 86400}], indirect=True)
def test_an_issued_lineage_is_ok_and_critical_five_days_before_expiry(
    emulator: Emulator, certbot_runner: CertbotRunner, tmp_path: Path
) -> None:
    issue(certbot_runner, emulator)
    config_dir = certbot_runner.config_dir
    # A lineage of another authenticator on the same host: listed, not judged.
    make_lineage(config_dir, "www.example.org", ["www.example.org"], authenticator="nginx")
    before = snapshot(emulator, ZONE)
    emulator.clear_log()

    healthy = run_check(config_dir)
    assert_clean(healthy, 0)
    head = healthy.stdout.splitlines()[0]
    assert head.startswith("IIJDPF OK - 1 lineage(s) OK; next expiry example.com in "), head
    assert ", 1 skipped | " in head
    days = PERFDATA.search(head)
    assert days is not None and 89 < float(days.group(1)) <= 90, head  # Pebble: 90 days
    assert long_line(healthy, "example.com: OK - ").endswith("(example.com, *.example.com)")
    assert "www.example.org: skipped (authenticator nginx, not dns-iijdpf)" in healthy.stdout
    assert_read_only(emulator, before)

    as_json = run_check(config_dir, "--json")
    assert as_json.returncode == 0, describe(as_json)
    data = payload(as_json)
    assert (data["state"], data["exit_status"]) == ("OK", 0)
    (lineage,) = data["lineages"]
    assert lineage["name"] == LINEAGE and sorted(lineage["names"]) == sorted(DOMAINS)
    assert lineage["endpoint"] == emulator.api_url
    assert {c["check"] for c in lineage["checks"]} == EVERY_CHECK, lineage["checks"]
    assert {c["state"] for c in lineage["checks"]} == {"OK"}, lineage["checks"]
    assert data["skipped"] == [
        {
            "name": "www.example.org",
            "renewal_conf": str(config_dir / "renewal" / "www.example.org.conf"),
            "authenticator": "nginx",
        }
    ]

    # Renewal has been failing for weeks: the certificate expires in five days.
    cert_path = config_dir / "live" / LINEAGE / "cert.pem"
    replace_certificate(cert_path, DOMAINS, days_left=5)
    textfile = tmp_path / "node-exporter" / "certbot_dns_iijdpf.prom"
    textfile.parent.mkdir()
    started = time.time()
    expiring = run_check(config_dir, "--textfile", str(textfile))
    finished = time.time()
    assert_clean(expiring, 2)
    head = expiring.stdout.splitlines()[0]
    assert head.startswith(
        "IIJDPF CRITICAL - 1 of 1 lineage(s) not OK: example.com CRITICAL (expiry), 1 skipped | "
    ), head
    days = PERFDATA.search(head)
    assert days is not None and days.group(1) in ("4.9", "5.0"), head
    expiry_line = long_line(expiring, "  CRITICAL expiry: expires in ")
    assert f"certbot renew --cert-name {LINEAGE}" in expiry_line

    # node_exporter's view of the same run, read by Prometheus' own parser.
    found = metrics(textfile)
    assert [p.name for p in textfile.parent.iterdir()] == [textfile.name]
    assert stat.S_IMODE(textfile.stat().st_mode) == 0o644
    lineage_label = (("lineage", LINEAGE),)
    assert started - 1 <= found[("certbot_dns_iijdpf_check_timestamp_seconds", ())] <= finished
    assert found[("certbot_dns_iijdpf_status", ())] == 2
    assert found[("certbot_dns_iijdpf_lineage_status", lineage_label)] == 2
    cert = certbot_runner.live_cert(LINEAGE)
    not_after = cert.not_valid_after_utc.timestamp()
    expiry = found[("certbot_dns_iijdpf_certificate_expiry_timestamp_seconds", lineage_label)]
    assert expiry == not_after
    checks = {
        dict(labels)["check"]: value
        for (name, labels), value in found.items()
        if name == "certbot_dns_iijdpf_lineage_check_status"
    }
    assert checks == {check: (2 if check == "expiry" else 0) for check in EVERY_CHECK}
    # Only lineages of this plugin are exported.
    assert all(dict(labels).get("lineage") in (None, LINEAGE) for _, labels in found)
    assert TOKEN not in textfile.read_text()


def test_a_token_that_lost_dpf_write_is_critical(
    emulator_factory: EmulatorFactory, certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(
        tokens=[TokenSpec(TOKEN), TokenSpec(READ_ONLY, scopes=("dpf_read",))]
    )
    ini = issue(certbot_runner, emulator)
    # The token in the credentials file was replaced by one issued without dpf_write.
    plugin_credentials(ini, emulator.api_url, READ_ONLY)
    before = snapshot(emulator, ZONE)
    emulator.clear_log()
    result = run_check(certbot_runner.config_dir)
    assert_clean(result, 2, READ_ONLY)
    assert "example.com CRITICAL (token_write)" in result.stdout.splitlines()[0]
    line = long_line(result, "  CRITICAL token_write: ")
    assert "it lacks the dpf_write scope" in line
    # The read checks still ran, and passed.
    data = payload(run_check(certbot_runner.config_dir, "--json"))
    states = {(c["check"], c["state"]) for c in data["lineages"][0]["checks"]}
    assert ("token_read", "OK") in states and ("zone", "OK") in states
    assert READ_ONLY not in json.dumps(data)
    assert_read_only(emulator, before)


def test_a_colleagues_draft_in_the_zone_is_a_warning(
    emulator_factory: EmulatorFactory, certbot_runner: CertbotRunner
) -> None:
    emulator = emulator_factory(
        tokens=[TokenSpec(TOKEN), TokenSpec(COLLEAGUE, operator="SA0000002")]
    )
    issue(certbot_runner, emulator)
    emulator.stage_as(COLLEAGUE, ZONE, "draft.example.com.", "A", ["192.0.2.7"])
    before = snapshot(emulator, ZONE)
    emulator.clear_log()
    result = run_check(certbot_runner.config_dir)
    assert_clean(result, 1, COLLEAGUE)
    assert "example.com WARNING (staged)" in result.stdout.splitlines()[0]
    line = long_line(result, "  WARNING staged example.com: ")
    assert "draft.example.com A (to be added, by SA0000002)" in line
    assert "The plugin refuses to apply a zone that holds them" in line
    assert_read_only(emulator, before)
    draft = [r for r in emulator.records(ZONE) if r["name"] == "draft.example.com."]
    assert [r["state"] for r in draft] == [1]

    # An ACME client's challenge value, on the other hand, is not in the way.
    emulator.apply_as(COLLEAGUE, ZONE)
    emulator.stage_as(
        COLLEAGUE, ZONE, "_acme-challenge.example.com.", "TXT", ['"' + "k" * 43 + '"']
    )
    again = run_check(certbot_runner.config_dir)
    assert_clean(again, 0, COLLEAGUE)


# -- one pass per account ---------------------------------------------------------------


def test_one_zone_listing_per_token_and_one_read_per_zone(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(
        zones=[ZoneSpec(ZONE, SERVICE_CODE), ZoneSpec("example.net.", "dpm00000002")],
        tokens=[TokenSpec(TOKEN, operator="SA0000001"), TokenSpec("second", operator="SA0000002")],
    )
    first = plugin_credentials(tmp_path / "first.ini", emulator.api_url, TOKEN)
    # The same token in another file is the same account.
    copy = plugin_credentials(tmp_path / "copy.ini", emulator.api_url, TOKEN)
    second = plugin_credentials(tmp_path / "second.ini", emulator.api_url, "second")
    config_dir = tmp_path / "letsencrypt"
    for name, names, ini in [
        ("example.com", ["example.com", "*.example.com"], first),
        ("www.example.com", ["www.example.com"], first),
        ("example.net", ["example.net", "www.example.net"], copy),
        ("mail.example.com", ["mail.example.com"], second),
        ("mail.example.net", ["mail.example.net"], second),
    ]:
        make_lineage(config_dir, name, names, credentials=ini)
    before = snapshot(emulator, ZONE)
    result = run_check(config_dir)
    assert_clean(result, 0, "second")
    assert result.stdout.startswith("IIJDPF OK - 5 lineage(s) OK; ")

    log = emulator.request_log
    zone_ids = {emulator.zone_id(z): z for z in (ZONE, "example.net.")}
    for operator in ("SA0000001", "SA0000002"):
        mine = [e for e in log if e.operator == operator and e.method == "GET"]
        assert [e.path for e in mine].count("/zones") == 1, mine
        assert [e.path for e in mine].count("/ping") == 1, mine
        records = [e.path for e in mine if re.fullmatch(r"/zones/[^/]+/records", e.path)]
        assert sorted(zone_ids[p.split("/")[2]] for p in records) == [
            "example.com.",
            "example.net.",
        ]
        writes = [e for e in log if e.operator == operator and e.method != "GET"]
        assert [(e.method, e.status) for e in writes] == [("PATCH", 400)]
    assert_read_only(emulator, before)


# -- bad input ---------------------------------------------------------------------------


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An API endpoint that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/dpf/v1"


def test_bad_input_is_one_clear_line_each_and_the_rest_is_still_checked(
    emulator: Emulator, tmp_path: Path, silent_endpoint: str
) -> None:
    config_dir = tmp_path / "letsencrypt"
    good = credentials(tmp_path / "good.ini", emulator)
    make_lineage(config_dir, "good.example.com", ["good.example.com"], credentials=good)
    broken = config_dir / "renewal" / "broken.example.com.conf"
    broken.write_text("cert = /etc/letsencrypt/live/broken.example.com/cert.pem\n[renewalparams\n")
    make_lineage(config_dir, "nocert.example.com", ["nocert.example.com"], credentials=good)
    (config_dir / "archive" / "nocert.example.com" / "cert1.pem").unlink()
    gone = tmp_path / "gone.ini"
    make_lineage(config_dir, "nocreds.example.com", ["nocreds.example.com"], credentials=gone)
    wrong = plugin_credentials(tmp_path / "wrong.ini", emulator.api_url, "wrong-token-Zq81")
    make_lineage(config_dir, "wrong.example.com", ["wrong.example.com"], credentials=wrong)
    refused = plugin_credentials(tmp_path / "refused.ini", "http://127.0.0.1:9/dpf/v1", TOKEN)
    make_lineage(config_dir, "down.example.com", ["down.example.com"], credentials=refused)
    silent = plugin_credentials(tmp_path / "silent.ini", silent_endpoint, TOKEN)
    make_lineage(config_dir, "silent.example.com", ["silent.example.com"], credentials=silent)
    before = snapshot(emulator, ZONE)

    result = run_check(config_dir, "--timeout", "5")
    assert_clean(result, 2, "wrong-token-Zq81")
    states = {
        line.split(":")[0]: line.split(" - ")[0].split(": ")[1]
        for line in result.stdout.splitlines()[1:]
        if not line.startswith(" ")
    }
    assert states == {
        "good.example.com": "OK",
        "broken.example.com": "CRITICAL",
        "nocert.example.com": "CRITICAL",
        "nocreds.example.com": "CRITICAL",
        "wrong.example.com": "CRITICAL",
        "down.example.com": "CRITICAL",
        "silent.example.com": "CRITICAL",
    }, result.stdout
    assert f"CRITICAL renewal_conf: {broken} is broken (it is not valid INI at line 2)" in (
        long_line(result, "  CRITICAL renewal_conf: ")
    )
    missing_cert = config_dir / "live" / "nocert.example.com" / "cert.pem"
    assert f"the certificate file {missing_cert} is missing" in long_line(
        result, "  CRITICAL certificate: "
    )
    assert f"the credentials file {gone} is missing" in long_line(
        result, "  CRITICAL credentials: "
    )
    assert "DPF rejected the API token" in long_line(result, "  CRITICAL token_read: ")
    api_lines = [line for line in result.stdout.splitlines() if line.startswith("  CRITICAL api")]
    assert len(api_lines) == 2, result.stdout
    assert any("127.0.0.1:9" in line for line in api_lines), api_lines
    assert any("--timeout" in line for line in api_lines), api_lines
    # Each problem is one line: two per lineage at most (nocert: the certificate alone).
    assert len(result.stdout.splitlines()) == 1 + 7 + 6, result.stdout
    assert_read_only(emulator, before)


def test_files_only_root_may_read_are_unknown_for_another_user(emulator: Emulator) -> None:
    # Outside pytest's 0700 tmp_path, so that the other user can reach the renewal confs.
    config_dir = Path(tempfile.mkdtemp(prefix="check-unknown-"))
    try:
        config_dir.chmod(0o755)
        ini = credentials(config_dir / "iijdpf.ini", emulator)  # 0600, root's
        make_lineage(config_dir, LINEAGE, DOMAINS, credentials=ini)
        # As certbot leaves them: only root may enter live/ and archive/.
        for private in ("live", "archive"):
            (config_dir / private).chmod(0o700)
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        result = run_check(config_dir, prefix=nobody)
        assert_clean(result, 3)
        assert "example.com UNKNOWN (certificate, credentials)" in result.stdout.splitlines()[0]
        assert "permission denied; run the check as the user certbot runs as" in long_line(
            result, "  UNKNOWN certificate: "
        )
        assert f"cannot read the credentials file {ini}: permission denied" in long_line(
            result, "  UNKNOWN credentials: "
        )
        assert emulator.request_log == []
        # Bad options are UNKNOWN too, said where a monitoring system reads.
        usage = run_check(config_dir, "--warning-days", "5", "--critical-days", "7")
        assert usage.returncode == 3, describe(usage)
        assert usage.stdout == (
            "IIJDPF UNKNOWN - --critical-days must not be more than --warning-days\n"
        )
        assert "usage: python -m certbot_dns_iijdpf check" in usage.stderr
    finally:
        subprocess.run(["rm", "-rf", str(config_dir)], check=True)
