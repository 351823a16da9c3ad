"""Local emulator of IIJ's DNS Platform Service (DPF) API and its nameservers.

It follows DPF's public OpenAPI description and IIJ's SDKs: async jobs,
staged record edits (states 0/1/2/3/5) that reach DNS only through an apply,
the DPF error bodies, and nameservers that pick up each apply after a
configurable lag.

In tests::

    from tests.dpf_emulator import Emulator, EmulatorConfig, NameserverSpec, TokenSpec, ZoneSpec

    config = EmulatorConfig(
        zones=[ZoneSpec("example.com.", "dpm00000001")],
        tokens=[TokenSpec("t1")],
        nameservers=[NameserverSpec("ns1.dpf-emulator.test.", port=0)],
        job_seconds=0.05,
    )
    with Emulator(config) as emu:
        ...  # HTTP to emu.api_url with "Authorization: Bearer t1"; DNS to emu.nameserver_addresses

Switches for answers DPF's documentation leaves open are EmulatorConfig
fields (all off by default); ``STRICT_ANSWERS`` and ``SWITCH_CASES`` bundle
them for parametrized tests. README.md in this directory explains each one.

As a process: ``python -m tests.dpf_emulator --help`` (prints a READY line).
Modules: config (settings), state (API semantics), http_api (REST and control
endpoints), dnsdata and dns_server (DNS), faults, request_log, server (facade).
"""

from .config import (
    STRICT_ANSWERS,
    SWITCH_CASES,
    EmulatorConfig,
    NameserverSpec,
    RecordSpec,
    TokenSpec,
    ZoneSpec,
    config_from_dict,
)
from .errors import ApiError
from .faults import FaultRule, JobFaultRule
from .request_log import RequestLogEntry
from .server import Emulator
from .state import JobView

__all__ = [
    "STRICT_ANSWERS",
    "SWITCH_CASES",
    "ApiError",
    "Emulator",
    "EmulatorConfig",
    "FaultRule",
    "JobFaultRule",
    "JobView",
    "NameserverSpec",
    "RecordSpec",
    "RequestLogEntry",
    "TokenSpec",
    "ZoneSpec",
    "config_from_dict",
]
