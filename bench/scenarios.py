"""What is measured: scenarios (the names of one certificate), tools, and the plan of runs."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from bench.settings import (
    LEGO_RATE,
    LEGO_REQUESTS_PER_NAME,
    MULTI_DEFAULT_PROPAGATION,
    MULTI_SHORT_PROPAGATION,
    NAME_COUNTS,
    PLUGIN_RATE,
    ZONES,
)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    domains: tuple[str, ...]

    @property
    def names(self) -> int:
        return len(self.domains)

    @property
    def cert_name(self) -> str:
        return self.domains[0].removeprefix("*.")

    @property
    def zones(self) -> list[str]:
        """The zones of the names, in the order the names first use them."""
        found: list[str] = []
        for domain in self.domains:
            zone = zone_of(domain)
            if zone not in found:
                found.append(zone)
        return found

    def domains_in(self, zone: str) -> list[str]:
        return [domain for domain in self.domains if zone_of(domain) == zone]


def zone_of(domain: str) -> str:
    name = domain.removeprefix("*.").rstrip(".") + "."
    matches = [zone for zone in ZONES if name == zone or name.endswith("." + zone)]
    if not matches:
        raise ValueError(f"{domain} is in none of the benchmark zones")
    return max(matches, key=len)


def names_in_one_zone(count: int) -> Scenario:
    """``count`` names in example.com, one challenge each."""
    return Scenario(
        f"names-{count}",
        f"{count} name{'' if count == 1 else 's'} in example.com",
        tuple(f"name{i:03d}.example.com" for i in range(1, count + 1)),
    )


WILDCARD = Scenario("wildcard", "`*.example.com` + `example.com`", ("*.example.com", "example.com"))
TWO_ZONES = Scenario(
    "two-zones",
    "two zones: example.com + example.net",
    ("example.com", "www.example.com", "example.net", "www.example.net"),
)
GROWTH = tuple(names_in_one_zone(count) for count in NAME_COUNTS)  # the plot's x axis
SCENARIOS = (WILDCARD, TWO_ZONES, *GROWTH)


@dataclass(frozen=True)
class Tool:
    key: str
    label: str
    rate: float  # the client's own rate limit, requests per second
    dns_multi: bool = False  # certbot-dns-multi (lego) rather than this plugin
    # certbot-dns-multi's sleep; None = its default, flag omitted. Optional, not
    # `int | None`: bench/jsonform.py evaluates the hint, also on Python 3.9.
    propagation: Optional[int] = None  # noqa: UP045

    @property
    def sleep(self) -> float:
        """certbot-dns-multi's blind sleep after presenting (0 for the plugin, which polls)."""
        if not self.dns_multi:
            return 0.0
        return float(MULTI_DEFAULT_PROPAGATION if self.propagation is None else self.propagation)


PLUGIN = Tool("plugin", "certbot-dns-iijdpf (defaults)", PLUGIN_RATE)
MULTI_SHORT = Tool(
    f"dns-multi@{MULTI_SHORT_PROPAGATION}",
    f"certbot-dns-multi, propagation {MULTI_SHORT_PROPAGATION} s",
    LEGO_RATE,
    dns_multi=True,
    propagation=MULTI_SHORT_PROPAGATION,
)
MULTI_DEFAULT = Tool(
    f"dns-multi@{MULTI_DEFAULT_PROPAGATION}",
    f"certbot-dns-multi, propagation {MULTI_DEFAULT_PROPAGATION} s (default)",
    LEGO_RATE,
    dns_multi=True,
)
TOOLS = (PLUGIN, MULTI_SHORT, MULTI_DEFAULT)


class RunKind(enum.Enum):
    BASELINE = "baseline"  # certbot --manual with challtestsrv hooks: part of the floor
    TOOL = "tool"  # a tool gets the scenario's certificate (one run per zone for dns-multi)
    ONE_CERTIFICATE = "one-certificate"  # dns-multi tries all zones in one certificate


@dataclass(frozen=True)
class Step:
    """One row's worth of work: a fresh environment and the certbot command(s) in it."""

    scenario: Scenario
    kind: RunKind
    # None only for the baseline. Optional: as for `propagation`.
    tool: Optional[Tool] = None  # noqa: UP045

    @property
    def name(self) -> str:
        what = self.tool.key if self.tool is not None else self.kind.value
        suffix = " (one certificate)" if self.kind is RunKind.ONE_CERTIFICATE else ""
        return f"{self.scenario.key}/{what}{suffix}"

    @property
    def in_namespace(self) -> bool:
        """certbot-dns-multi runs go to parallel workers, each in its own network namespace."""
        return self.tool is not None and self.tool.dns_multi

    def expected_seconds(self) -> float:
        """A rough duration: to start the longest workers first and to set timeouts."""
        if self.tool is None or not self.tool.dns_multi:
            return 15.0 + self.scenario.names
        runs = 1 if self.kind is RunKind.ONE_CERTIFICATE else len(self.scenario.zones)
        return (
            LEGO_REQUESTS_PER_NAME / self.tool.rate * self.scenario.names + self.tool.sleep * runs
        )

    def timeout(self) -> float:
        """How long one certbot command of this step may take before it counts as hung."""
        return 300.0 + 2 * self.expected_seconds()


def plan(
    scenarios: Sequence[Scenario], tools: Sequence[Tool], baseline_runs: int, quick: bool
) -> list[Step]:
    """Every step, scenario by scenario: baselines first, then each tool.

    ``quick`` drops certbot-dns-multi at its default 60 s sleep (which only adds
    the sleep) and any certbot-dns-multi run on more than ten names.
    """
    steps: list[Step] = []
    for scenario in scenarios:
        steps += [Step(scenario, RunKind.BASELINE)] * baseline_runs
        for tool in tools:
            if quick and tool.dns_multi and (tool is MULTI_DEFAULT or scenario.names > 10):
                continue
            steps.append(Step(scenario, RunKind.TOOL, tool))
        if len(scenario.zones) > 1 and MULTI_SHORT in tools:
            # It fails while presenting, before the sleep, so the sleep setting
            # does not matter; the short one keeps it short if it did not fail.
            steps.append(Step(scenario, RunKind.ONE_CERTIFICATE, MULTI_SHORT))
    return steps
