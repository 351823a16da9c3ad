"""``python -m certbot_dns_iijdpf probe`` against the emulator, as a user runs it.

The read-only checks on a healthy account; the ``--write`` cycle under each
answer the emulator can give where DPF's documentation is silent (the probe
must report the answer it met and leave the zone as it found it); and the
accounts and zones the probe must turn down, without writing anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.dpf_emulator import (
    SWITCH_CASES,
    Emulator,
    EmulatorConfig,
    NameserverSpec,
    RequestLogEntry,
    TokenSpec,
    ZoneSpec,
)
from tests.e2e.plugin_support import (
    TOKEN,
    credentials,
    snapshot,
    wait_until_served,
)
from tests.harness import REPO_ROOT, in_test_netns, write_ini
from tests.harness.dpf import RESOLVER, SERVICE_CODE, ZONE

pytestmark = pytest.mark.e2e

DOMAIN = "www.example.com"
NAME = "_acme-challenge.www.example.com."
COLLEAGUE = "colleague-token"
ABSENT_RECORD = "/records/r00000000000000"
# Bounds the probe's wait for nameservers, so that a regression fails rather than hangs.
MAX_WAIT = "30"

EmulatorFactory = Callable[..., Emulator]


# -- running the probe -------------------------------------------------------------


def _environment() -> dict[str, str]:
    # The probe falls back to lego's IIJ_DPF_* variables; none may leak in.
    return {k: v for k, v in os.environ.items() if not k.startswith("IIJ_DPF_")}


def probe_command(ini: Path | str | None, *args: str) -> list[str]:
    command = [sys.executable, "-m", "certbot_dns_iijdpf", "probe"]
    if ini is not None:
        command += ["--dns-iijdpf-credentials", str(ini)]
    return [*command, *args]


def run_probe(ini: Path | str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        probe_command(ini, *args),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env=_environment(),
        stdin=subprocess.DEVNULL,
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def payload(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict), result.stdout
    return parsed


def statuses(data: dict[str, Any]) -> dict[str, set[str]]:
    """Check name -> the statuses it was reported with."""
    found: dict[str, set[str]] = {}
    for check in data["checks"]:
        found.setdefault(check["name"], set()).add(check["status"])
    return found


def line(result: subprocess.CompletedProcess[str], status: str, name: str) -> str:
    """The first table line with that status and check name (subject and detail follow)."""
    for text in result.stdout.splitlines():
        if text.startswith(f"{status:<8} {name} "):
            return text
    raise AssertionError(f"no {status!r} line for {name!r}\n{describe(result)}")


def assert_clean_failure(result: subprocess.CompletedProcess[str], secret: str = TOKEN) -> None:
    """Exit 1 for "certbot would fail", said in a line rather than a traceback."""
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stdout + result.stderr, describe(result)
    assert secret not in result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("Result: something above would make"), (
        describe(result)
    )


def accepted_writes(log: list[RequestLogEntry]) -> list[RequestLogEntry]:
    """Writes DPF accepted (202), lost answers included."""
    return [e for e in log if e.method != "GET" and (e.status == 202 or e.fault == "lost")]


def assert_wrote_nothing(emulator: Emulator, before: set[tuple[Any, ...]]) -> None:
    log = emulator.request_log
    assert accepted_writes(log) == [], log
    # The write-scope check is the only write, and DPF cannot act on it.
    for entry in log:
        if entry.method != "GET":
            assert (entry.method, entry.status) == ("PATCH", 400), entry
            assert entry.path.endswith(ABSENT_RECORD), entry
    assert snapshot(emulator, ZONE) == before
    assert emulator.applies() == 0


# -- read-only ---------------------------------------------------------------------


def test_read_only_checks_pass_on_a_healthy_account_and_change_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    ini = credentials(tmp_path / "iijdpf.ini", emulator)
    before = snapshot(emulator, ZONE)

    table = run_probe(ini, "-d", DOMAIN, "-d", "*.example.com,example.com")
    assert table.returncode == 0, describe(table)
    lines = table.stdout.splitlines()
    assert lines[0].startswith("certbot-dns-iijdpf ") and "(read-only checks)" in lines[0]
    assert lines[-1] == "Result: nothing found that would make certbot fail."
    assert all(text.startswith("ok ") for text in lines[1:-1]), table.stdout

    as_json = run_probe(ini, "-d", DOMAIN, "--json")
    assert as_json.returncode == 0, describe(as_json)
    data = payload(as_json)
    assert (data["exit_status"], data["failed"], data["write"]) == (0, False, False)
    assert data["domains"] == [DOMAIN]
    assert data["endpoint"] == emulator.api_url
    found = statuses(data)
    assert set(found) == {
        "credentials",
        "api",
        "token",
        "zone",
        "published",
        "zone proxy",
        "delegation",
        "cname",
        "dns",
        "staged",
    }, data["checks"]
    assert all(s == {"ok"} for s in found.values()), data["checks"]
    dns = [c["subject"] for c in data["checks"] if c["name"] == "dns"]
    assert dns == ["ns1.dpf-emulator.test", "ns2.dpf-emulator.test"]
    assert all("over UDP and TCP" in c["detail"] for c in data["checks"] if c["name"] == "dns")
    answers = data["answers"]
    assert answers["token_write_answer"] == "HTTP 400 not_found/record"
    assert (answers["zone_proxy_endpoint"], answers["zone_proxy_source"]) == (True, "endpoint")
    assert not {k for k in answers if k.startswith(("write", "state5", "empty", "delete"))}

    assert_wrote_nothing(emulator, before)
    assert {e.auth_scheme for e in emulator.request_log} == {"Bearer"}
    for result in (table, as_json):
        assert TOKEN not in result.stdout + result.stderr
        assert result.stderr == ""


# -- the write cycle under every answer -----------------------------------------------

WRITE_CASES: list[tuple[str, dict[str, Any]]] = [("defaults", {}), *SWITCH_CASES]
SWITCH_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(EmulatorConfig)
    if f.default is not dataclasses.MISSING
}


def expected_answers(switches: dict[str, Any]) -> dict[str, Any]:
    """What the probe must report under these emulator settings."""
    setting = {**SWITCH_DEFAULTS, **switches}
    return {
        "pending_add_state": 1,
        "pending_add_in_currents": False,
        "patch_pending_add": {"allow": "allowed", "forbidden": "refused"}[
            setting["patch_pending_add"]
        ],
        "delete_pending_add": {"forbidden": "refused", "cancel": "cancels", "stage": "stages"}[
            setting["delete_pending_add"]
        ],
        "state5_rows": not setting["hide_before_update_rows"],
        "currents_during_update": "old",
        "delete_pending_update": {"stage": "stages", "forbidden": "refused"}[
            setting["delete_pending_update"]
        ],
        "empty_apply": setting["empty_apply"],
        "zone_proxy_source": "endpoint",
        "zone_proxy_endpoint": True,
        "zone_proxy_field": not setting["omit_zone_proxy_field"],
    }


@dataclasses.dataclass
class WriteRun:
    switches: dict[str, Any]
    nameservers: list[str]
    result: subprocess.CompletedProcess[str]
    before: set[tuple[Any, ...]]
    after: set[tuple[Any, ...]]
    rows_at_name: list[dict[str, Any]]
    currents_at_name: list[dict[str, Any]]
    served: list[list[str]]
    log: list[RequestLogEntry]

    def describe(self) -> str:
        requests = "\n".join(str(e) for e in self.log)
        return f"{describe(self.result)}\n--- emulator request log\n{requests}"


def _case_nameservers(index: int) -> list[NameserverSpec]:
    return [
        NameserverSpec(f"ns1.case{index}.dpf-emulator.test.", f"127.0.{index}.53", 53, lag=0.2),
        NameserverSpec(f"ns2.case{index}.dpf-emulator.test.", f"127.0.{index}.54", 53, lag=0.5),
    ]


@pytest.fixture(scope="module")
def write_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, WriteRun]:
    """One ``probe --write --json`` per case, all at once, each against its own emulator.

    The probe paces its requests as it would against DPF, so one cycle takes
    seconds; side by side the cases cost about as much as one. Each emulator
    serves DNS on its own loopback addresses, and one resolver on 127.0.0.1
    (what the namespace's resolv.conf names) knows every nameserver's address.
    Everything is stopped before the tests look at the results, which frees
    the fixed ports for the other tests of this module.
    """
    if not in_test_netns():
        pytest.skip("e2e test: run inside scripts/in-netns")
    workdir = tmp_path_factory.mktemp("probe-write")
    groups = [_case_nameservers(index) for index in range(1, len(WRITE_CASES) + 1)]
    started: list[tuple[str, dict[str, Any], Emulator, set[Any], subprocess.Popen[str]]] = []
    runs: dict[str, WriteRun] = {}
    with contextlib.ExitStack() as stack:
        # The resolver's own nameserver listeners take free ports, beside the cases' port 53.
        everyone = [dataclasses.replace(ns, port=0) for group in groups for ns in group]
        stack.enter_context(
            Emulator(EmulatorConfig(zones=[], tokens=[], nameservers=everyone, resolver=RESOLVER))
        )
        for (case, switches), nameservers in zip(WRITE_CASES, groups):
            config = EmulatorConfig(
                zones=[ZoneSpec(ZONE, SERVICE_CODE)],
                tokens=[TokenSpec(TOKEN)],
                nameservers=nameservers,
                job_seconds=0.2,
                **switches,
            )
            emulator = stack.enter_context(Emulator(config))
            ini = credentials(workdir / f"{case}.ini", emulator)
            command = probe_command(ini, "-d", DOMAIN, "--write", "--json", "--max-wait", MAX_WAIT)
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                cwd=REPO_ROOT,
                env=_environment(),
            )
            started.append((case, switches, emulator, snapshot(emulator, ZONE), process))
        for case, switches, emulator, before, process in started:
            try:
                stdout, stderr = process.communicate(timeout=240)
            except subprocess.TimeoutExpired:
                # Reported by that case's test, with whatever the probe printed.
                process.kill()
                stdout, stderr = process.communicate()
            result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            runs[case] = WriteRun(
                switches=switches,
                nameservers=sorted(ns.hostname for ns in emulator.config.nameservers),
                result=result,
                before=before,
                after=snapshot(emulator, ZONE),
                rows_at_name=[r for r in emulator.records(ZONE) if r["name"] == NAME],
                currents_at_name=[r for r in emulator.currents(ZONE) if r["name"] == NAME],
                served=wait_until_served(emulator, NAME, []),
                log=emulator.request_log,
            )
    return runs


@pytest.mark.parametrize("case", [c for c, _ in WRITE_CASES])
def test_write_cycle_reports_what_dpf_did_and_leaves_nothing(
    write_runs: dict[str, WriteRun], case: str
) -> None:
    run = write_runs[case]
    result = run.result
    assert result.returncode == 0, run.describe()
    assert "Traceback" not in result.stderr, run.describe()
    assert TOKEN not in result.stdout + result.stderr
    data = payload(result)
    assert (data["exit_status"], data["failed"], data["write"]) == (0, False, True)
    found = statuses(data)
    assert not any("failed" in s for s in found.values()), run.describe()
    for step in ("write post", "write apply", "write withdraw", "write cleanup"):
        assert found.get(step) == {"ok"}, run.describe()

    answers = data["answers"]
    expected = expected_answers(run.switches)
    assert {k: answers.get(k) for k in expected} == expected, run.describe()
    for key in ("nameserver_seconds", "nameserver_removal_seconds"):
        seconds = answers[key]
        assert sorted(seconds) == run.nameservers, run.describe()
        assert all(isinstance(s, float) and 0 <= s < float(MAX_WAIT) for s in seconds.values())

    lost = [e for e in run.log if e.fault == "lost"]
    if run.switches.get("lost_answers_every"):
        # Lost answers happened, the probe noticed each and still finished.
        assert lost, run.describe()
        assert answers["lost_answers"] == len(lost), run.describe()
        assert found["write lost answers"] == {"warning"}
        expected_status = 504 if run.switches.get("lost_answer_mode", "504") == "504" else None
        assert {e.status for e in lost} == {expected_status}
    else:
        assert lost == [] and answers["lost_answers"] == 0
    if run.switches.get("page_size_cap"):
        later_pages = [e for e in run.log if e.query.get("offset", ["0"]) != ["0"]]
        assert later_pages, "the zone's listings never needed a second page"

    # Nothing of the probe is left: not staged, not applied, not served.
    assert run.rows_at_name == [], run.describe()
    assert run.currents_at_name == [], run.describe()
    assert run.after == run.before
    assert run.served == [[], []]
    # It wrote at the challenge name of the -d name and nowhere else.
    posts = [e for e in run.log if e.method == "POST"]
    assert posts and all(e.body["name"] == NAME for e in posts)


# -- what the probe must turn down ----------------------------------------------------


def test_a_rejected_token_is_one_clear_line(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory()
    wrong = "wrong-token-Zq81vK"
    ini = write_ini(
        tmp_path / "iijdpf.ini",
        {"dns_iijdpf_api_token": wrong, "dns_iijdpf_endpoint": emulator.api_url},
    )
    before = snapshot(emulator, ZONE)
    result = run_probe(ini, "-d", DOMAIN, "--write")
    assert_clean_failure(result, wrong)
    assert "DPF rejected the API token" in line(result, "failed", "token read")
    assert "not started" in line(result, "failed", "write")
    as_json = run_probe(ini, "-d", DOMAIN, "--json")
    assert as_json.returncode == 1
    assert wrong not in as_json.stdout + as_json.stderr
    data = payload(as_json)
    assert (data["exit_status"], data["failed"]) == (1, True)
    assert statuses(data)["token"] == {"failed"}
    assert accepted_writes(emulator.request_log) == []
    assert snapshot(emulator, ZONE) == before


def test_a_token_without_dpf_write_is_caught_without_writing(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(tokens=[TokenSpec(TOKEN, scopes=("dpf_read",))])
    ini = credentials(tmp_path / "iijdpf.ini", emulator)
    before = snapshot(emulator, ZONE)
    result = run_probe(ini, "-d", DOMAIN, "--write")
    assert_clean_failure(result)
    assert line(result, "ok", "token read")
    assert "dpf_write" in line(result, "failed", "token write")
    assert "not started" in line(result, "failed", "write")
    assert_wrote_nothing(emulator, before)


def test_a_name_in_no_visible_zone(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    # example.net exists, but the token's user has no rights on it.
    emulator = emulator_factory(
        zones=[ZoneSpec(ZONE, SERVICE_CODE), ZoneSpec("example.net.", "dpm00000002")],
        tokens=[TokenSpec(TOKEN, zones=[ZONE])],
    )
    ini = credentials(tmp_path / "iijdpf.ini", emulator)
    before = snapshot(emulator, ZONE)
    result = run_probe(ini, "-d", DOMAIN, "-d", "www.example.net", "--write")
    assert_clean_failure(result)
    assert line(result, "ok", "zone _acme-challenge.www.example.com")
    missing = line(result, "failed", "zone _acme-challenge.www.example.net")
    assert "no zone the token sees holds this name" in missing
    assert "not started" in line(result, "failed", "write")
    assert_wrote_nothing(emulator, before)


def test_two_zones_of_one_name_need_a_service_code(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(zones=[ZoneSpec(ZONE, SERVICE_CODE), ZoneSpec(ZONE, "dpm00000002")])
    before = snapshot(emulator, ZONE)
    ini = credentials(tmp_path / "iijdpf.ini", emulator)
    result = run_probe(ini, "-d", DOMAIN)
    assert_clean_failure(result)
    twice = line(result, "failed", "zone _acme-challenge.www.example.com")
    assert "2 zones named example.com (service codes dpm00000001, dpm00000002)" in twice
    assert "dns_iijdpf_service_codes" in twice

    chosen = credentials(tmp_path / "chosen.ini", emulator, service_codes=SERVICE_CODE)
    result = run_probe(chosen, "-d", DOMAIN)
    assert result.returncode == 0, describe(result)
    assert "(dpm00000001, " in line(result, "ok", "zone _acme-challenge.www.example.com")
    assert_wrote_nothing(emulator, before)


def test_an_unpublished_zone(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    emulator = emulator_factory(zones=[ZoneSpec(ZONE, SERVICE_CODE, state=1)])
    ini = credentials(tmp_path / "iijdpf.ini", emulator)
    before = snapshot(emulator, ZONE)
    result = run_probe(ini, "-d", DOMAIN, "--write")
    assert_clean_failure(result)
    assert "not published" in line(result, "failed", "published example.com")
    # Its nameservers answer REFUSED: certbot's wait for them would never end.
    assert "does not serve zone example.com" in line(result, "failed", "dns ns1.dpf-emulator.test")
    assert "not started" in line(result, "failed", "write")
    assert_wrote_nothing(emulator, before)


def test_a_zone_with_zone_proxy_on(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    # As in API 3.7.0: the zone object has no zone_proxy_enabled, only the endpoint tells.
    emulator = emulator_factory(
        zones=[ZoneSpec(ZONE, SERVICE_CODE, proxy_enabled=True)], omit_zone_proxy_field=True
    )
    ini = credentials(tmp_path / "iijdpf.ini", emulator)
    before = snapshot(emulator, ZONE)
    result = run_probe(ini, "-d", DOMAIN, "--write")
    assert_clean_failure(result)
    proxy = line(result, "failed", "zone proxy example.com")
    assert "zone proxy is enabled (GET /zones/{id}/zone_proxy)" in proxy
    assert "not started" in line(result, "failed", "write")
    assert_wrote_nothing(emulator, before)


def test_a_colleagues_staged_edit_keeps_the_write_cycle_from_starting(
    emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    emulator = emulator_factory(
        tokens=[TokenSpec(TOKEN), TokenSpec(COLLEAGUE, operator="SA0000002")]
    )
    emulator.stage_as(COLLEAGUE, ZONE, "draft.example.com.", "A", ["192.0.2.7"])
    ini = credentials(tmp_path / "iijdpf.ini", emulator)
    before = snapshot(emulator, ZONE)

    read_only = run_probe(ini, "-d", DOMAIN)
    assert read_only.returncode == 0, describe(read_only)
    staged = line(read_only, "warning", "staged example.com")
    assert "draft.example.com A (to be added, by SA0000002)" in staged

    result = run_probe(ini, "-d", DOMAIN, "--write")
    assert_clean_failure(result)
    assert "refused to start" in line(result, "failed", "write")
    assert "Nothing was written" in line(result, "failed", "write")
    assert_wrote_nothing(emulator, before)
    draft = [r for r in emulator.records(ZONE) if r["name"] == "draft.example.com."]
    assert [r["state"] for r in draft] == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dns-iijdpf-credentials", "/nonexistent/iijdpf.ini", "-d", DOMAIN], "not found"),
        (["--dns-iijdpf-credentials", "/", "-d", DOMAIN], "is a directory"),
        (["-d", DOMAIN], "no credentials"),
        (["--dns-iijdpf-credentials", "/nonexistent/iijdpf.ini"], "at least one -d"),
        (["--dns-iijdpf-credentials", "/nonexistent/iijdpf.ini", "-d", "a b"], "not a domain"),
        (["-d", DOMAIN, "--max-wait", "0"], "--max-wait"),
        (["-d", DOMAIN, "--no-such-option"], "unrecognized arguments"),
    ],
    ids=[
        "missing-file",
        "directory",
        "no-credentials",
        "no-domain",
        "bad-domain",
        "bad-max-wait",
        "unknown-option",
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = run_probe(None, *args)
    assert result.returncode == 2, describe(result)
    assert message in result.stderr, describe(result)
    assert "usage: python -m certbot_dns_iijdpf probe" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
