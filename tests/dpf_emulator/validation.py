"""Checks DPF runs when it accepts a record write, before any job exists.

Every function raises :class:`~.errors.ApiError` (400 ParameterError with one
error detail) on the first problem it finds, so a write either passes all
checks or has no effect at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from .errors import param_error

RRTYPES = frozenset(
    {
        "A",
        "AAAA",
        "ANAME",
        "CAA",
        "CNAME",
        "DS",
        "HTTPS",
        "MX",
        "NAPTR",
        "NS",
        "PTR",
        "SOA",
        "SRV",
        "SVCB",
        "TLSA",
        "TXT",
    }
)
TTL_MAX = 2147483647
DESCRIPTION_MAX = 80
POST_FIELDS = frozenset({"name", "ttl", "rrtype", "rdata", "description", "labels"})
PATCH_FIELDS = frozenset({"ttl", "rdata", "description", "labels"})


def normalize_name(raw: Any) -> str:
    """Lower-case FQDN with trailing dot; a missing dot is taken to mean absolute."""
    if not isinstance(raw, str):
        raise param_error("invalid", "schema")
    if not 1 <= len(raw) <= 255 or raw.strip() != raw or raw == ".":
        raise param_error("invalid", "name")
    text = raw if raw.endswith(".") else raw + "."
    try:
        name = dns.name.from_text(text)
    except dns.exception.DNSException:
        raise param_error("invalid", "name") from None
    return name.to_text().lower()


def in_zone(name: str, zone: str) -> bool:
    return dns.name.from_text(name).is_subdomain(dns.name.from_text(zone))


def split_txt(value: str) -> list[bytes] | None:
    """The character-strings of a DPF TXT value, or None if a part is unquoted.

    DPF stores presentation text such as ``"part1" "part2"``; each part must be
    quoted, and backslash escapes (``\\"``, ``\\\\``, ``\\DDD``) are allowed inside.
    """
    strings: list[bytes] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in " \t":
            i += 1
        if i == n:
            break
        if value[i] != '"':
            return None
        i += 1
        chunk = bytearray()
        while True:
            if i == n:
                return None
            ch = value[i]
            if ch == '"':
                i += 1
                break
            if ch == "\\":
                if i + 1 == n:
                    return None
                if value[i + 1 : i + 4].isdigit() and len(value[i + 1 : i + 4]) == 3:
                    code = int(value[i + 1 : i + 4])
                    if code > 255:
                        return None
                    chunk.append(code)
                    i += 4
                    continue
                chunk.extend(value[i + 1].encode())
                i += 2
                continue
            chunk.extend(ch.encode())
            i += 1
        if i < n and value[i] not in " \t":
            return None
        strings.append(bytes(chunk))
    return strings or None


def check_rdata(rrtype: str, rdata: Any, zone: str) -> list[str]:
    """Validate a body's ``rdata`` list and return its value strings."""
    if not isinstance(rdata, list) or not rdata:
        raise param_error("invalid", "schema")
    values: list[str] = []
    for item in rdata:
        if not isinstance(item, Mapping) or set(item) != {"value"}:
            raise param_error("invalid", "schema")
        value = item["value"]
        if not isinstance(value, str):
            raise param_error("invalid", "schema")
        values.append(value)
    if rrtype == "CNAME" and len(values) > 1:
        raise param_error("multiple_rdata_found", "rdata")
    for value in values:
        check_value(rrtype, value, zone)
    return values


def check_value(rrtype: str, value: str, zone: str) -> None:
    if rrtype == "TXT":
        strings = split_txt(value)
        if strings is None:
            raise param_error("invalid_quotes", "rdata")
        if any(len(s) > 255 for s in strings):
            raise param_error("invalid", "rdata")
    # dnspython has no ANAME; it carries a single target name like CNAME.
    parse_type = "CNAME" if rrtype == "ANAME" else rrtype
    try:
        dns.rdata.from_text(
            dns.rdataclass.IN,
            dns.rdatatype.from_text(parse_type),
            value,
            origin=dns.name.from_text(zone),
            relativize=False,
        )
    except (dns.exception.DNSException, ValueError, TypeError):
        raise param_error("invalid", "rdata") from None


def check_ttl(ttl: Any) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise param_error("invalid", "schema")
    if not 1 <= ttl <= TTL_MAX:
        raise param_error("out_of_range", "ttl")
    return int(ttl)


def check_description(description: Any) -> str:
    if not isinstance(description, str):
        raise param_error("invalid", "schema")
    if len(description) > DESCRIPTION_MAX:
        raise param_error("invalid", "description")
    return description


def check_labels(labels: Any) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        raise param_error("invalid", "schema")
    if len(labels) > 10:
        raise param_error("invalid", "labels")
    out: dict[str, str] = {}
    for key, value in labels.items():
        if not isinstance(value, str) or not 1 <= len(value) <= 63 or not key:
            raise param_error("invalid", "labels")
        out[str(key)] = value
    return out


def check_object(body: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping) or set(body) - allowed:
        raise param_error("invalid", "schema")
    return body


def check_rrtype(rrtype: Any) -> str:
    if not isinstance(rrtype, str):
        raise param_error("invalid", "schema")
    if rrtype.upper() not in RRTYPES or rrtype.upper() == "SOA":
        raise param_error("invalid", "rrtype")
    return rrtype.upper()
