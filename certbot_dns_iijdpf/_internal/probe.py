"""``python -m certbot_dns_iijdpf probe``: check an account before the first certificate.

The read-only checks find everything that would make a certbot run fail
before it writes anything: an endpoint that does not answer, a token that is
rejected or lacks ``dpf_write``, a name in no zone (or in two), a zone that is
not published, has zone proxy on or delegates the name elsewhere, and
nameservers this host cannot query.  They send one write request, and it
cannot change anything (see :meth:`Probe.check_write_scope`).

``--write`` then runs one full challenge cycle per zone and records what DPF
actually does where its documentation is silent (see the API notes' open
questions): whether a never-applied row may be PATCHed or DELETEd, whether
``/records`` lists "before update" rows, what an empty apply does, and how
long jobs and nameservers take.  Whatever happens, it withdraws everything it
created, and it applies only while the zone holds nothing but its own edits.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from certbot_dns_iijdpf import __version__
from certbot_dns_iijdpf._internal.client import DpfClient, JsonObject
from certbot_dns_iijdpf._internal.errors import DpfApiError, DpfError, WriteOutcomeUnknown
from certbot_dns_iijdpf._internal.planner import (
    ADDING,
    APPLIED,
    BEFORE_UPDATE,
    DELETING,
    UPDATING,
    Row,
    describe_rows,
)
from certbot_dns_iijdpf._internal.propagation import query_txt, resolve_addresses
from certbot_dns_iijdpf._internal.settings import Settings
from certbot_dns_iijdpf._internal.zones import canonical

OK = "ok"
INFO = "info"
WARNING = "warning"
FAILED = "failed"

PENDING = (ADDING, DELETING, UPDATING)
PUBLISHED_ZONE = 2

PROBE_DESCRIPTION = "certbot-dns-iijdpf probe"
# Record ids are 14 characters starting with "r"; this one is never issued
# because it is all zeros, so the write-scope probe cannot touch a real record.
ABSENT_RECORD_ID = "r00000000000000"
ABSENT_ZONE_ID = "m00000000000000"

DEFAULT_MAX_WAIT = 600.0
DNS_TIMEOUT = 3.0
JOB_TIMEOUT = 300.0
# A nameserver that has not answered once in this long is taken as
# unreachable from this host rather than as lagging.
UNREACHABLE_AFTER = 10.0
POLL_INTERVAL = 0.5
FIRST_JOB_POLL = 0.2


def label(name: str) -> str:
    return name.rstrip(".")


def challenge_name(domain: str) -> str:
    """``_acme-challenge.<domain>.``; a wildcard shares its base name's challenge name."""
    base = canonical(domain)
    if base.startswith("*."):
        base = base[2:]
    return "_acme-challenge." + base


def acme_value() -> str:
    """A random value shaped like a DNS-01 value: base64url of 32 bytes, no padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def quoted(value: str) -> str:
    # DPF stores TXT values with their quotes and refuses them without.
    return f'"{value}"'


# -- the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    subject: str
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "subject": self.subject,
            "status": self.status,
            "detail": self.detail,
        }

    def line(self) -> str:
        what = f"{self.name} {self.subject}".strip()
        return f"{self.status:<8} {what:<36} {self.detail}"


class Report:
    """The checks so far, printed as they come when ``stream`` is given."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.checks: list[Check] = []
        self.answers: dict[str, Any] = {}
        self._stream = stream

    def add(self, status: str, name: str, subject: str, detail: str) -> Check:
        check = Check(name, subject, status, detail)
        self.checks.append(check)
        if self._stream is not None:
            print(check.line(), file=self._stream, flush=True)
        return check

    def answer(self, key: str, value: Any) -> None:
        # With several zones the first cycle's answer stands; the rest would repeat it.
        self.answers.setdefault(key, value)

    @property
    def failed(self) -> bool:
        return any(c.status == FAILED for c in self.checks)

    def as_json(self, **extra: Any) -> dict[str, Any]:
        return {
            **extra,
            "checks": [c.as_dict() for c in self.checks],
            "answers": self.answers,
            "failed": self.failed,
        }


# -- what the API returns --------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    service_code: str
    state: int | None
    proxy_field: int | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Zone:
        state = item.get("state")
        proxy = item.get("zone_proxy_enabled")
        return cls(
            id=str(item.get("id", "")),
            name=canonical(str(item.get("name", ""))),
            service_code=str(item.get("service_code", "")),
            state=state if isinstance(state, int) else None,
            proxy_field=proxy if isinstance(proxy, int) else None,
        )

    def contains(self, fqdn: str) -> bool:
        return fqdn == self.name or fqdn.endswith("." + self.name)


@dataclass
class Nameserver:
    hostname: str
    address: str | None = None
    udp: bool = False
    tcp: bool = False


@dataclass
class ZoneFacts:
    """What the read-only checks learned about one zone, for the write cycle."""

    zone: Zone
    names: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    currents: list[Row] = field(default_factory=list)
    nameservers: list[Nameserver] = field(default_factory=list)
    blocked: bool = False  # a failed check makes a write cycle pointless

    @property
    def staged(self) -> list[Row]:
        return [r for r in self.rows if r.state in PENDING]


class DnsProblem(Exception):
    """A nameserver query that did not give the zone's SOA.

    ``answered`` tells a server that answered wrongly (REFUSED, not
    authoritative: it does not serve the zone) from one that could not be
    reached at all (a timeout, a network error: often a firewall).
    """

    def __init__(self, detail: str, *, answered: bool) -> None:
        super().__init__(detail)
        self.answered = answered


def query_soa(zone: str, address: str, *, tcp: bool, timeout: float = DNS_TIMEOUT) -> int:
    """The SOA serial that ``address`` serves authoritatively for ``zone``."""
    request = dns.message.make_query(zone, dns.rdatatype.SOA)
    request.flags &= ~dns.flags.RD
    try:
        if tcp:
            response = dns.query.tcp(request, address, timeout=timeout)
        else:
            response = dns.query.udp(request, address, timeout=timeout)
    except dns.exception.Timeout:
        raise DnsProblem(f"no answer within {timeout:.0f} s", answered=False) from None
    except (dns.exception.DNSException, OSError) as exc:
        raise DnsProblem(str(exc) or type(exc).__name__, answered=False) from None
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        raise DnsProblem(f"answered {dns.rcode.to_text(rcode)}", answered=True)
    if not response.flags & dns.flags.AA:
        raise DnsProblem("answered, but not authoritatively (AA flag unset)", answered=True)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(getattr(rrset[0], "serial", 0))
    raise DnsProblem("answered without the zone's SOA record", answered=True)


class _Abort(Exception):
    """Ends a write cycle with a failed line; cleanup still runs."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name
        self.detail = detail


@dataclass
class Outcome:
    """What one write did: refused at once, a job that ended, or a lost answer seen in the zone."""

    refused: DpfApiError | None = None
    status: str | None = None
    seconds: float | None = None
    job: JsonObject | None = None
    lost: bool = False

    @property
    def refusal(self) -> str | None:
        """Why DPF did not do the write (refused at once, or its job FAILED), or None."""
        if self.refused is not None:
            return _detail_codes(self.refused)
        return "its job FAILED" if self.status == "FAILED" else None


def _detail_codes(exc: DpfApiError) -> str:
    codes = ", ".join(str(d) for d in exc.details)
    return f"HTTP {exc.status} {codes or exc.error_type}"


# -- the probe -------------------------------------------------------------------


class Probe:
    """Runs the checks with one client and writes them into one report."""

    def __init__(
        self,
        client: DpfClient,
        settings: Settings,
        report: Report,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        resolve: Callable[[str], list[str]] = resolve_addresses,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.settings = settings
        self.report = report
        self.max_wait = max_wait
        self._resolve = resolve
        self._clock = clock
        self._sleep = sleep

    def run(self, domains: list[str], write: bool) -> None:
        facts, can_write = self.read_only(domains)
        if write:
            self.write_cycles(facts, can_write)

    def read_only(self, domains: list[str]) -> tuple[list[ZoneFacts], bool]:
        """The read-only checks: what they learned per zone, and whether a write may follow."""
        if not self.check_api():
            return [], False
        zones = self.check_read()
        if zones is None:
            return [], False
        located = self.locate(domains, zones)
        facts: dict[str, ZoneFacts] = {}
        for name, zone in located.items():
            if zone is not None:
                facts.setdefault(zone.id, ZoneFacts(zone)).names.append(name)
        probe_zone = next(iter(facts.values())).zone.id if facts else None
        if probe_zone is None and zones:
            probe_zone = zones[0].id
        write_ok = self.check_write_scope(probe_zone or ABSENT_ZONE_ID)
        for fact in facts.values():
            self.check_zone(fact, zones)
        return list(facts.values()), write_ok and all(located.values())

    # -- read-only checks ----------------------------------------------------------

    def check_api(self) -> bool:
        started = self._clock()
        try:
            self.client.get("/ping")
        except DpfApiError as exc:
            if exc.is_token_rejected:
                self.report.add(OK, "api", "", f"{self.client.endpoint} answers")
                self._token_rejected("read")
                return False
            if exc.status == 404:
                self.report.add(
                    FAILED,
                    "api",
                    "",
                    f"{self.client.endpoint} answers GET /ping with HTTP 404: this is not "
                    "the DPF API; the endpoint should end in /dpf/v1 "
                    "(leave dns_iijdpf_endpoint unset for the real service).",
                )
                return False
            self.report.add(FAILED, "api", "", str(exc))
            return False
        except DpfError as exc:
            self.report.add(FAILED, "api", "", str(exc))
            return False
        seconds = self._clock() - started
        self.report.add(
            OK, "api", "", f"{self.client.endpoint} answers GET /ping ({seconds:.2f} s)"
        )
        return True

    def _token_rejected(self, what: str) -> None:
        self.report.add(
            FAILED,
            "token",
            what,
            "DPF rejected the API token (HTTP 400 invalid/access_token): it is wrong, expired "
            "or revoked. Issue a new IIJ ID access token with the dpf_read and dpf_write "
            f"scopes and put it in {self.settings.source}.",
        )

    def check_read(self) -> list[Zone] | None:
        try:
            items = self.client.get_all("/zones")
        except DpfApiError as exc:
            if exc.is_token_rejected:
                self._token_rejected("read")
            else:
                self.report.add(FAILED, "token", "read", f"GET /zones failed: {exc}")
            return None
        except DpfError as exc:
            self.report.add(FAILED, "token", "read", f"GET /zones failed: {exc}")
            return None
        zones = [Zone.from_api(item) for item in items]
        codes = self.settings.service_codes
        if codes is not None:
            zones = [z for z in zones if z.service_code.lower() in codes]
        if not zones:
            restriction = (
                f" with the service codes {', '.join(sorted(codes))}" if codes is not None else ""
            )
            self.report.add(
                FAILED,
                "token",
                "read",
                f"the token is accepted but sees no zone{restriction}: give the IIJ ID user "
                "behind it management rights on the DPF contract that holds your zones.",
            )
            return zones
        names = ", ".join(label(z.name) for z in zones[:8])
        more = f" and {len(zones) - 8} more" if len(zones) > 8 else ""
        self.report.add(
            OK, "token", "read", f"accepted for reads; sees {len(zones)} zone(s): {names}{more}"
        )
        return zones

    def check_write_scope(self, zone_id: str) -> bool:
        """Whether the token may write, learned without changing anything.

        DPF checks the token and its scope before it looks at the path, and
        answers an edit of a record that does not exist with 400
        not_found/record.  So a PATCH of an id that is never issued tells the
        two cases apart and cannot stage anything: not_found (record or zone)
        means the write was authorised, invalid/access_token means the token
        lacks dpf_write (or its user lacks management rights on the zone).
        """
        path = f"/zones/{zone_id}/records/{ABSENT_RECORD_ID}"
        try:
            job = self.client.write("PATCH", path, {"description": ""})
        except DpfApiError as exc:
            # How DPF answers a token without dpf_write is undocumented: keep the answer.
            self.report.answer("token_write_answer", _detail_codes(exc))
            if exc.is_token_rejected:
                self.report.add(
                    FAILED,
                    "token",
                    "write",
                    "the token is refused for writes (invalid/access_token on a PATCH of a "
                    "record that does not exist): it lacks the dpf_write scope, or its IIJ ID "
                    "user lacks management rights on the zone's contract. Issue a token with "
                    "dpf_read and dpf_write.",
                )
                return False
            if exc.has_detail("not_found", "record") or exc.has_detail("not_found", "zone"):
                self.report.add(
                    OK,
                    "token",
                    "write",
                    "dpf_write accepted (a PATCH of a record that does not exist was answered "
                    f"{_detail_codes(exc)}; nothing was changed)",
                )
                return True
            if exc.has_detail("forbidden", "zone"):
                self.report.add(
                    OK,
                    "token",
                    "write",
                    "dpf_write accepted (the zone itself is read-only: forbidden/zone)",
                )
                return True
            self.report.add(
                WARNING,
                "token",
                "write",
                f"could not tell: the write-scope probe was answered {exc}",
            )
            return True
        except WriteOutcomeUnknown as exc:
            self.report.add(WARNING, "token", "write", f"could not tell: {exc}")
            return True
        except DpfError as exc:
            self.report.add(WARNING, "token", "write", f"could not tell: {exc}")
            return True
        self.report.add(
            WARNING,
            "token",
            "write",
            f"DPF accepted a PATCH of a record that does not exist (job {job}); the token "
            "can write, but DPF behaves unlike its documentation: please report this.",
        )
        return True

    def locate(self, domains: list[str], zones: list[Zone]) -> dict[str, Zone | None]:
        located: dict[str, Zone | None] = {}
        for domain in domains:
            name = challenge_name(domain)
            if name in located:
                continue
            matches = [z for z in zones if z.contains(name)]
            if not matches:
                located[name] = None
                self.report.add(
                    FAILED,
                    "zone",
                    label(name),
                    "no zone the token sees holds this name: check the spelling, or give the "
                    "token's IIJ ID user rights on its zone"
                    + (
                        " (or widen dns_iijdpf_service_codes)"
                        if self.settings.service_codes
                        else ""
                    ),
                )
                continue
            longest = max(len(z.name) for z in matches)
            best = [z for z in matches if len(z.name) == longest]
            if len(best) > 1:
                located[name] = None
                codes = ", ".join(sorted(z.service_code for z in best))
                self.report.add(
                    FAILED,
                    "zone",
                    label(name),
                    f"{len(best)} zones named {label(best[0].name)} (service codes {codes}); "
                    "set dns_iijdpf_service_codes to the code of the zone that is delegated.",
                )
                continue
            zone = best[0]
            located[name] = zone
            self.report.add(
                OK,
                "zone",
                label(name),
                f"in zone {label(zone.name)} ({zone.service_code}, {zone.id})",
            )
        return located

    def check_zone(self, fact: ZoneFacts, zones: list[Zone]) -> None:
        zone = fact.zone
        subject = label(zone.name)
        if zone.state == PUBLISHED_ZONE:
            self.report.add(OK, "published", subject, "zone state 2 (published)")
        elif zone.state == 1:
            fact.blocked = True
            self.report.add(
                FAILED,
                "published",
                subject,
                "zone state 1: not published yet, so no nameserver serves it; publish the zone "
                "in the DPF console first.",
            )
        else:
            self.report.add(
                WARNING,
                "published",
                subject,
                f"the zone object gives no usable state ({zone.state!r})",
            )
        self._check_proxy(fact)
        base = f"/zones/{zone.id}"
        try:
            fact.rows = [Row.from_api(i) for i in self.client.get_all(f"{base}/records")]
            fact.currents = [
                Row.from_api(i) for i in self.client.get_all(f"{base}/records/currents")
            ]
        except DpfError as exc:
            fact.blocked = True
            self.report.add(FAILED, "records", subject, f"cannot read the zone's records: {exc}")
            return
        for name in fact.names:
            self._check_delegation(fact, name)
            self._check_cname(fact, name, zones)
        self._check_nameservers(fact)
        self._check_staged(fact)

    def _check_proxy(self, fact: ZoneFacts) -> None:
        zone = fact.zone
        subject = label(zone.name)
        # API 3.7.0 has GET /zones/{id}/zone_proxy and no zone_proxy_enabled in
        # the zone object; older APIs had the field. Either may be missing.
        from_endpoint: int | None = None
        try:
            result = self.client.get(f"/zones/{zone.id}/zone_proxy").get("result")
            if isinstance(result, dict) and isinstance(result.get("enabled"), int):
                from_endpoint = int(result["enabled"])
        except DpfApiError as exc:
            if exc.is_token_rejected:
                raise
        self.report.answer("zone_proxy_endpoint", from_endpoint is not None)
        self.report.answer("zone_proxy_field", zone.proxy_field is not None)
        enabled: int | None
        if from_endpoint is not None:
            enabled, source, key = from_endpoint, "GET /zones/{id}/zone_proxy", "endpoint"
        elif zone.proxy_field is not None:
            enabled, source, key = zone.proxy_field, "the zone's zone_proxy_enabled", "zone_object"
        else:
            enabled, source, key = None, "", None
        self.report.answer("zone_proxy_source", key)
        if enabled is None:
            self.report.add(
                WARNING,
                "zone proxy",
                subject,
                "DPF does not say whether zone proxy is on (no zone_proxy endpoint, no "
                "zone_proxy_enabled field); if it is, the first write fails with forbidden/zone.",
            )
        elif enabled:
            fact.blocked = True
            self.report.add(
                FAILED,
                "zone proxy",
                subject,
                f"zone proxy is enabled ({source}): its records are read-only, so no challenge "
                "can be written; turn zone proxy off for this zone.",
            )
        else:
            self.report.add(OK, "zone proxy", subject, f"off ({source})")

    def _check_delegation(self, fact: ZoneFacts, name: str) -> None:
        zone = fact.zone
        cuts = sorted(
            {
                r.name
                for r in fact.currents + fact.rows
                if r.rrtype == "NS"
                and r.name != zone.name
                and r.state != BEFORE_UPDATE
                and (name == r.name or name.endswith("." + r.name))
            },
            key=len,
        )
        if cuts:
            fact.blocked = True
            servers = ", ".join(
                sorted(
                    {
                        label(v)
                        for r in fact.currents + fact.rows
                        if r.name == cuts[0]
                        for v in r.values
                    }
                )
            )
            self.report.add(
                FAILED,
                "delegation",
                label(name),
                f"{label(cuts[0])} is delegated to other nameservers ({servers}) inside zone "
                f"{label(zone.name)}; DPF's records there are not what the world sees. Put "
                f"the challenge in the zone of {label(cuts[0])}, or remove the delegation.",
            )
        else:
            self.report.add(OK, "delegation", label(name), "no NS delegation between apex and name")

    def _check_cname(self, fact: ZoneFacts, name: str, zones: list[Zone]) -> None:
        targets = [
            r.values[0]
            for r in fact.currents
            if r.name == name and r.rrtype == "CNAME" and r.values
        ]
        if not targets:
            self.report.add(OK, "cname", label(name), "no CNAME at the challenge name")
            return
        target = canonical(targets[0])
        holders = [z for z in zones if z.contains(target)]
        if holders:
            holder = max(holders, key=lambda z: len(z.name))
            self.report.add(
                INFO,
                "cname",
                label(name),
                f"CNAME to {label(target)}: the plugin writes the TXT record there, in zone "
                f"{label(holder.name)} (unless --dns-iijdpf-no-follow-cname)",
            )
        else:
            fact.blocked = True
            self.report.add(
                FAILED,
                "cname",
                label(name),
                f"CNAME to {label(target)}, which is in no zone this token sees: the plugin "
                "cannot write the TXT record there. Give the token rights on that zone, or "
                "remove the CNAME.",
            )

    def _nameserver_names(self, fact: ZoneFacts) -> tuple[list[str], str]:
        zone = fact.zone
        apex = sorted(
            {
                canonical(v)
                for r in fact.currents
                if r.name == zone.name and r.rrtype == "NS"
                for v in r.values
            }
        )
        if apex:
            return apex, "apex NS"
        try:
            body = self.client.get(f"/zones/{zone.id}/managed_dns_servers")
        except DpfApiError as exc:
            if exc.is_token_rejected:
                raise
            return [], ""
        results = body.get("results")
        names = [canonical(str(n)) for n in results] if isinstance(results, list) else []
        return sorted(set(names)), "managed_dns_servers"

    def _check_nameservers(self, fact: ZoneFacts) -> None:
        zone = fact.zone
        hostnames, source = self._nameserver_names(fact)
        if not hostnames:
            self.report.add(
                WARNING,
                "dns",
                label(zone.name),
                "DPF lists no nameserver for the zone (no apex NS, no managed_dns_servers); "
                "the plugin will wait a fixed time instead of checking propagation.",
            )
            return
        for hostname in hostnames:
            server = Nameserver(hostname)
            fact.nameservers.append(server)
            subject = label(hostname)
            addresses = self._resolve(hostname)
            if not addresses:
                self.report.add(
                    WARNING,
                    "dns",
                    subject,
                    f"({source}) the system resolver finds no address for it; the plugin "
                    "cannot check propagation there and waits a fixed time instead.",
                )
                continue
            server.address = addresses[0]
            problems: list[str] = []
            serial: int | None = None
            wrong_over_udp = False
            for tcp in (False, True):
                try:
                    serial = query_soa(zone.name, server.address, tcp=tcp)
                except DnsProblem as exc:
                    problems.append(f"{'TCP' if tcp else 'UDP'}: {exc}")
                    wrong_over_udp = wrong_over_udp or (exc.answered and not tcp)
                    continue
                if tcp:
                    server.tcp = True
                else:
                    server.udp = True
            where = f"{server.address} ({source})"
            if server.udp and server.tcp:
                self.report.add(
                    OK, "dns", subject, f"{where} serves SOA serial {serial} over UDP and TCP"
                )
            elif server.udp:
                self.report.add(
                    WARNING,
                    "dns",
                    subject,
                    f"{where} answers over UDP but not over TCP port 53 ({'; '.join(problems)}); "
                    "allow outgoing TCP 53 so that large answers can be checked.",
                )
            elif wrong_over_udp:
                fact.blocked = True
                self.report.add(
                    FAILED,
                    "dns",
                    subject,
                    f"{where} answers, but does not serve zone {label(zone.name)} "
                    f"({'; '.join(problems)}). The plugin waits until every nameserver of the "
                    "zone serves the challenge, so certbot would fail: check that the zone is "
                    "published and that its NS records name DPF's nameservers.",
                )
            else:
                self.report.add(
                    WARNING,
                    "dns",
                    subject,
                    f"{where} cannot be queried from this host ({'; '.join(problems)}). A "
                    "firewall blocking outgoing DNS is common; the plugin then waits a fixed "
                    "min(120, --dns-iijdpf-propagation-seconds) seconds instead of checking.",
                )

    def _check_staged(self, fact: ZoneFacts) -> None:
        staged = fact.staged
        subject = label(fact.zone.name)
        if not staged:
            self.report.add(OK, "staged", subject, "no staged (unapplied) edits")
            return
        self.report.add(
            WARNING,
            "staged",
            subject,
            f"{len(staged)} staged edit(s): {describe_rows(staged)}. The plugin refuses to apply "
            "while other people's edits are staged (ACME challenge values excepted): apply or "
            "discard them in the DPF console.",
        )

    # -- the write cycle ---------------------------------------------------------------

    def write_cycles(self, facts: list[ZoneFacts], can_write: bool) -> None:
        if not can_write or self.report.failed or any(f.blocked for f in facts):
            self.report.add(
                FAILED,
                "write",
                "",
                "not started: fix the failures above first (nothing was written).",
            )
            return
        staged = [f for f in facts if f.staged]
        if staged:
            zones = ", ".join(label(f.zone.name) for f in staged)
            self.report.add(
                FAILED,
                "write",
                "",
                f"refused to start: zone(s) {zones} hold staged edits (listed above), which an "
                "apply would publish. Apply or discard them in the DPF console, then run the "
                "probe again. Nothing was written.",
            )
            return
        for fact in facts:
            name = fact.names[0]
            existing = [r for r in fact.rows if r.name == name and r.rrtype in ("TXT", "CNAME")]
            if existing:
                self.report.add(
                    WARNING,
                    "write",
                    label(name),
                    f"skipped: {describe_rows(existing)} already exists at the name, and the "
                    "write test needs it empty; run it with a -d name that has none.",
                )
                continue
            WriteCycle(self, fact, name).run()


class WriteCycle:
    """One challenge cycle at one name, always followed by cleanup."""

    def __init__(self, probe: Probe, fact: ZoneFacts, name: str) -> None:
        self.probe = probe
        self.client = probe.client
        self.report = probe.report
        self.fact = fact
        self.zone = fact.zone
        self.name = name
        self.subject = label(name)
        self.base = f"/zones/{fact.zone.id}"
        self.value1 = acme_value()
        self.value2 = acme_value()
        self.ours = {quoted(self.value1), quoted(self.value2)}
        self.created: set[str] = set()
        self.job_estimate: float | None = None
        self.lost_answers = 0
        self._clock = probe._clock
        self._sleep = probe._sleep

    # -- reading --------------------------------------------------------------------

    def records(self) -> list[Row]:
        return [Row.from_api(i) for i in self.client.get_all(f"{self.base}/records")]

    def currents(self) -> list[Row]:
        return [Row.from_api(i) for i in self.client.get_all(f"{self.base}/records/currents")]

    def mine(self, rows: Iterable[Row]) -> list[Row]:
        """Our rows at the name (state-5 snapshots left out), remembering their ids."""
        found = [
            r
            for r in rows
            if r.name == self.name
            and r.rrtype == "TXT"
            and r.state != BEFORE_UPDATE
            and (r.id in self.created or set(r.values) & self.ours)
        ]
        self.created.update(r.id for r in found)
        return found

    def row(self, record_id: str, rows: list[Row] | None = None) -> Row | None:
        for r in self.records() if rows is None else rows:
            if r.id == record_id and r.state != BEFORE_UPDATE:
                return r
        return None

    def others_pending(self, rows: list[Row]) -> list[Row]:
        mine = {r.id for r in self.mine(rows)}
        return [r for r in rows if r.state in PENDING and r.id not in mine]

    # -- writing ----------------------------------------------------------------------

    def attempt(
        self,
        what: str,
        method: str,
        path: str,
        body: JsonObject | None = None,
        settled: Callable[[], bool] | None = None,
    ) -> Outcome:
        """Send a write and wait for its job.

        A write whose answer was lost may still have been processed: the zone
        is read until ``settled`` shows its effect, and only a zone that shows
        nothing after a while is taken as "not processed" and sent again,
        which is safe because the request then meets the same zone.
        """
        for _ in range(3):
            started = self._clock()
            try:
                job_id = self.client.write(method, path, body)
            except DpfApiError as exc:
                if exc.is_token_rejected or exc.has_detail("forbidden", "zone"):
                    raise _Abort(what, f"DPF refused {method} {path}: {exc}") from None
                return Outcome(refused=exc)
            except WriteOutcomeUnknown:
                self.lost_answers += 1
                if settled is not None and self.settle(settled):
                    return Outcome(lost=True)
                continue
            status, seconds, job = self.wait_job(job_id, what, started)
            return Outcome(status=status, seconds=seconds, job=job)
        raise _Abort(what, f"the answer to {method} {path} was lost three times in a row")

    def settle(self, settled: Callable[[], bool]) -> bool:
        estimate = self.job_estimate if self.job_estimate is not None else 1.0
        limit = min(30.0, max(3.0, 10 * estimate))
        end = self._clock() + limit
        while True:
            if settled():
                return True
            if self._clock() >= end:
                return False
            self._sleep(POLL_INTERVAL)

    def wait_job(self, job_id: str, what: str, started: float) -> tuple[str, float, JsonObject]:
        # Every poll spends one request of the client's rate limit, which the
        # rest of the cycle needs too: start soon, then back off to 1 s.
        interval = FIRST_JOB_POLL
        while True:
            job = self.client.job(job_id)
            status = str(job.get("status", ""))
            elapsed = self._clock() - started
            if status in ("SUCCESSFUL", "FAILED"):
                if status == "SUCCESSFUL":
                    self.job_estimate = elapsed
                return status, elapsed, job
            if status != "RUNNING":
                raise _Abort(what, f"DPF reported job {job_id} with unknown status {status!r}")
            if elapsed > JOB_TIMEOUT:
                raise _Abort(what, f"DPF job {job_id} was still RUNNING after {JOB_TIMEOUT:.0f} s")
            self._sleep(interval)
            interval = min(1.0, interval * 1.5)

    def require(self, what: str, outcome: Outcome, action: str) -> Outcome:
        if outcome.refused is not None:
            raise _Abort(what, f"DPF refused to {action}: {outcome.refused}")
        if outcome.status == "FAILED":
            job = outcome.job or {}
            raise _Abort(
                what,
                f"the job to {action} FAILED: {job.get('error_type', '')}: "
                f"{job.get('error_message', '')}",
            )
        return outcome

    def post(self, value: str) -> tuple[Outcome, Row]:
        body: JsonObject = {
            "name": self.name,
            "ttl": self.probe.settings.ttl,
            "rrtype": "TXT",
            "rdata": [{"value": quoted(value)}],
            "description": PROBE_DESCRIPTION,
        }

        def settled() -> bool:
            return any(quoted(value) in r.values for r in self.mine(self.records()))

        outcome = self.require(
            "write post",
            self.attempt("write post", "POST", f"{self.base}/records", body, settled),
            f"stage a TXT record at {self.subject}",
        )
        rows = [r for r in self.mine(self.records()) if quoted(value) in r.values]
        if not rows:
            raise _Abort("write post", "the POST job succeeded, but the record is not in /records")
        return outcome, rows[0]

    def apply(self, what: str, settled: Callable[[], bool]) -> Outcome:
        rows = self.records()
        others = self.others_pending(rows)
        if others:
            raise _Abort(
                what,
                f"someone staged edits in zone {label(self.zone.name)} meanwhile "
                f"({describe_rows(others)}); the probe does not apply them.",
            )
        return self.require(
            what,
            self.attempt(
                what, "PATCH", f"{self.base}/changes", {"description": PROBE_DESCRIPTION}, settled
            ),
            f"apply zone {label(self.zone.name)}",
        )

    def cancel(self, what: str, record_id: str) -> Outcome:
        def settled() -> bool:
            row = self.row(record_id)
            return row is None or row.state not in PENDING

        return self.attempt(
            what, "DELETE", f"{self.base}/records/{record_id}/changes", None, settled
        )

    def gone(self, what: str, record_id: str, row: Row | None) -> None:
        """Make sure a never-applied row (``row``, as last read) no longer exists."""
        for _ in range(3):
            if row is None:
                return
            self.cancel(what, record_id)
            row = self.row(record_id)
        if row is not None:
            raise _Abort(what, f"the never-applied record {record_id} would not go away")

    # -- the cycle --------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.cycle()
        except _Abort as abort:
            self.report.add(FAILED, abort.name, self.subject, abort.detail)
        except DpfError as exc:
            self.report.add(FAILED, "write", self.subject, f"stopped: {exc}")
        finally:
            self.cleanup()

    def cycle(self) -> None:
        report = self.report
        subject = self.subject
        q1, q2 = quoted(self.value1), quoted(self.value2)

        outcome, row = self.post(self.value1)
        report.answer("job_seconds", _round(outcome.seconds))
        report.add(
            OK,
            "write post",
            subject,
            f"POST of a TXT record staged it; job took {_seconds(outcome.seconds)}",
        )

        in_currents = any(r.name == self.name and r.rrtype == "TXT" for r in self.currents())
        report.answer("pending_add_state", row.state)
        report.answer("pending_add_in_currents", in_currents)
        if row.state == ADDING and not in_currents:
            report.add(
                OK,
                "write pending",
                subject,
                "the new row shows state 1 in /records and is absent from /records/currents",
            )
        else:
            report.add(
                WARNING,
                "write pending",
                subject,
                f"the new row shows state {row.state} in /records and is "
                f"{'present in' if in_currents else 'absent from'} /records/currents "
                "(expected state 1, absent); please report this.",
            )

        rid = row.id
        path = f"{self.base}/records/{rid}"

        def patched() -> bool:
            current = self.row(rid)
            return current is not None and set(current.values) == {q1, q2}

        outcome = self.attempt(
            "write patch pending add",
            "PATCH",
            path,
            {"rdata": [{"value": q1}, {"value": q2}]},
            patched,
        )
        if outcome.refused is not None:
            answer = "refused"
            detail = f"refused ({_detail_codes(outcome.refused)})"
        elif outcome.status == "FAILED":
            answer = "refused"
            detail = "accepted, but its job FAILED"
        else:
            answer = "allowed"
            current = self.row(rid)
            state = current.state if current is not None else None
            detail = f"allowed (the row is now state {state})"
        report.answer("patch_pending_add", answer)
        report.add(INFO, "write patch pending add", subject, f"PATCH of a state-1 row: {detail}")

        def deleted() -> bool:
            current = self.row(rid)
            return current is None or current.state != ADDING

        outcome = self.attempt("write delete pending add", "DELETE", path, None, deleted)
        after = self.row(rid)
        why = outcome.refusal
        if why is not None:
            answer = "refused"
            detail = f"refused ({why}); cancelled with DELETE .../changes instead"
        elif after is None:
            answer = "cancels"
            detail = "the row is gone: DELETE cancels a pending add"
        elif after.state == DELETING:
            answer = "stages"
            detail = "the row shows state 2: DELETE stages a deletion; cancelled it"
        else:
            answer = f"state {after.state}"
            detail = f"the row shows state {after.state}; cancelled it"
        report.answer("delete_pending_add", answer)
        report.add(INFO, "write delete pending add", subject, f"DELETE of a state-1 row: {detail}")
        self.gone("write delete pending add", rid, after)

        _, row = self.post(self.value1)
        rid = row.id
        path = f"{self.base}/records/{rid}"

        def applied() -> bool:
            current = self.row(rid)
            return current is not None and current.state == APPLIED

        outcome = self.apply("write apply", applied)
        report.answer("apply_seconds", _round(outcome.seconds))
        report.add(OK, "write apply", subject, f"apply job took {_seconds(outcome.seconds)}")

        served = self.wait_nameservers(lambda values: self.value1 in values, "serves")
        report.answer("nameserver_seconds", served)

        def updating() -> bool:
            current = self.row(rid)
            return current is not None and current.state == UPDATING

        self.require(
            "write update",
            self.attempt(
                "write update",
                "PATCH",
                path,
                {"rdata": [{"value": q1}, {"value": q2}]},
                updating,
            ),
            "update the applied record",
        )
        rows = self.records()
        state5 = any(r.id == rid and r.state == BEFORE_UPDATE for r in rows)
        live = {
            v
            for r in self.currents()
            if r.name == self.name and r.rrtype == "TXT"
            for v in r.values
        }
        during = "old" if live == {q1} else "new" if live == {q1, q2} else "other"
        report.answer("state5_rows", state5)
        report.answer("currents_during_update", during)
        report.add(
            INFO,
            "write update",
            subject,
            f"PATCH of an applied row: /records {'lists' if state5 else 'does not list'} a "
            f"state-5 'before update' row; /records/currents shows the {during} values",
        )

        def delete_staged() -> bool:
            current = self.row(rid)
            return current is None or current.state != UPDATING

        outcome = self.attempt("write delete pending update", "DELETE", path, None, delete_staged)
        current = self.row(rid)
        why = outcome.refusal
        if why is not None:
            answer = "refused"
            detail = f"refused ({why})"
        elif current is not None and current.state == DELETING:
            answer = "stages"
            detail = "the row shows state 2: DELETE stages the deletion of the applied record"
        elif current is not None and current.state == APPLIED:
            answer = "cancels"
            detail = "the row shows state 0 again: DELETE cancelled the pending update"
        else:
            answer = "other"
            shown = "gone" if current is None else f"state {current.state}"
            detail = f"accepted; the row is now {shown}"
        report.answer("delete_pending_update", answer)
        report.add(
            INFO, "write delete pending update", subject, f"DELETE of a state-3 row: {detail}"
        )

        if current is None or current.state != APPLIED:
            self.cancel("write cancel update", rid)
            current = self.row(rid)
        if current is None or current.state != APPLIED or set(current.values) != {q1}:
            shown = (
                "gone"
                if current is None
                else f"state {current.state}, {len(current.values)} values"
            )
            raise _Abort(
                "write cancel update",
                f"cancelling the pending edit did not restore the applied record ({shown})",
            )
        report.add(
            OK, "write cancel update", subject, "the applied row is back to its single value"
        )

        self.empty_apply()

        def deleting() -> bool:
            current = self.row(rid)
            return current is None or current.state == DELETING

        self.require(
            "write withdraw",
            self.attempt("write withdraw", "DELETE", path, None, deleting),
            "stage the deletion of the record",
        )

        def removed() -> bool:
            return self.row(rid) is None

        self.apply("write withdraw", removed)
        report.add(OK, "write withdraw", subject, "DELETE of the applied row and apply succeeded")
        gone = self.wait_nameservers(lambda values: self.value1 not in values, "stopped serving")
        report.answer("nameserver_removal_seconds", gone)

    def empty_apply(self) -> None:
        rows = self.records()
        if any(r.state in PENDING for r in rows):
            self.report.add(
                WARNING,
                "write empty apply",
                self.subject,
                "skipped: the zone is not free of pending edits",
            )
            return
        # Nothing changes in the zone either way, so a lost answer is simply sent again.
        outcome = self.attempt(
            "write empty apply",
            "PATCH",
            f"{self.base}/changes",
            {"description": PROBE_DESCRIPTION},
        )
        if outcome.refused is not None:
            answer = "error"
            detail = f"refused at once ({_detail_codes(outcome.refused)})"
        elif outcome.status == "FAILED":
            answer = "job_failed"
            job = outcome.job or {}
            detail = f"accepted, but its job FAILED ({job.get('error_message', '')})"
        else:
            answer = "ok"
            detail = "accepted; its job SUCCESSFUL"
        self.report.answer("empty_apply", answer)
        self.report.add(
            INFO, "write empty apply", self.subject, f"apply with nothing pending: {detail}"
        )

    def wait_nameservers(
        self, done: Callable[[set[str]], bool], verb: str
    ) -> dict[str, float | None]:
        """Seconds until each reachable nameserver ``done``; None for those that never did."""
        servers = [s for s in self.fact.nameservers if s.address and s.udp]
        results: dict[str, float | None] = {}
        if not servers:
            self.report.add(
                WARNING,
                "propagation",
                label(self.zone.name),
                "no nameserver of the zone can be queried from this host; not measured",
            )
            return results
        started = self._clock()
        answered: set[str] = set()
        waiting = {s.hostname: s for s in servers}
        while waiting:
            elapsed = self._clock() - started
            for hostname, server in list(waiting.items()):
                assert server.address is not None
                try:
                    values = query_txt(self.name, server.address, 2.0)
                except (dns.exception.DNSException, OSError):
                    if hostname not in answered and elapsed >= UNREACHABLE_AFTER:
                        results[hostname] = None
                        del waiting[hostname]
                    continue
                answered.add(hostname)
                if done(values):
                    results[hostname] = round(self._clock() - started, 2)
                    del waiting[hostname]
            if not waiting or self._clock() - started >= self.probe.max_wait:
                break
            self._sleep(POLL_INTERVAL)
        for hostname in waiting:
            results[hostname] = None
        for server in servers:
            seconds = results.get(server.hostname)
            if seconds is None:
                self.report.add(
                    WARNING,
                    "propagation",
                    label(server.hostname),
                    f"had not {verb} the value after {self.probe.max_wait:.0f} s (--max-wait); "
                    "raise --dns-iijdpf-propagation-seconds to at least that",
                )
            else:
                self.report.add(
                    OK,
                    "propagation",
                    label(server.hostname),
                    f"{verb} the value {seconds:.1f} s after the apply job ended",
                )
        return results

    # -- cleanup ------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Withdraw whatever the cycle left; never raises, and reports what it could not do."""
        try:
            self._cleanup()
        except Exception as exc:
            self.report.add(
                FAILED,
                "write cleanup",
                self.subject,
                f"could not finish ({exc}); remove the TXT record at {self.subject} whose "
                f"description is {PROBE_DESCRIPTION!r} in the DPF console and apply.",
            )
        if self.lost_answers:
            self.report.add(
                WARNING,
                "write lost answers",
                self.subject,
                f"{self.lost_answers} write answer(s) were lost (504 or a broken connection); "
                "the zone was re-read each time",
            )
        self.report.answer("lost_answers", self.lost_answers)

    def _cleanup(self) -> None:
        rows = self.records()
        for _ in range(8):
            mine = self.mine(rows)
            if not mine:
                break
            acted = False
            for row in mine:
                if row.state in (ADDING, UPDATING):
                    outcome = self.cancel("write cleanup", row.id)
                    if row.state == ADDING and outcome.refused is not None:
                        self.attempt("write cleanup", "DELETE", f"{self.base}/records/{row.id}")
                    acted = True
                elif row.state == APPLIED:
                    self.attempt("write cleanup", "DELETE", f"{self.base}/records/{row.id}")
                    acted = True
            if acted:
                rows = self.records()
                continue
            others = self.others_pending(rows)
            if others:
                self.report.add(
                    FAILED,
                    "write cleanup",
                    self.subject,
                    f"the probe's record is staged for deletion, but zone "
                    f"{label(self.zone.name)} also holds other edits ({describe_rows(others)}), "
                    "so the probe does not apply; apply the zone in the DPF console.",
                )
                return
            ids = {r.id for r in mine}

            def withdrawn(ids: set[str] = ids) -> bool:
                return not any(r.id in ids for r in self.records())

            self.attempt(
                "write cleanup",
                "PATCH",
                f"{self.base}/changes",
                {"description": PROBE_DESCRIPTION},
                withdrawn,
            )
            rows = self.records()
        left = self.mine(rows) + [
            r for r in self.currents() if r.name == self.name and set(r.values) & self.ours
        ]
        if left:
            self.report.add(
                FAILED,
                "write cleanup",
                self.subject,
                f"left behind: {describe_rows(left)}; remove it in the DPF console and apply.",
            )
        else:
            self.report.add(
                OK,
                "write cleanup",
                self.subject,
                "nothing of the probe is left, staged or live",
            )


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 2)


def _seconds(seconds: float | None) -> str:
    return "an unknown time (its answer was lost)" if seconds is None else f"{seconds:.2f} s"


def summary_line(report: Report) -> str:
    if report.failed:
        return "Result: something above would make certbot fail (see the failed lines)."
    warnings = sum(1 for c in report.checks if c.status == WARNING)
    if warnings:
        return f"Result: nothing would make certbot fail; {warnings} warning(s) to read."
    return "Result: nothing found that would make certbot fail."


def dump_json(report: Report, stream: TextIO, **extra: Any) -> None:
    payload = report.as_json(version=__version__, **extra)
    print(json.dumps(payload, indent=2, ensure_ascii=False), file=stream)
