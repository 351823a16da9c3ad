"""Faults, leftovers of killed runs, other people's edits, concurrent hosts, secrets."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.dpf_emulator import FaultRule, JobFaultRule, TokenSpec
from tests.e2e.plugin_support import (
    certonly,
    challenge_rows,
    credentials,
    output,
    posted,
    signal_when,
    slow_nameservers,
    spawn_certonly,
    wait_until_served,
)
from tests.harness import CertbotRunner, write_ini
from tests.harness.dpf import CHALLENGE_NAME, TOKEN, ZONE

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e


def test_issuance_survives_an_api_failing_every_third_request(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    emulator.add_fault(FaultRule(503, methods=["GET"], every=3, retry_after=1))
    emulator.add_fault(
        FaultRule(429, methods=["POST", "PATCH", "DELETE"], every=3, retry_after=0.5)
    )
    emulator.add_fault(FaultRule("drop", every=7))
    emulator.add_fault(FaultRule(504, every=11))
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["*.example.com", "example.com"])
    assert result.returncode == 0, certbot_runner.describe(result)
    statuses = [entry.status for entry in emulator.request_log]
    assert statuses.count(503) + statuses.count(429) >= 3
    assert challenge_rows(emulator, ZONE) == []


def test_failed_apply_job_is_reported_and_cleaned_up(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    # Every apply fails: a failure that a re-read and another apply could cure
    # is not an error.
    emulator.add_fault(
        JobFaultRule("fail", kind="apply", error_type="SystemError", error_message="apply broke")
    )
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"])
    assert result.returncode != 0
    text = output(result)
    assert "FAILED: SystemError: apply broke" in text, text
    assert "Traceback" not in text
    assert challenge_rows(emulator, ZONE) == []
    assert wait_until_served(emulator, CHALLENGE_NAME, []) == [[], []]


def test_html_error_page_is_a_clear_error(
    emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    emulator.add_fault(FaultRule("html", methods=["GET"], path=r"^/zones$"))
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    result = certonly(certbot_runner, ini, ["example.com"])
    text = output(result)
    assert result.returncode != 0
    assert "not JSON" in text and "proxy" in text, text
    assert "Traceback" not in text


@pytest.mark.parametrize("phase", ["staged", "applied"])
def test_a_killed_run_does_not_poison_the_next(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner, phase: str
) -> None:
    # Slow jobs (staged) or slow nameservers (applied) hold certbot at the
    # chosen point long enough to kill it there.
    if phase == "staged":
        emulator = emulator_factory(job_seconds=3.0)
    else:
        emulator = emulator_factory(nameservers=slow_nameservers(5.0))
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    process = spawn_certonly(
        certbot_runner, ini, ["example.com"], "--dns-iijdpf-propagation-seconds", "60"
    )
    if phase == "staged":
        signal_when(process, lambda: posted(emulator), signal.SIGKILL)
    else:
        signal_when(process, lambda: emulator.applies(ZONE) == 1, signal.SIGKILL)
    # The killed run's last job (a 3 s write when staged) still ends.
    emulator.wait_jobs()
    emulator.set_job_seconds(0.2)
    left = challenge_rows(emulator, ZONE)
    assert [r["state"] for r in left] == [1 if phase == "staged" else 0]

    result = certonly(certbot_runner, ini, ["example.com"])
    assert result.returncode == 0, certbot_runner.describe(result)
    assert challenge_rows(emulator, ZONE) == []


@pytest.mark.parametrize("apply_scope", ["all", "own"])
def test_someone_elses_staged_edit_is_never_published(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner, apply_scope: str
) -> None:
    emulator = emulator_factory(
        apply_scope=apply_scope,
        tokens=[TokenSpec(token=TOKEN), TokenSpec(token="colleague", operator="SA0000002")],
    )
    emulator.stage_as("colleague", ZONE, "www.example.com.", "A", ["192.0.2.7"])
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)

    result = certonly(certbot_runner, ini, ["*.example.com", "example.com"])
    text = output(result)
    assert result.returncode != 0
    assert "www.example.com A (to be added, by SA0000002)" in text, text
    assert "--dns-iijdpf-publish-pending-edits" in text
    assert "Could not remove" not in text, text
    assert emulator.applies(ZONE) == 0
    www = [r for r in emulator.records(ZONE) if r["name"] == "www.example.com."]
    assert [r["state"] for r in www] == [1]
    assert challenge_rows(emulator, ZONE) == []

    # Opting in publishes the colleague's edit together with the challenge.
    result = certonly(
        certbot_runner, ini, ["*.example.com", "example.com"], "--dns-iijdpf-publish-pending-edits"
    )
    assert result.returncode == 0, certbot_runner.describe(result)
    www = [r for r in emulator.currents(ZONE) if r["name"] == "www.example.com."]
    staged = [r["state"] for r in emulator.records(ZONE) if r["name"] == "www.example.com."]
    if apply_scope == "all":
        assert (len(www), staged) == (1, [0])
    else:
        # An apply publishes only the caller's own edits: the draft stays staged.
        assert (www, staged) == ([], [1])
    assert challenge_rows(emulator, ZONE) == []


def test_two_hosts_at_the_same_name_at_the_same_time(
    emulator_factory: Callable[..., Emulator],
    certbot_factory: Callable[..., CertbotRunner],
    certbot_runner: CertbotRunner,
) -> None:
    emulator = emulator_factory(job_seconds=0.5)
    other = certbot_factory(certbot_runner.pebble, name="other-host")
    processes = []
    for runner, domain in ((certbot_runner, "example.com"), (other, "*.example.com")):
        ini = credentials(runner.base_dir / "iijdpf.ini", emulator)
        processes.append(spawn_certonly(runner, ini, [domain], "--cert-name", "cert"))
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n----\n".join(outputs)
    assert certbot_runner.cert_sans("cert") == {"example.com"}
    assert other.cert_sans("cert") == {"*.example.com"}
    assert challenge_rows(emulator, ZONE) == [], emulator.request_log


def test_token_never_appears_in_logs_or_output(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner
) -> None:
    secret = "tok-Sx9pQ2vL7mK4wZ1"
    emulator = emulator_factory(tokens=[TokenSpec(token=secret)])
    ini = write_ini(
        certbot_runner.base_dir / "iijdpf.ini",
        {"dns_iijdpf_api_token": secret, "dns_iijdpf_endpoint": emulator.api_url},
    )
    ok = certonly(certbot_runner, ini, ["*.example.com", "example.com"], "-vvv")
    assert ok.returncode == 0, certbot_runner.describe(ok)
    emulator.add_fault(JobFaultRule("fail", kind="apply"))
    failed = certonly(certbot_runner, ini, ["www.example.com"], "-vvv", "--cert-name", "www")
    assert failed.returncode != 0
    everything = output(ok) + output(failed) + certbot_runner.logs_text()
    assert secret not in everything
    for path in certbot_runner.base_dir.rglob("*"):
        if path.is_file() and path.name != "iijdpf.ini":
            assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("moment", ["write job running", "waiting for nameservers"])
def test_ctrl_c_still_cleans_up(
    emulator_factory: Callable[..., Emulator], certbot_runner: CertbotRunner, moment: str
) -> None:
    if moment == "write job running":
        emulator = emulator_factory(job_seconds=2.0)
    else:
        emulator = emulator_factory(nameservers=slow_nameservers(30.0))
    ini = credentials(certbot_runner.base_dir / "iijdpf.ini", emulator)
    process = spawn_certonly(certbot_runner, ini, ["*.example.com", "example.com"])
    if moment == "write job running":
        text = signal_when(process, lambda: posted(emulator), signal.SIGINT)
    else:
        text = signal_when(process, lambda: emulator.applies(ZONE) == 1, signal.SIGINT)
    assert process.returncode != 0
    assert challenge_rows(emulator, ZONE) == [], text
