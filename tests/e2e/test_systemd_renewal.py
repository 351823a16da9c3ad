"""The renewal cycle under a real systemd, with nginx and Apache serving the certificate.

A Debian 12 container (tests/harness/container.py) boots with systemd as PID
1 on the test's network, where the DPF emulator and Pebble run. Inside it the
plugin is installed the way README.md tells an operator, with the README's own
command blocks (a README that drifts from what works fails here; README.ja.md
must carry the same commands), from a copy of this repository:

- the virtual environment /opt/certbot with certbot and the plugin's wheel,
  the units from contrib/systemd/ with certbot-renew.timer enabled;
- Debian's own certbot 2.1 with the plugin in /opt/certbot-iijdpf and the
  README's drop-in for Debian's certbot.service and certbot.timer.

Then the deploy hooks from contrib/renewal-hooks/deploy/, and nginx (port 443)
and Apache (port 8443) serving the certificate from live/. Pebble's listener
CA is in the system store, and the virtual environment's certbot is pointed
at that store (REQUESTS_CA_BUNDLE), as for any private CA; Debian's certifi
uses the store already.

The renewal service runs as systemd starts it: for certbot-renew.service
first before certbot ever ran (the 226/NAMESPACE of a fresh install), then
with a renewal due (forced in /etc/letsencrypt/cli.ini, which leaves the unit
as shipped), then with the DPF API down.
"""

from __future__ import annotations

import email.message
import mailbox
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.harness import PKI, REPO_ROOT, Diagnostics, Pebble
from tests.harness.container import (
    WHEELHOUSE_IN_CONTAINER,
    Container,
    Rootfs,
    copy_source_tree,
    describe,
    ensure_rootfs,
    ensure_wheelhouse,
    project_requirements,
    require_programs,
    watch,
)
from tests.harness.dpf import TOKEN
from tests.harness.waiting import poll_until

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.systemd]

CLONE = "/root/certbot-dns-iijdpf"
LINEAGE = "example.com"
LIVE = f"/etc/letsencrypt/live/{LINEAGE}"
NGINX_PORT = 443
APACHE_PORT = 8443
PEBBLE_CA = "/usr/local/share/ca-certificates/e2e-pebble-listener.crt"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class Route:
    """One way the README installs the plugin and renews."""

    certbot: str  # the command the operator types for certbot
    service: str
    timer: str


VENV = Route("certbot", "certbot-renew.service", "certbot-renew.timer")
CHECK_SERVICE = "certbot-dns-iijdpf-check.service"
DEBIAN = Route(
    "/opt/certbot-iijdpf/bin/python /usr/bin/certbot", "certbot.service", "certbot.timer"
)

# The wheelhouse stands in for PyPI: the container shares the test's network
# namespace, which has no way out.
OFFLINE_PIP = {
    "PIP_NO_INDEX": "1",
    "PIP_FIND_LINKS": WHEELHOUSE_IN_CONTAINER,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "DEBIAN_FRONTEND": "noninteractive",
}


# -- the README's commands ---------------------------------------------------------------


def code_blocks(markdown: str) -> list[str]:
    """The indented code blocks (4 spaces, or more inside a list item), dedented.

    As in Markdown, a block starts after a blank line and goes on while lines
    are indented at least as far as its first one (blank lines included).
    """
    blocks: list[str] = []
    current: list[str] = []
    indent = 0
    after_blank = True
    for line in [*markdown.splitlines(), ""]:
        width = len(line) - len(line.lstrip(" "))
        blank = not line.strip()
        if current:
            if blank or width >= indent:
                current.append(line[indent:])
                continue
            blocks.append("\n".join(current).strip("\n") + "\n")
            current = []
        if not blank and width >= 4 and after_blank:
            indent = width
            current = [line[indent:]]
        after_blank = blank
    if current:
        blocks.append("\n".join(current).strip("\n") + "\n")
    return blocks


def readme_block(marker: str, readme: Path = REPO_ROOT / "README.md") -> str:
    """The one code block of ``readme`` that contains ``marker``."""
    found = [block for block in code_blocks(readme.read_text()) if marker in block]
    assert len(found) == 1, f"{readme.name}: {len(found)} code blocks contain {marker!r}"
    return found[0]


def readme_commands(marker: str) -> str:
    """The block from README.md; README.ja.md must carry the very same commands."""
    block = readme_block(marker)
    translated = readme_block(marker, REPO_ROOT / "README.ja.md")
    assert translated == block, "README.md and README.ja.md give different commands"
    return block


# -- the container -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def system_image() -> tuple[Rootfs, Path]:
    """The cached Debian 12 tree and the wheels of certbot and the plugin's dependencies."""
    require_programs()
    rootfs = ensure_rootfs()
    return rootfs, ensure_wheelhouse(rootfs, project_requirements())


@pytest.fixture
def container(
    tmp_path: Path, diagnostics: Diagnostics, system_image: tuple[Rootfs, Path]
) -> Iterator[Container]:
    rootfs, wheelhouse = system_image
    machine = Container(
        rootfs.path,
        tmp_path / "container",
        machine=f"certbot-e2e-{os.getpid()}",
        read_only_binds={wheelhouse: WHEELHOUSE_IN_CONTAINER},
    )
    watch(machine, diagnostics)
    with machine:
        yield machine


def wheel_name() -> str:
    """The file `pip wheel` makes of this version of the project."""
    return f"dist/certbot_dns_iijdpf-{metadata.version('certbot-dns-iijdpf')}-py3-none-any.whl"


def trust_pebble(container: Container, pki: PKI) -> None:
    """Pebble's listener CA into the system store, as an operator adds a private CA."""
    container.write(PEBBLE_CA, pki.ca_pem.read_text())
    container.run(["update-ca-certificates"])


def install_in_a_venv(container: Container) -> None:
    """README, Installing, Debian / Ubuntu: the virtual environment; Renewal: the timer."""
    copy_source_tree(container.path(CLONE))
    install = readme_commands("python3 -m venv /opt/certbot\n")
    assert wheel_name() in install, f"the README installs another wheel than {wheel_name()}"
    container.sh(install, cwd=CLONE, env=OFFLINE_PIP)
    container.sh(readme_commands("systemctl enable --now certbot-renew.timer"), cwd=CLONE)
    container.write(
        "/etc/systemd/system/certbot-renew.service.d/private-ca.conf",
        f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={SYSTEM_BUNDLE}\n",
    )
    container.run(["systemctl", "daemon-reload"])


def install_with_debians_certbot(container: Container) -> None:
    """README, Installing, Debian / Ubuntu: Debian's certbot, the plugin beside it, the drop-in."""
    copy_source_tree(container.path(CLONE))
    # `apt install` asks before it installs; the packages come from the
    # image's apt cache (the container has no way out).
    container.write("/etc/apt/apt.conf.d/90e2e-assume-yes", 'APT::Get::Assume-Yes "true";\n')
    install = readme_commands("python3 -m venv --system-site-packages /opt/certbot-iijdpf")
    assert wheel_name() in install, f"the README installs another wheel than {wheel_name()}"
    container.sh(install, cwd=CLONE, env=OFFLINE_PIP)
    container.sh(readme_commands("/etc/systemd/system/certbot.service.d/iijdpf.conf"))


def check_plugins(container: Container, route: Route) -> None:
    """The README's check: `certbot plugins` lists dns-iijdpf."""
    plugins = container.sh(f"{route.certbot} plugins")
    assert re.search(r"^\* dns-iijdpf$", plugins.stdout, re.MULTILINE), describe(plugins)


def write_credentials(container: Container, emulator: Emulator) -> None:
    # The README's credentials file, pointed at the emulator (plain http is
    # allowed for loopback only).
    container.run(["mkdir", "-p", "/etc/letsencrypt"])
    container.write(
        "/etc/letsencrypt/iijdpf.ini",
        f"dns_iijdpf_api_token = {TOKEN}\ndns_iijdpf_endpoint = {emulator.api_url}\n",
        mode=0o600,
    )


NGINX_SITE = f"""server {{
    listen 127.0.0.1:{NGINX_PORT} ssl;
    server_name {LINEAGE};
    ssl_certificate {LIVE}/fullchain.pem;
    ssl_certificate_key {LIVE}/privkey.pem;
    location / {{ return 200 "nginx\\n"; }}
}}
"""

APACHE_SITE = f"""<VirtualHost 127.0.0.1:{APACHE_PORT}>
    ServerName {LINEAGE}
    SSLEngine on
    SSLCertificateFile {LIVE}/fullchain.pem
    SSLCertificateKeyFile {LIVE}/privkey.pem
    DocumentRoot /var/www/html
</VirtualHost>
"""


def serve_the_lineage(container: Container) -> None:
    """nginx and Apache on TLS with the live/ paths (contrib/README.md), on their own ports."""
    container.write("/etc/nginx/sites-available/example-tls", NGINX_SITE)
    container.write("/etc/apache2/sites-available/example-tls.conf", APACHE_SITE)
    container.write("/etc/apache2/ports.conf", f"Listen 127.0.0.1:{APACHE_PORT} https\n")
    container.sh(
        "rm -f /etc/nginx/sites-enabled/default\n"
        "ln -s /etc/nginx/sites-available/example-tls /etc/nginx/sites-enabled/\n"
        "a2dissite -q 000-default\n"
        "a2enmod -q ssl\n"
        "a2ensite -q example-tls\n"
        "systemctl restart nginx.service apache2.service\n"
    )
    for unit in ("nginx.service", "apache2.service"):
        state = container.run(["systemctl", "is-active", unit], check=False)
        assert state.stdout.strip() == "active", container.journal("-u", unit, "-n", "30")


def hex_serial(text: str) -> int:
    match = re.search(r"serial=([0-9A-Fa-f]+)", text)
    assert match, text
    return int(match.group(1), 16)


def live_serial(container: Container) -> int:
    shown = container.run(["openssl", "x509", "-noout", "-serial", "-in", f"{LIVE}/cert.pem"])
    return hex_serial(shown.stdout)


def served_serial(container: Container, port: int) -> int | None:
    """The serial of the certificate served on ``port`` (openssl s_client), None if nothing."""
    shown = container.sh(
        f"openssl s_client -connect 127.0.0.1:{port} -servername {LINEAGE} </dev/null "
        "2>/dev/null | openssl x509 -noout -serial",
        check=False,
    )
    return hex_serial(shown.stdout) if shown.returncode == 0 else None


def both_serve(container: Container, serial: int, timeout: float = 20) -> dict[int, int | None]:
    seen: dict[int, int | None] = {}

    def check() -> bool:
        for port in (NGINX_PORT, APACHE_PORT):
            seen[port] = served_serial(container, port)
        return all(value == serial for value in seen.values())

    # Each check runs openssl in the container: poll at a gentler pace.
    poll_until(check, timeout, interval=0.5)
    return seen


def reloads(container: Container) -> list[str]:
    """Every reload of nginx and Apache since the container booted, as systemd logged it."""
    text = container.journal("--boot", "-u", "nginx.service", "-u", "apache2.service")
    return [
        line for line in text.splitlines() if re.search(r"Reloaded (nginx|apache2)\.service", line)
    ]


@dataclass
class UnitRun:
    """One ``systemctl start`` of a oneshot service: how it ended and what it logged."""

    started: subprocess.CompletedProcess[str]
    result: str
    status: str
    journal: str

    def explain(self) -> str:
        return (
            f"{describe(self.started)}\nResult={self.result} status={self.status}\n{self.journal}"
        )


def start_unit(container: Container, unit: str) -> UnitRun:
    """``systemctl start`` (it waits for a oneshot to end); the run's journal by invocation ID."""
    started = container.run(["systemctl", "start", unit], check=False, timeout=900)
    shown = container.run(
        ["systemctl", "show", unit, "--property=Result,ExecMainStatus,InvocationID"]
    )
    properties = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    invocation = properties["InvocationID"]
    # systemd's own lines about the run carry INVOCATION_ID, the service's output
    # _SYSTEMD_INVOCATION_ID.
    journal = container.journal(
        f"INVOCATION_ID={invocation}", "+", f"_SYSTEMD_INVOCATION_ID={invocation}"
    )
    return UnitRun(started, properties["Result"], properties["ExecMainStatus"], journal)


def record(capsys: pytest.CaptureFixture[str], title: str, text: str) -> None:
    """Print to the test output even when pytest captures it."""
    with capsys.disabled():
        print(f"\n---- {title} ----\n{text.rstrip()}\n---- end of {title} ----")


# -- the failure notices ------------------------------------------------------------------

# dma (in the image) delivers root's mail here, without a daemon.
MAILBOX = "/var/mail/root"
REJECTED_TOKEN = "rejected-token-0123456789"


def mails(container: Container) -> list[email.message.Message]:
    """Root's mailbox, oldest first."""
    path = container.path(MAILBOX)
    if not path.exists():
        return []
    return [email.message_from_bytes(m.as_bytes()) for m in mailbox.mbox(str(path), create=False)]


def body(message: email.message.Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes), message
    return payload.decode("utf-8", errors="replace")


def notice_for(container: Container, unit: str, before: int) -> email.message.Message:
    """The one mail certbot-notify-failure@UNIT sent after ``before`` mails were there."""
    notifier = f"certbot-notify-failure@{unit}.service"

    def delivered() -> bool:
        return len(mails(container)) > before

    # The notifier's unit ends when sendmail took the mail; dma may still be
    # delivering it then.
    assert poll_until(delivered, 60, interval=0.5), container.journal("-u", notifier) + mail_state(
        container
    )
    shown = container.run(["systemctl", "show", notifier, "--property=Result", "--value"])
    assert shown.stdout.strip() == "success", container.journal("-u", notifier)
    got = mails(container)
    assert len(got) == before + 1, [m["Subject"] for m in got]
    notice = got[-1]
    assert notice["Subject"] == f"{unit} failed on {container_hostname(container)}", notice
    assert unit in body(notice)
    return notice


def container_hostname(container: Container) -> str:
    return container.run(["uname", "-n"]).stdout.strip()


def no_notice(container: Container, unit: str, before: int) -> None:
    """A run of ``unit`` that succeeded started no notifier and sent no mail."""
    # OnFailure= loads the notifier's unit; an InvocationID shows it ever ran.
    notifier = f"certbot-notify-failure@{unit}.service"
    ran = container.run(["systemctl", "show", notifier, "--property=InvocationID", "--value"])
    assert ran.stdout.strip() == "", container.journal("-u", notifier)
    assert len(mails(container)) == before, [m["Subject"] for m in mails(container)]


def token_nowhere_in_the_mail(container: Container) -> None:
    text = container.path(MAILBOX).read_text(errors="replace")
    for token in (TOKEN, REJECTED_TOKEN):
        assert token not in text


def send_a_test_notification(container: Container) -> None:
    """README: `certbot-notify-failure --test` mails root and says so."""
    tested = container.run(["certbot-notify-failure", "--test"], check=False)
    assert tested.returncode == 0, describe(tested)
    assert "test notification sent (mail to root)" in tested.stdout, describe(tested)
    # sendmail took the mail; dma delivers it a moment later.
    assert poll_until(lambda: len(mails(container)) == 1, 60, interval=0.5), mail_state(container)
    assert mails(container)[0]["Subject"].startswith("test notification from")


def mail_state(container: Container) -> str:
    """Where the mail went instead: the mail directories and dma's spool, and its log."""
    listed = container.sh(
        "ls -la /var/mail /var/spool/dma 2>&1; cat /etc/dma/dma.conf", check=False
    )
    return listed.stdout + container.journal("-b", "-n", "40")


def fail_with_a_rejected_token(
    container: Container, route: Route, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token DPF rejects: the renewal fails and its mail says what to do."""
    container.write(
        "/etc/letsencrypt/iijdpf.ini",
        f"dns_iijdpf_api_token = {REJECTED_TOKEN}\ndns_iijdpf_endpoint = {emulator.api_url}\n",
        mode=0o600,
    )
    before = len(mails(container))
    failed = start_unit(container, route.service)
    assert failed.result == "exit-code", failed.explain()
    notice = notice_for(container, route.service, before)
    text = body(notice)
    record(capsys, f"the mail for {route.service} (a rejected token)", text)
    assert "DPF rejected the API token" in text, text
    assert "Issue a new IIJ ID access token" in text, text


# -- the phases -------------------------------------------------------------------------


def issue_and_serve(container: Container, route: Route, emulator: Emulator, pebble: Pebble) -> int:
    """The first certificate as the README shows it, the deploy hooks, the web servers."""
    write_credentials(container, emulator)
    certonly = readme_commands("certbot certonly -a dns-iijdpf \\\n").rstrip("\n")
    assert certonly.startswith("certbot ")
    issued = container.sh(
        f"{route.certbot} {certonly.removeprefix('certbot ')} \\\n"
        f"  --server {pebble.directory_url} --non-interactive --agree-tos "
        "--register-unsafely-without-email",
        env={"REQUESTS_CA_BUNDLE": SYSTEM_BUNDLE},
        check=False,
        timeout=900,
    )
    assert issued.returncode == 0, describe(issued)
    first = live_serial(container)

    container.sh(
        readme_commands("reload-nginx /etc/letsencrypt/renewal-hooks/deploy/\n# or\n"), cwd=CLONE
    )
    serve_the_lineage(container)
    assert both_serve(container, first) == {NGINX_PORT: first, APACHE_PORT: first}
    return first


def renew(
    container: Container, route: Route, first: int, capsys: pytest.CaptureFixture[str]
) -> int:
    """A renewal made due (certbot reads /etc/letsencrypt/cli.ini on every run), by systemd."""
    container.write("/etc/letsencrypt/cli.ini", "force-renewal = True\n")
    before = reloads(container)
    renewal = start_unit(container, route.service)
    assert renewal.started.returncode == 0 and renewal.result == "success", renewal.explain()
    assert f"Finished {route.service}" in renewal.journal, renewal.explain()
    record(capsys, f"journalctl -u {route.service} (the renewal)", renewal.journal)
    second = live_serial(container)
    assert second != first
    assert both_serve(container, second) == {NGINX_PORT: second, APACHE_PORT: second}
    # The deploy hooks reloaded both through systemd (systemctl reload) ...
    reloaded = poll_until(lambda: len(reloads(container)) == len(before) + 2, 10, interval=0.5)
    assert reloaded, reloads(container)
    # ... (from inside the sandbox of certbot-renew.service), as certbot logged.
    certbot_log = container.path("/var/log/letsencrypt/letsencrypt.log").read_text()
    for said in ("reload-nginx: reloaded nginx (systemctl)", "reload-httpd: reloaded apache2"):
        assert said in certbot_log, certbot_log[-3000:]
    return second


def check_timer(container: Container, route: Route, capsys: pytest.CaptureFixture[str]) -> None:
    """The timer waits for its next run; the service's sandbox as systemd rates it."""
    timers = container.run(["systemctl", "list-timers", "--all", "--no-pager", route.timer])
    record(capsys, f"systemctl list-timers {route.timer}", timers.stdout)
    listed = (
        rf"^\w{{3}} \d{{4}}-\d\d-\d\d .*\b{re.escape(route.timer)}\s+{re.escape(route.service)}$"
    )
    assert re.search(listed, timers.stdout, re.MULTILINE), describe(timers)
    next_run = container.run(
        ["systemctl", "show", route.timer, "--property=NextElapseUSecRealtime", "--value"]
    )
    assert next_run.stdout.strip(), describe(next_run)
    security = container.run(
        ["systemd-analyze", "security", "--no-pager", route.service], check=False
    )
    record(capsys, f"systemd-analyze security {route.service}", security.stdout + security.stderr)
    assert "Overall exposure level" in security.stdout, describe(security)


def fail_with_the_api_down(
    container: Container,
    route: Route,
    emulator: Emulator,
    served: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The renewal fails, no hook runs, the servers keep their certificate, the journal says why."""
    emulator.stop()
    before = reloads(container)
    failed = start_unit(container, route.service)
    record(capsys, f"journalctl -u {route.service} (the DPF API down)", failed.journal)
    assert failed.started.returncode != 0, failed.explain()
    assert (failed.result, failed.status) == ("exit-code", "1"), failed.explain()
    assert re.search(
        # certbot, or "python" for Debian's certbot run by the venv's interpreter
        r"(certbot|python)\[\d+\]: Failed to renew certificate example\.com with error: "
        r"Could not reach the DPF API at http://127\.0\.0\.1:\d+/dpf/v1 ",
        failed.journal,
    ), failed.explain()
    # Where the README sends the operator: journalctl -u <the service>.
    assert failed.journal.splitlines()[1] in container.journal("-u", route.service)
    assert live_serial(container) == served
    assert reloads(container) == before
    assert "deploy-hook" not in container.path("/var/log/letsencrypt/letsencrypt.log").read_text()
    assert both_serve(container, served, timeout=0) == {NGINX_PORT: served, APACHE_PORT: served}


# -- the tests ---------------------------------------------------------------------------


def test_venv_and_contrib_units(
    container: Container,
    emulator: Emulator,
    pebble: Pebble,
    pki: PKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    trust_pebble(container, pki)
    install_in_a_venv(container)

    # A fresh install: certbot never ran, none of its directories exists. The
    # service must start under its sandbox anyway (this was 226/NAMESPACE).
    for directory in ("/etc/letsencrypt", "/var/lib/letsencrypt", "/var/log/letsencrypt"):
        assert not container.path(directory).exists(), directory
    fresh = start_unit(container, VENV.service)
    assert fresh.started.returncode == 0 and fresh.result == "success", fresh.explain()
    record(capsys, f"journalctl -u {VENV.service} (a fresh install)", fresh.journal)
    for directory in ("/etc/letsencrypt", "/var/lib/letsencrypt", "/var/log/letsencrypt"):
        assert container.path(directory).is_dir(), directory

    check_plugins(container, VENV)
    send_a_test_notification(container)
    first = issue_and_serve(container, VENV, emulator, pebble)
    second = renew(container, VENV, first, capsys)
    no_notice(container, VENV.service, 1)
    check_timer(container, VENV, capsys)

    # The daily check, as README.md installs it; then a token DPF rejects,
    # which both the renewal and the check report by mail.
    container.sh(
        readme_commands("systemctl enable --now certbot-dns-iijdpf-check.timer"), cwd=CLONE
    )
    fail_with_a_rejected_token(container, VENV, emulator, capsys)
    before = len(mails(container))
    checked = start_unit(container, CHECK_SERVICE)
    assert (checked.result, checked.status) == ("exit-code", "2"), checked.explain()
    text = body(notice_for(container, CHECK_SERVICE, before))
    record(capsys, f"the mail for {CHECK_SERVICE} (a rejected token)", text)
    assert "IIJDPF CRITICAL" in text, text
    assert "DPF rejected the API token" in text, text
    write_credentials(container, emulator)

    before = len(mails(container))
    fail_with_the_api_down(container, VENV, emulator, second, capsys)
    api_down = body(notice_for(container, VENV.service, before))
    record(capsys, f"the mail for {VENV.service} (the DPF API down)", api_down)
    assert "Could not reach the DPF API" in api_down, api_down
    token_nowhere_in_the_mail(container)
    record(capsys, "duration", f"{time.monotonic() - began:.0f} s in the container")


def test_debians_certbot_and_its_timer(
    container: Container,
    emulator: Emulator,
    pebble: Pebble,
    pki: PKI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    began = time.monotonic()
    trust_pebble(container, pki)
    install_with_debians_certbot(container)
    version = container.run(["/usr/bin/certbot", "--version"])
    assert version.stdout.strip() == "certbot 2.1.0", describe(version)
    check_plugins(container, DEBIAN)

    # README, When a renewal fails: the drop-in for Debian's certbot.service.
    container.sh(
        readme_commands(
            "cp contrib/systemd/notify-failure.conf /etc/systemd/system/certbot.service.d/"
        ),
        cwd=CLONE,
    )
    first = issue_and_serve(container, DEBIAN, emulator, pebble)
    second = renew(container, DEBIAN, first, capsys)
    no_notice(container, DEBIAN.service, 0)
    check_timer(container, DEBIAN, capsys)
    fail_with_the_api_down(container, DEBIAN, emulator, second, capsys)
    api_down = body(notice_for(container, DEBIAN.service, 0))
    record(capsys, f"the mail for {DEBIAN.service} (the DPF API down)", api_down)
    assert "Could not reach the DPF API" in api_down, api_down
    token_nowhere_in_the_mail(container)
    record(capsys, "duration", f"{time.monotonic() - began:.0f} s in the container")
