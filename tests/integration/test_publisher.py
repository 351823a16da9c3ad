"""The plugin's record logic against the emulator in this process (no certbot, no CA).

These cover what an end-to-end run cannot reach in reasonable time, such as
a job that never finishes, with the real HTTP client and the real emulator on
ephemeral ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

from certbot_dns_iijdpf._internal.client import DpfClient
from certbot_dns_iijdpf._internal.errors import DpfError
from certbot_dns_iijdpf._internal.jobs import JobWaiter
from certbot_dns_iijdpf._internal.journal import Journal
from certbot_dns_iijdpf._internal.propagation import PropagationWaiter
from certbot_dns_iijdpf._internal.publisher import Challenge, ChallengePublisher
from certbot_dns_iijdpf._internal.zones import ZoneDirectory
from tests.dpf_emulator import (
    Emulator,
    EmulatorConfig,
    JobFaultRule,
    NameserverSpec,
    TokenSpec,
    ZoneSpec,
)

ZONE = "example.com."
NAME = "_acme-challenge.example.com."
V1 = "a" * 43
V2 = "b" * 43


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    config = EmulatorConfig(
        zones=[ZoneSpec(ZONE, "dpm00000001")],
        tokens=[TokenSpec("tok")],
        nameservers=[
            NameserverSpec("ns1.dpf-emulator.test.", port=0, lag=0.1),
            NameserverSpec("ns2.dpf-emulator.test.", port=0, lag=0.3),
        ],
        job_seconds=0.1,
    )
    with Emulator(config) as emu:
        yield emu


def publisher(emulator: Emulator, tmp_path: Path, job_timeout: float = 10) -> ChallengePublisher:
    addresses = dict(
        zip(
            ["ns1.dpf-emulator.test.", "ns2.dpf-emulator.test."],
            emulator.nameserver_addresses,
        )
    )

    def resolve(host: str, lifetime: float) -> list[str]:
        return [f"{addresses[host][0]}:{addresses[host][1]}"] if host in addresses else []

    def query(name: str, address: str, timeout: float) -> set[str]:
        host, port = address.rsplit(":", 1)
        request = dns.message.make_query(name, dns.rdatatype.TXT)
        answer = dns.query.udp(request, host, port=int(port), timeout=timeout)
        return {
            b"".join(r.strings).decode()
            for rrset in answer.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for r in rrset
        }

    client = DpfClient(emulator.api_url, "tok")
    return ChallengePublisher(
        client,
        ttl=60,
        zones=ZoneDirectory(client),
        jobs=JobWaiter(client, timeout=job_timeout),
        propagation=PropagationWaiter(10, query=query, resolve=resolve),
        journal=Journal(tmp_path / "journal.json"),
        follow_cname=False,
    )


def txt_rows(emulator: Emulator) -> list[tuple[int, list[str]]]:
    return [
        (r["state"], [d["value"] for d in r["rdata"]])
        for r in emulator.records(ZONE)
        if r["name"] == NAME
    ]


def test_publish_serves_both_values_on_every_nameserver_then_withdraw_removes_them(
    emulator: Emulator, tmp_path: Path
) -> None:
    pub = publisher(emulator, tmp_path)
    challenges = [Challenge(NAME, V1), Challenge(NAME, V2)]
    pub.publish(challenges)
    assert [emulator.served(i, NAME, "TXT") for i in (0, 1)] == [[f'"{V1}"', f'"{V2}"']] * 2
    assert txt_rows(emulator) == [(0, [f'"{V1}"', f'"{V2}"'])]
    pub.withdraw(challenges)
    assert txt_rows(emulator) == []
    assert emulator.applies(ZONE) == 2
    assert not (tmp_path / "journal.json").read_text().count(V1)


def test_a_job_that_never_ends_is_given_up_on_and_the_zone_read_again(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.add_fault(JobFaultRule("stuck", kind="apply", times=1))
    pub = publisher(emulator, tmp_path, job_timeout=1.5)
    challenges = [Challenge(NAME, V1)]
    pub.publish(challenges)
    assert txt_rows(emulator) == [(0, [f'"{V1}"'])]
    pub.withdraw(challenges)
    assert txt_rows(emulator) == []
    # The stuck job might still land: the journal keeps the value for the next run.
    assert V1 in (tmp_path / "journal.json").read_text()


def test_a_crashed_run_is_finished_by_the_next_one(emulator: Emulator, tmp_path: Path) -> None:
    first = publisher(emulator, tmp_path)
    first.publish([Challenge(NAME, V1)])
    # The first run dies here. The next run, for another value, cleans up both.
    second = publisher(emulator, tmp_path)
    second.publish([Challenge(NAME, V2)])
    assert txt_rows(emulator) == [(0, [f'"{V2}"'])]
    second.withdraw([Challenge(NAME, V2)])
    assert txt_rows(emulator) == []
    journal = (tmp_path / "journal.json").read_text()
    assert V1 not in journal and V2 not in journal, journal


def test_a_write_job_that_fails_once_is_retried(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(JobFaultRule("fail", kind="record_post", times=1))
    pub = publisher(emulator, tmp_path)
    pub.publish([Challenge(NAME, V1)])
    assert txt_rows(emulator) == [(0, [f'"{V1}"'])]


def test_a_write_job_that_keeps_failing_reports_dpfs_words(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.add_fault(
        JobFaultRule(
            "fail", kind="record_post", error_type="SystemError", error_message="disk full"
        )
    )
    pub = publisher(emulator, tmp_path)
    with pytest.raises(DpfError, match="FAILED: SystemError: disk full"):
        pub.publish([Challenge(NAME, V1), Challenge("_acme-challenge.www.example.com.", V2)])
    assert emulator.applies(ZONE) == 0
    pub.withdraw([Challenge(NAME, V1)])
    assert txt_rows(emulator) == []
