"""The operator's workflow: issue, serve with nginx or Apache, renew, reload by the shipped hooks.

What an operator does with contrib/: issue ``*.example.com`` + ``example.com``
with ``--deploy-hook`` set to contrib/renewal-hooks/deploy/reload-nginx (or
reload-httpd), point the web server at certbot's live/ directory, and let
``certbot renew`` (from the timer or cron) renew and reload. The servers run
on loopback with their own configuration (tests/e2e/webservers.py); the hooks
find them through NGINX_CONF / APACHE_CONF.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.dpf_emulator import JobFaultRule
from tests.e2e.plugin_support import (
    certonly,
    challenge_rows,
    credentials,
    output,
    wait_until_served,
)
from tests.e2e.webservers import WebServer, make_server
from tests.harness import CertbotRunner, Diagnostics, write_executable
from tests.harness.dpf import CHALLENGE_NAME, ZONE

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = pytest.mark.e2e

LINEAGE = "example.com"
DOMAINS = ["*.example.com", "example.com"]

WebFactory = Callable[[str], WebServer]


@pytest.fixture
def web_factory(tmp_path: Path, diagnostics: Diagnostics) -> Iterator[WebFactory]:
    """``make("nginx" | "httpd") -> WebServer`` (started, stopped at teardown)."""
    started: list[WebServer] = []

    def make(kind: str) -> WebServer:
        server = make_server(kind, tmp_path / kind)
        started.append(server)
        diagnostics.add(f"{kind} logs", server.logs)
        server.start()
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture(params=["nginx", "httpd"])
def web(request: pytest.FixtureRequest, web_factory: WebFactory) -> WebServer:
    kind: str = request.param
    return web_factory(kind)


def record_deploys(runner: CertbotRunner) -> Path:
    """Install a deploy hook in the config dir's renewal-hooks/deploy/ that logs each run.

    certbot runs every executable there for each renewed lineage, like
    /etc/letsencrypt/renewal-hooks/deploy/ on a real host.
    """
    record = runner.base_dir / "deploys.txt"
    record.touch()
    write_executable(
        runner.config_dir / "renewal-hooks" / "deploy" / "00-record",
        f'#!/bin/sh\necho "$RENEWED_LINEAGE" >> {record}\n',
    )
    return record


def issue_and_serve(web: WebServer, emulator: Emulator, runner: CertbotRunner) -> int:
    """Issue with the shipped hook as --deploy-hook, then serve the lineage; its serial."""
    ini = credentials(runner.base_dir / "iijdpf.ini", emulator)
    reloads = web.reloads()
    issued = certonly(runner, ini, DOMAINS, "--deploy-hook", str(web.hook), env=web.hook_env())
    assert issued.returncode == 0, runner.describe(issued)
    assert runner.cert_sans(LINEAGE) == set(DOMAINS)
    assert f"renew_hook = {web.hook}" in runner.renewal_conf(LINEAGE)
    # The hook ran at issuance and reloaded the server, which still has the
    # configuration it had (a placeholder certificate).
    assert f"{web.hook_name}: reloaded" in output(issued) + runner.latest_log_text()
    assert web.wait_for_reloads(reloads + 1) == reloads + 1
    assert web.serial() == web.placeholder_serial

    # The operator points the server at the lineage and runs the hook once by hand.
    web.use_certificate(runner.live_dir(LINEAGE))
    by_hand = web.run_hook()
    assert by_hand.returncode == 0, by_hand.stdout + by_hand.stderr
    serial = runner.live_cert(LINEAGE).serial_number
    assert web.wait_for_serial(serial) == serial
    return serial


def test_issue_serve_and_renew_reloads_the_server(
    web: WebServer, emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    first = issue_and_serve(web, emulator, certbot_runner)
    deploys = record_deploys(certbot_runner)
    reloads = web.reloads()

    # The saved deploy hook runs again on renewal, with the environment of the
    # renewing certbot (a timer's or cron's on a real host).
    renewed = certbot_runner.run(["renew", "--force-renewal"], env=web.hook_env())
    assert renewed.returncode == 0, certbot_runner.describe(renewed)
    second = certbot_runner.live_cert(LINEAGE).serial_number
    assert second != first
    assert web.wait_for_serial(second) == second
    assert web.wait_for_reloads(reloads + 1) == reloads + 1
    assert f"{web.hook_name}: reloaded" in output(renewed) + certbot_runner.latest_log_text()
    assert deploys.read_text().split() == [str(certbot_runner.live_dir(LINEAGE))]
    assert web.running
    assert challenge_rows(emulator, ZONE) == []


def test_failed_renewal_runs_no_deploy_hook_and_keeps_serving(
    web: WebServer, emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    first = issue_and_serve(web, emulator, certbot_runner)
    deploys = record_deploys(certbot_runner)
    reloads = web.reloads()

    # Every zone apply fails: the challenge never reaches DNS, the order fails.
    emulator.add_fault(JobFaultRule("fail", kind="apply", times=10))
    failed = certbot_runner.run(["renew", "--force-renewal"], env=web.hook_env())
    assert failed.returncode != 0, certbot_runner.describe(failed)
    assert "1 renew failure(s)" in output(failed), certbot_runner.describe(failed)
    assert "apply zone example.com" in certbot_runner.latest_log_text()

    assert certbot_runner.live_cert(LINEAGE).serial_number == first
    assert deploys.read_text() == ""
    assert f"{web.hook_name}:" not in output(failed)
    assert web.reloads() == reloads
    assert web.running
    assert web.serial() == first


def test_dry_run_goes_through_dns_and_changes_nothing(
    web_factory: WebFactory, emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    web = web_factory("nginx")
    first = issue_and_serve(web, emulator, certbot_runner)
    deploys = record_deploys(certbot_runner)
    reloads = web.reloads()
    applies = emulator.applies(ZONE)
    emulator.clear_log()

    dry = certbot_runner.run(["renew", "--dry-run"], env=web.hook_env())
    assert dry.returncode == 0, certbot_runner.describe(dry)
    assert "simulat" in output(dry).lower()

    # The challenge was published and removed for real: one apply each.
    patches = [
        entry
        for entry in emulator.request_log
        if entry.method == "PATCH" and entry.path.endswith("/changes")
    ]
    assert len(patches) == 2, emulator.request_log
    assert all(entry.status == 202 for entry in patches), patches
    assert emulator.applies(ZONE) == applies + 2
    assert challenge_rows(emulator, ZONE) == []
    assert wait_until_served(emulator, CHALLENGE_NAME, []) == [[], []]

    # A dry run saves nothing and deploys nothing.
    assert certbot_runner.live_cert(LINEAGE).serial_number == first
    assert deploys.read_text() == ""
    assert web.reloads() == reloads
    assert web.serial() == first


def test_quiet_renewal_prints_only_a_failure(
    web: WebServer, emulator: Emulator, certbot_runner: CertbotRunner
) -> None:
    """contrib/cron/certbot-renew: cron mails what `renew -q` prints, so only a failure."""
    issue_and_serve(web, emulator, certbot_runner)
    renewed = certbot_runner.run(["renew", "-q", "--force-renewal"], env=web.hook_env())
    assert renewed.returncode == 0, certbot_runner.describe(renewed)
    assert output(renewed) == "", certbot_runner.describe(renewed)

    emulator.stop()
    failed = certbot_runner.run(["renew", "-q", "--force-renewal"], env=web.hook_env())
    assert failed.returncode != 0, certbot_runner.describe(failed)
    assert re.search(
        r"Failed to renew certificate example\.com with error: Could not reach the DPF API",
        output(failed),
    ), certbot_runner.describe(failed)
