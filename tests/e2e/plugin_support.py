"""Shared pieces of the plugin's end-to-end tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.dpf_emulator import NameserverSpec
from tests.harness import CertbotRunner
from tests.harness.dpf import TOKEN as TOKEN
from tests.harness.dpf import challenge_rows as challenge_rows
from tests.harness.dpf import domain_args, nameservers, plugin_credentials
from tests.harness.waiting import poll_until

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

# Longer than the slowest default nameserver's lag, with room for a busy machine.
LAG_ALLOWANCE = 3.0


def slow_nameservers(lag: float) -> list[NameserverSpec]:
    """The default two nameservers, both lagging ``lag`` seconds behind an apply."""
    return nameservers(lag, lag)


def signal_when(
    process: subprocess.Popen[str], ready: Callable[[], bool], signum: int, timeout: float = 60
) -> str:
    """Send ``signum`` once ``ready()`` holds; return the output.

    Raises AssertionError (after killing the process) when ``ready()`` never
    held within ``timeout``: the test would otherwise interrupt the run at
    some other moment than the one it is about.
    """
    # A run that ended on its own will never reach the moment either.
    poll_until(lambda: ready() or process.poll() is not None, timeout)
    if not ready():
        process.kill()
        text = process.communicate(timeout=120)[0]
        raise AssertionError(f"the moment to send signal {signum} never came:\n{text}")
    process.send_signal(signum)
    return process.communicate(timeout=120)[0]


def posted(emulator: Emulator) -> bool:
    return any(entry.method == "POST" for entry in emulator.request_log)


def a_write_was_refused(emulator: Emulator) -> bool:
    """Whether DPF has refused a write (say, one held by another user's pending edit)."""
    return any(
        entry.method in ("POST", "PATCH", "DELETE") and (entry.status or 0) >= 400
        for entry in emulator.request_log
    )


def credentials(path: Path, emulator: Emulator, **extra: str) -> Path:
    return plugin_credentials(path, emulator.api_url, TOKEN, **extra)


def certonly_args(ini: Path | str | None, domains: Sequence[str], *extra: str) -> list[str]:
    args = ["certonly", "-a", "dns-iijdpf", "--dns-iijdpf-propagation-seconds", "20"]
    if ini is not None:
        args += ["--dns-iijdpf-credentials", str(ini)]
    return [*args, *domain_args(domains), *extra]


def certonly(
    runner: CertbotRunner,
    ini: Path | str | None,
    domains: Sequence[str],
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return runner.run(certonly_args(ini, domains, *extra), env=env)


def spawn_certonly(
    runner: CertbotRunner, ini: Path | str, domains: Sequence[str], *extra: str
) -> subprocess.Popen[str]:
    """Start ``certbot certonly`` in the background, for tests that interrupt it or race it."""
    return subprocess.Popen(
        runner.command(certonly_args(ini, domains, *extra)),
        env=runner.environment(),
        cwd=runner.base_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def snapshot(emulator: Emulator, zone: str) -> set[tuple[Any, ...]]:
    """The zone's rows in a comparable form (SOA left out: its serial moves on apply)."""
    return {
        (r["name"], r["rrtype"], tuple(d["value"] for d in r["rdata"]), r["ttl"], r["state"])
        for r in emulator.records(zone)
        if r["rrtype"] != "SOA"
    }


def served_everywhere(emulator: Emulator, name: str, rrtype: str = "TXT") -> list[list[str]]:
    return [emulator.served(i, name, rrtype) for i in range(len(emulator.nameserver_addresses))]


def wait_until_served(
    emulator: Emulator, name: str, expected: Iterable[str], timeout: float = LAG_ALLOWANCE
) -> list[list[str]]:
    """Poll every nameserver until each serves exactly ``expected`` (or time runs out)."""
    want = sorted(expected)
    poll_until(
        lambda: all(sorted(a) == want for a in served_everywhere(emulator, name)),
        timeout,
        interval=0.1,
    )
    return served_everywhere(emulator, name)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr
