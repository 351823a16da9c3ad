"""The read-only checks: all that would make a certbot run fail, found before any write."""

from __future__ import annotations

import time
from collections.abc import Callable

from certbot_dns_iijdpf._internal.client import DpfClient
from certbot_dns_iijdpf._internal.errors import DpfApiError, DpfError, WriteOutcomeUnknown
from certbot_dns_iijdpf._internal.planner import (
    BEFORE_UPDATE,
    Row,
    describe_rows,
)
from certbot_dns_iijdpf._internal.probe.facts import (
    PUBLISHED_ZONE,
    DnsProblem,
    Nameserver,
    Zone,
    ZoneFacts,
    challenge_name,
    detail_codes,
    label,
    query_soa,
)
from certbot_dns_iijdpf._internal.probe.report import FAILED, INFO, OK, WARNING, Report
from certbot_dns_iijdpf._internal.probe.write_cycle import WriteCycle
from certbot_dns_iijdpf._internal.propagation import resolve_addresses
from certbot_dns_iijdpf._internal.settings import Settings
from certbot_dns_iijdpf._internal.zones import canonical

# Record ids are 14 characters starting with "r"; this one is never issued
# because it is all zeros, so the write-scope probe cannot touch a real record.
ABSENT_RECORD_ID = "r00000000000000"
ABSENT_ZONE_ID = "m00000000000000"


DEFAULT_MAX_WAIT = 600.0


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
            self.report.answer("token_write_answer", detail_codes(exc))
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
                    f"{detail_codes(exc)}; nothing was changed)",
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
