"""Search parameters of DPF list endpoints: ``type``, ``offset``, ``limit`` and
``_keywords_<field>[]`` filters.

The HTTP layer hands over the query as decoded by ``urllib.parse.parse_qs``, so
``%5B%5D`` and ``[]`` arrive alike. DPF documents the name filter as a partial
match and says no more, so the emulator chooses: a keyword matches when it is a
case-insensitive substring of the field (numeric fields such as ``ttl`` or
``state`` must be equal instead); several values of one key are OR'ed; the
keys are combined with ``type`` (AND by default, or OR).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import param_error

T = TypeVar("T")

OFFSET_MAX = 10_000_000
LIMIT_MAX = 10_000
DEFAULT_LIMIT = 100
KEYWORD_MAX_LEN = 381
KEYWORDS_MAX = 30

ZONE_KEYWORDS = frozenset(
    {
        "full_text",
        "service_code",
        "name",
        "network",
        "state",
        "favorite",
        "description",
        "common_config_id",
        "zone_proxy_enabled",
        "label",
    }
)
RECORD_KEYWORDS = frozenset(
    {
        "full_text",
        "name",
        "ttl",
        "rrtype",
        "rdata",
        "description",
        "operator",
        "label",
    }
)
DIFF_KEYWORDS = RECORD_KEYWORDS - {"operator"}
HISTORY_KEYWORDS = frozenset({"full_text", "description", "operator"})
NUMERIC_KEYWORDS = frozenset({"ttl", "state", "favorite", "common_config_id", "zone_proxy_enabled"})


@dataclass
class Search:
    type: str = "AND"
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    keywords: dict[str, list[str]] = field(default_factory=dict)


def _int_param(
    query: Mapping[str, Sequence[str]], key: str, default: int, low: int, high: int
) -> int:
    values = query.get(key)
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        raise param_error("invalid", key) from None
    if not low <= number <= high:
        raise param_error("invalid", key)
    return number


def parse_search(query: Mapping[str, Sequence[str]], allowed: frozenset[str]) -> Search:
    """Read search parameters; unknown ``_keywords_*`` keys are a 400 invalid/<key>."""
    search = Search()
    kind = query.get("type")
    if kind:
        search.type = kind[-1].upper()
        if search.type not in ("AND", "OR"):
            raise param_error("invalid", "type")
    search.offset = _int_param(query, "offset", 0, 0, OFFSET_MAX)
    search.limit = _int_param(query, "limit", DEFAULT_LIMIT, 1, LIMIT_MAX)
    total = 0
    for key, values in query.items():
        if not key.startswith("_keywords_"):
            continue
        base = key[:-2] if key.endswith("[]") else key
        name = base[len("_keywords_") :]
        if name not in allowed:
            raise param_error("invalid", base)
        for value in values:
            if len(value) > KEYWORD_MAX_LEN:
                raise param_error("invalid", base)
        total += len(values)
        search.keywords.setdefault(name, []).extend(values)
    if total > KEYWORDS_MAX:
        raise param_error("invalid", "keywords")
    return search


def matches(search: Search, fields: Callable[[str], Iterable[str]]) -> bool:
    """Whether an item passes the keyword filters; ``fields(key)`` gives its texts."""
    if not search.keywords:
        return True
    results = []
    for key, wanted in search.keywords.items():
        texts = [t.lower() for t in fields(key)]
        if key in NUMERIC_KEYWORDS:
            hit = any(w.strip().lower() == t for w in wanted for t in texts)
        else:
            hit = any(w.lower() in t for w in wanted for t in texts)
        results.append(hit)
    return all(results) if search.type == "AND" else any(results)


def select(
    items: Sequence[T],
    search: Search,
    fields: Callable[[T, str], Iterable[str]],
    paged: bool = True,
) -> list[T]:
    hits = [item for item in items if matches(search, functools.partial(fields, item))]
    if paged:
        return hits[search.offset : search.offset + search.limit]
    return hits


def _labels(item: Mapping[str, object]) -> list[str]:
    labels = item.get("labels") or {}
    assert isinstance(labels, Mapping)
    return [f"{k}={v}" for k, v in labels.items()]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def zone_fields(zone: Mapping[str, object], key: str) -> list[str]:
    if key == "label":
        return _labels(zone)
    if key == "full_text":
        return [_text(zone.get(k)) for k in ("service_code", "name", "network", "description")]
    return [_text(zone.get(key))]


def record_fields(row: Mapping[str, object], key: str) -> list[str]:
    rdata = row.get("rdata") or []
    assert isinstance(rdata, list)
    values = [_text(item.get("value")) for item in rdata if isinstance(item, Mapping)]
    if key == "rdata":
        return values
    if key == "label":
        return _labels(row)
    if key == "full_text":
        texts = [_text(row.get(k)) for k in ("name", "rrtype", "description", "operator", "ttl")]
        return texts + values + _labels(row)
    return [_text(row.get(key))]


def diff_fields(pair: Mapping[str, object], key: str) -> list[str]:
    out: list[str] = []
    for side in ("new", "old"):
        row = pair.get(side)
        if isinstance(row, Mapping):
            out.extend(record_fields(row, key))
    return out


def history_fields(entry: Mapping[str, object], key: str) -> list[str]:
    if key == "full_text":
        return [_text(entry.get("description")), _text(entry.get("operator"))]
    return [_text(entry.get(key))]
