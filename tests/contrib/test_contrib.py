"""contrib/: systemd units, the cron line and the deploy hooks (no network, no root needed).

The hooks are run against fake nginx, apachectl and systemctl programs that
log how they were called, so every branch is checked without a web server and
without ever reaching the host's systemd. tests/e2e/test_operator_workflow.py
runs them against real nginx and Apache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import REPO_ROOT

CONTRIB = REPO_ROOT / "contrib"
UNITS = CONTRIB / "systemd"
HOOKS = CONTRIB / "renewal-hooks" / "deploy"
HOOK_NAMES = ("reload-nginx", "reload-httpd")
CERTBOT = "/opt/certbot/bin/certbot"
SYSTEMD_RUNS_HERE = os.path.isdir("/run/systemd/system")


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """``(section, key, value)`` for every assignment, repeated keys included."""
    entries = []
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(path: Path, section: str, key: str) -> list[str]:
    return [v for s, k, v in unit_entries(path) if (s, k) == (section, key)]


# -- systemd ----------------------------------------------------------------------


def test_units_verify_with_systemd_analyze(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package: systemd)")
    stand_in = shutil.which("true")
    assert stand_in is not None
    # verify insists that ExecStart= exists; /opt/certbot is the operator's.
    service = tmp_path / "certbot-renew.service"
    service.write_text((UNITS / "certbot-renew.service").read_text().replace(CERTBOT, stand_in))
    timer = tmp_path / "certbot-renew.timer"
    timer.write_text((UNITS / "certbot-renew.timer").read_text())

    result = subprocess.run(
        [analyze, "verify", "--man=no", str(service), str(timer)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    # Unknown keys and bad values are only warnings ("..., ignoring") that
    # leave the exit status 0; lines about other units on the host are not ours.
    ours = [line for line in report.splitlines() if "certbot-renew" in line]
    assert ours == [], report


def test_service_runs_certbot_renew_from_the_venv() -> None:
    service = UNITS / "certbot-renew.service"
    assert values(service, "Service", "Type") == ["oneshot"]
    # The timer spreads the runs; certbot's own random sleep would only delay them.
    assert values(service, "Service", "ExecStart") == [
        f"{CERTBOT} renew -q --no-random-sleep-on-renew"
    ]
    assert values(service, "Service", "ProtectSystem") == ["strict"]
    assert values(service, "Install", "WantedBy") == []  # started by the timer only


def test_service_creates_certbots_directories_before_the_sandbox() -> None:
    # A ReadWritePaths= entry that does not exist fails the start with
    # 226/NAMESPACE, as on a fresh install where certbot never ran; systemd
    # creates these three (tests/e2e/test_systemd_renewal.py boots it).
    service = UNITS / "certbot-renew.service"
    assert values(service, "Service", "ConfigurationDirectory") == ["letsencrypt"]
    assert values(service, "Service", "StateDirectory") == ["letsencrypt"]
    assert values(service, "Service", "LogsDirectory") == ["letsencrypt"]
    assert values(service, "Service", "LogsDirectoryMode") == ["0700"]  # as certbot makes it
    writable = " ".join(values(service, "Service", "ReadWritePaths")).split()
    # ConfigurationDirectory= is created but, unlike the others, not made writable.
    assert "/etc/letsencrypt" in writable
    required = [path for path in writable if not path.startswith("-")]
    assert required == ["/etc/letsencrypt"]


def test_timer_fires_twice_a_day_with_a_random_delay_and_catches_up() -> None:
    timer = UNITS / "certbot-renew.timer"
    assert values(timer, "Timer", "OnCalendar") == ["*-*-* 00,12:00:00"]
    assert values(timer, "Timer", "RandomizedDelaySec") == ["12h"]
    assert values(timer, "Timer", "Persistent") == ["true"]
    assert values(timer, "Install", "WantedBy") == ["timers.target"]


# -- cron -------------------------------------------------------------------------


def test_cron_line() -> None:
    path = CONTRIB / "cron" / "certbot-renew"
    text = path.read_text()
    # cron turns an unescaped % into a newline.
    assert "%" not in text
    jobs = [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)
    ]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 6)
    minute, hour, _, _, _, user, command = fields
    assert minute.isdigit() and len(hour.split(",")) == 2
    assert user == "root"
    assert command.endswith(f"{CERTBOT} renew -q")
    assert "sleep" in command and "/run/systemd/system" in command
    assert re.search(r"^PATH=.*/usr/sbin", text, re.MULTILINE)
    assert "." not in path.name  # cron skips files in /etc/cron.d with a dot


# -- the failure notifier ------------------------------------------------------------

NOTIFIER = CONTRIB / "notify" / "certbot-notify-failure"


def notify(tmp_path: Path, settings: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The notifier with its settings from a file of ours instead of /etc."""
    config = tmp_path / "certbot-notify"
    config.write_text(settings)
    return subprocess.run(
        ["sh", str(NOTIFIER), *args],
        env={"PATH": os.environ["PATH"], "CERTBOT_NOTIFY_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_notifier_says_when_nobody_would_be_told(tmp_path: Path) -> None:
    missing = tmp_path / "no-sendmail"
    tested = notify(tmp_path, f"CERTBOT_NOTIFY_SENDMAIL={missing}\n", "--test")
    assert tested.returncode == 1, tested
    assert f"no mail: {missing} does not exist" in tested.stderr
    assert "NOBODY WOULD BE TOLD when a renewal fails" in tested.stderr
    silenced = notify(tmp_path, "CERTBOT_NOTIFY_MAILTO=\n", "--test")
    assert silenced.returncode == 1, silenced
    assert "CERTBOT_NOTIFY_MAILTO is empty and no CERTBOT_NOTIFY_COMMAND" in silenced.stderr


def test_notifier_hands_the_notice_to_the_command(tmp_path: Path) -> None:
    received = tmp_path / "received"
    told = notify(
        tmp_path,
        f"CERTBOT_NOTIFY_MAILTO=\nCERTBOT_NOTIFY_COMMAND='cat > {received}; "
        f'echo "$CERTBOT_NOTIFY_SUBJECT" >> {received}\'\n',
        "--test",
    )
    assert told.returncode == 0, told
    assert "test notification sent (CERTBOT_NOTIFY_COMMAND)" in told.stdout
    lines = received.read_text().splitlines()
    assert lines[0].startswith("test notification from certbot-notify-failure on ")
    assert lines[-1] == lines[0]  # the subject, from the environment
    assert "Nothing failed." in received.read_text()


def test_notifier_bounds_the_command(tmp_path: Path) -> None:
    slow = notify(
        tmp_path,
        "CERTBOT_NOTIFY_MAILTO=\nCERTBOT_NOTIFY_COMMAND='sleep 30'\nCERTBOT_NOTIFY_TIMEOUT=1\n",
        "--test",
    )
    assert slow.returncode == 1, slow
    assert "CERTBOT_NOTIFY_COMMAND failed or took longer than 1 s" in slow.stderr


def test_notifier_refuses_bad_settings(tmp_path: Path) -> None:
    bad = notify(tmp_path, "CERTBOT_NOTIFY_TIMEOUT=soon\n", "--test")
    assert bad.returncode == 2, bad
    assert "must be whole numbers, not 'soon'" in bad.stderr
    assert notify(tmp_path, "", "--bogus").returncode == 2


# -- hooks: syntax --------------------------------------------------------------------


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hook_is_executable_posix_sh(name: str) -> None:
    hook = HOOKS / name
    assert hook.read_text().startswith("#!/bin/sh\n")
    assert os.access(hook, os.X_OK)
    result = subprocess.run(["sh", "-n", str(hook)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# -- hooks: behaviour against fakes -------------------------------------------------------

FAKE_PROGRAM = """#!/bin/sh
echo "{name} $*" >> "$FAKE_LOG"
{body}
"""

FAKE_NGINX = """
case " $* " in
  *" -t "*) if [ -n "${FAKE_TEST_FAILS:-}" ]; then
              echo 'nginx: [emerg] unknown directive "bogus"' >&2; exit 1; fi ;;
esac
exit 0
"""

FAKE_APACHECTL = """
case " $* " in
  *" -t "*|*" configtest "*) if [ -n "${FAKE_TEST_FAILS:-}" ]; then
              echo "AH00526: Syntax error on line 3" >&2; exit 1; fi
            echo "Syntax OK" >&2 ;;
esac
exit 0
"""

# `show --property=LoadState --value UNIT`, `is-active --quiet UNIT`, `reload UNIT`.
FAKE_SYSTEMCTL = """
for unit; do :; done
case $1 in
  show) case " $FAKE_UNITS " in *" $unit "*) echo loaded ;; *) echo not-found ;; esac ;;
  is-active) case " $FAKE_ACTIVE " in *" $unit "*) exit 0 ;; *) exit 3 ;; esac ;;
esac
exit 0
"""


class Fakes:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log = directory / "calls.log"
        self.log.touch()
        self.bin = directory / "bin"
        self.bin.mkdir()
        for name, body in (
            ("nginx", FAKE_NGINX),
            ("apachectl", FAKE_APACHECTL),
            ("systemctl", FAKE_SYSTEMCTL),
        ):
            path = self.bin / name
            path.write_text(FAKE_PROGRAM.format(name=name, body=body))
            path.chmod(0o755)

    def run(self, hook: str, **env: str) -> subprocess.CompletedProcess[str]:
        full = {
            "PATH": "/usr/bin:/bin",
            "FAKE_LOG": str(self.log),
            "FAKE_UNITS": "",
            "FAKE_ACTIVE": "",
            "NGINX_BIN": str(self.bin / "nginx"),
            "APACHECTL": str(self.bin / "apachectl"),
            "SYSTEMCTL": str(self.bin / "systemctl"),
        }
        full.update(env)
        return subprocess.run(
            [str(HOOKS / hook)], env=full, capture_output=True, text=True, timeout=30, check=False
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    def actions(self) -> list[str]:
        """Calls without systemctl's queries (show, is-active)."""
        return [
            c for c in self.calls() if not c.startswith(("systemctl show", "systemctl is-active"))
        ]


@pytest.fixture
def fakes(tmp_path: Path) -> Fakes:
    return Fakes(tmp_path)


def test_nginx_signal_reload_with_a_config_file(fakes: Fakes) -> None:
    result = fakes.run("reload-nginx", NGINX_CONF="/srv/nginx.conf")
    assert result.returncode == 0, result.stderr
    # A configuration of its own is not what systemd's unit runs: never systemctl.
    assert fakes.calls() == ["nginx -c /srv/nginx.conf -t", "nginx -c /srv/nginx.conf -s reload"]
    assert "reloaded nginx" in result.stdout


def test_nginx_failed_config_test_reloads_nothing(fakes: Fakes) -> None:
    result = fakes.run(
        "reload-nginx", FAKE_TEST_FAILS="1", RELOAD_METHOD="systemctl", FAKE_ACTIVE="nginx"
    )
    assert result.returncode == 1
    assert fakes.actions() == ["nginx -t"]
    assert 'unknown directive "bogus"' in result.stderr
    assert "NOT reloaded" in result.stderr


def test_nginx_systemctl_reload(fakes: Fakes) -> None:
    result = fakes.run(
        "reload-nginx", RELOAD_METHOD="systemctl", FAKE_UNITS="nginx", FAKE_ACTIVE="nginx"
    )
    assert result.returncode == 0, result.stderr
    assert fakes.actions() == ["nginx -t", "systemctl reload nginx"]


def test_nginx_inactive_unit_is_not_started(fakes: Fakes) -> None:
    result = fakes.run("reload-nginx", RELOAD_METHOD="systemctl", FAKE_UNITS="nginx")
    assert result.returncode == 0, result.stderr
    assert fakes.actions() == ["nginx -t"]
    assert "not active" in result.stdout


def test_nginx_auto_uses_systemd_only_where_it_runs(fakes: Fakes) -> None:
    result = fakes.run("reload-nginx", FAKE_UNITS="nginx", FAKE_ACTIVE="nginx")
    assert result.returncode == 0, result.stderr
    reload = "systemctl reload nginx" if SYSTEMD_RUNS_HERE else "nginx -s reload"
    assert fakes.actions() == ["nginx -t", reload]


@pytest.mark.parametrize(
    ("hook", "variable"), [("reload-nginx", "NGINX_BIN"), ("reload-httpd", "APACHECTL")]
)
def test_missing_server_program(fakes: Fakes, hook: str, variable: str) -> None:
    result = fakes.run(hook, **{variable: "/nonexistent/bin/server"})
    assert result.returncode == 2
    assert "not found" in result.stderr
    assert fakes.calls() == []


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_unknown_reload_method(fakes: Fakes, hook: str) -> None:
    result = fakes.run(hook, RELOAD_METHOD="restart")
    assert result.returncode == 2
    assert "RELOAD_METHOD" in result.stderr
    assert fakes.actions() == []


def test_httpd_graceful_with_a_config_file(fakes: Fakes) -> None:
    result = fakes.run("reload-httpd", APACHE_CONF="/srv/httpd.conf")
    assert result.returncode == 0, result.stderr
    assert fakes.calls() == [
        "apachectl -f /srv/httpd.conf -t",
        "apachectl -f /srv/httpd.conf -k graceful",
    ]


def test_httpd_signal_without_a_config_file(fakes: Fakes) -> None:
    result = fakes.run("reload-httpd", RELOAD_METHOD="signal")
    assert result.returncode == 0, result.stderr
    assert fakes.calls() == ["apachectl configtest", "apachectl graceful"]


def test_httpd_failed_config_test_reloads_nothing(fakes: Fakes) -> None:
    result = fakes.run("reload-httpd", FAKE_TEST_FAILS="1", RELOAD_METHOD="signal")
    assert result.returncode == 1
    assert fakes.actions() == ["apachectl configtest"]
    assert "AH00526" in result.stderr
    assert "NOT reloaded" in result.stderr


@pytest.mark.parametrize(
    ("units", "extra", "unit"),
    [
        ("apache2", {}, "apache2"),  # Debian, Ubuntu
        ("httpd", {}, "httpd"),  # RHEL family
        ("apache2", {"HTTPD_SERVICE": "apache2@www"}, "apache2@www"),
    ],
)
def test_httpd_systemctl_reload_picks_the_unit(
    fakes: Fakes, units: str, extra: dict[str, str], unit: str
) -> None:
    result = fakes.run(
        "reload-httpd",
        RELOAD_METHOD="systemctl",
        FAKE_UNITS=f"{units} apache2@www",
        FAKE_ACTIVE=unit,
        **extra,
    )
    assert result.returncode == 0, result.stderr
    assert fakes.actions() == ["apachectl configtest", f"systemctl reload {unit}"]


def test_httpd_systemctl_without_a_unit(fakes: Fakes) -> None:
    result = fakes.run("reload-httpd", RELOAD_METHOD="systemctl")
    assert result.returncode == 2
    assert "HTTPD_SERVICE" in result.stderr
    assert fakes.actions() == []


def test_httpd_inactive_unit_is_not_started(fakes: Fakes) -> None:
    result = fakes.run("reload-httpd", RELOAD_METHOD="systemctl", FAKE_UNITS="apache2")
    assert result.returncode == 0, result.stderr
    assert fakes.actions() == ["apachectl configtest"]
    assert "not active" in result.stdout
