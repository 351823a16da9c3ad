"""The DPF checks, one pass per account, shared out to the lineages that use it.

An account is what a credentials file leads to: endpoint, token and service
codes.  Each account is checked once however many lineages use it (one
``/ping``, one zone listing, one write-scope probe, one read of each zone),
with the probe's own read-only checks, so that probe and check never judge
the same thing differently.  Only the rule for staged edits differs from the
probe's: here it is the plugin's own rule before it applies a zone, so that
the check warns exactly when the next renewal would refuse.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from certbot_dns_iijdpf._internal.client import DpfClient
from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.errors import DpfError
from certbot_dns_iijdpf._internal.health.model import DEFAULT_TIMEOUT, State
from certbot_dns_iijdpf._internal.planner import (
    UPDATING,
    ZoneSnapshot,
    describe_rows,
    is_challenge_edit,
    pending_rows,
)
from certbot_dns_iijdpf._internal.probe.checks import ABSENT_ZONE_ID, Probe
from certbot_dns_iijdpf._internal.probe.facts import ZoneFacts, challenge_name, label
from certbot_dns_iijdpf._internal.probe.report import FAILED, OK, WARNING, Check, Report
from certbot_dns_iijdpf._internal.propagation import resolve_addresses
from certbot_dns_iijdpf._internal.settings import Settings

# The probe's check names, as the check reports them (and as metric labels).
CHECK_NAMES = {
    ("api", ""): "api",
    ("token", "read"): "token_read",
    ("token", "write"): "token_write",
    ("zone proxy", ""): "zone_proxy",
}
# Checks about one challenge name: they concern only the lineages with that name.
PER_NAME = frozenset({"zone", "delegation", "cname"})
PROBE_STATES = {FAILED: State.CRITICAL, WARNING: State.WARNING}

# Shorter than the plugin's: a monitoring system waits for the check.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
RETRIES = 2


def check_name(check: Check) -> str:
    key = (check.name, check.subject if check.name == "token" else "")
    return CHECK_NAMES.get(key, check.name.replace(" ", "_"))


@dataclass(frozen=True)
class AccountKey:
    """What makes two lineages share their DPF checks (the token never leaves this object)."""

    endpoint: str
    token: str = field(repr=False)
    service_codes: frozenset[str] | None

    @classmethod
    def of(cls, settings: Settings) -> AccountKey:
        return cls(settings.endpoint, settings.token, settings.service_codes)


@dataclass
class AccountFindings:
    """The probe's checks of one account: those about the account, and those per zone."""

    shared: list[Check] = field(default_factory=list)
    by_name: dict[str, list[Check]] = field(default_factory=dict)  # challenge name: checks
    by_zone: dict[str, list[Check]] = field(default_factory=dict)  # zone id: checks
    zone_of: dict[str, str] = field(default_factory=dict)  # challenge name: zone id

    def for_names(self, names: Iterable[str]) -> list[Check]:
        """The checks that concern a lineage with these certificate names."""
        challenges = list(dict.fromkeys(challenge_name(n) for n in names))
        found = list(self.shared)
        for challenge in challenges:
            found += self.by_name.get(challenge, [])
        subjects = {label(c) for c in challenges}
        for zone_id in dict.fromkeys(self.zone_of[c] for c in challenges if c in self.zone_of):
            found += [
                check
                for check in self.by_zone.get(zone_id, [])
                if check.name not in PER_NAME or check.subject in subjects
            ]
        return found


def to_state(check: Check) -> State:
    return PROBE_STATES.get(check.status, State.OK)


class HealthProbe(Probe):
    """The probe's read-only checks, with the plugin's own rule for staged edits."""

    def _check_staged(self, fact: ZoneFacts) -> None:
        snapshot = staged_snapshot(fact)
        names = set(fact.names)
        blocking = [r for r in pending_rows(snapshot) if not is_challenge_edit(snapshot, r, names)]
        challenges = [r for r in pending_rows(snapshot) if r not in blocking]
        subject = label(fact.zone.name)
        if blocking:
            self.report.add(
                WARNING,
                "staged",
                subject,
                f"{len(blocking)} staged edit(s) that are not ACME challenges: "
                f"{describe_rows(blocking)}. The plugin refuses to apply a zone that holds "
                "them, so a renewal that runs before they are applied or discarded fails: "
                "apply or discard them in the DPF console.",
            )
        elif challenges:
            self.report.add(
                OK,
                "staged",
                subject,
                f"only ACME challenge values are staged ({describe_rows(challenges)}): a "
                "renewal in progress, or what an interrupted one left. They do not stop a "
                "renewal: the plugin cleans up its own, and waits up to 120 seconds for "
                "another user's to be applied.",
            )
        else:
            self.report.add(OK, "staged", subject, "no staged (unapplied) edits")


def staged_snapshot(fact: ZoneFacts) -> ZoneSnapshot:
    """The zone as the plugin's planner sees it, from the probe's one read of it."""
    updating = {(r.name, r.rrtype) for r in fact.rows if r.state == UPDATING}
    live: dict[tuple[str, str], tuple[str, ...]] = {key: () for key in updating}
    for row in fact.currents:
        if (row.name, row.rrtype) in live:
            live[(row.name, row.rrtype)] += row.values
    return ZoneSnapshot(tuple(fact.rows), live)


def check_account(
    settings: Settings,
    domains: Iterable[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    resolve: Callable[[str], list[str]] = resolve_addresses,
    clock: Callable[[], float] = time.monotonic,
) -> AccountFindings:
    """Run the probe's read-only checks once for every name of an account's lineages."""
    client = DpfClient(
        settings.endpoint,
        settings.token,
        deadline=Deadline(timeout, what="--timeout"),
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries=RETRIES,
    )
    report = Report(None)
    probe = HealthProbe(client, settings, report, resolve=resolve, clock=clock)
    found = AccountFindings()
    scope = found.shared
    mark = 0

    def take(into: list[Check]) -> None:
        nonlocal mark
        into.extend(report.checks[mark:])
        mark = len(report.checks)

    try:
        if not probe.check_api():
            return found
        zones = probe.check_read()
        if not zones:
            return found
        take(found.shared)
        located = probe.locate(list(dict.fromkeys(domains)), zones)
        for check in report.checks[mark:]:
            found.by_name.setdefault(f"{check.subject}.", []).append(check)
        mark = len(report.checks)
        facts: dict[str, ZoneFacts] = {}
        for name, zone in located.items():
            if zone is not None:
                facts.setdefault(zone.id, ZoneFacts(zone)).names.append(name)
                found.zone_of[name] = zone.id
        probe.check_write_scope(next(iter(facts), None) or zones[0].id or ABSENT_ZONE_ID)
        take(found.shared)
        for zone_id, fact in facts.items():
            scope = found.by_zone.setdefault(zone_id, [])
            probe.check_zone(fact, zones)
            take(scope)
    except DpfError as exc:
        # A token rejected half-way, the --timeout spent: the rest cannot be judged.
        report.add(FAILED, "api", "", f"checks stopped: {exc}")
    finally:
        take(scope)
    return found
