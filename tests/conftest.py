"""Shared pytest fixtures: throwaway PKI, Pebble, certbot, challtestsrv, DPF emulator.

Tests marked ``e2e`` run only as root inside ``scripts/in-netns`` (which sets
IN_NETNS=1): they bind fixed loopback ports and port 53, and a private network
namespace is what keeps parallel runs by different people from colliding.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.harness import (
    PKI,
    CertbotRunner,
    ChallTestSrv,
    Diagnostics,
    Pebble,
    in_test_netns,
    make_pki,
)
from tests.harness.dpf import PEBBLE_DNS, RESOLVER, SERVICE_CODE, TOKEN, ZONE, nameservers

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator


NETNS_REASON = (
    "e2e test: needs root inside the test network namespace "
    "(run `scripts/in-netns .venvs/main/bin/pytest ...`, or `scripts/test`)"
)

_DIAGNOSTICS_KEY = pytest.StashKey[Diagnostics]()

PebbleFactory = Callable[..., Pebble]
CertbotFactory = Callable[..., CertbotRunner]
EmulatorFactory = Callable[..., "Emulator"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "systemd: e2e test in a Debian container with systemd as PID 1 (select: -m systemd)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if in_test_netns():
        return
    skip = pytest.mark.skip(reason=NETNS_REASON)
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)


def _require_netns() -> None:
    # Fixtures that bind fixed ports refuse to run on the host's own network,
    # even for a test that forgot its e2e marker.
    if not in_test_netns():
        pytest.skip(NETNS_REASON)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        diagnostics = item.stash.get(_DIAGNOSTICS_KEY, None)
        if diagnostics is not None:
            for title, text in diagnostics.sections():
                report.sections.append((title, text))
    return report


@pytest.fixture
def diagnostics(request: pytest.FixtureRequest) -> Diagnostics:
    """Register log sources here; they are printed if the test fails."""
    collected = Diagnostics()
    request.node.stash[_DIAGNOSTICS_KEY] = collected
    return collected


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    """Throwaway CA plus a server certificate for localhost and 127.0.0.1."""
    return make_pki(tmp_path / "pki")


@pytest.fixture
def pebble_factory(tmp_path: Path, pki: PKI, diagnostics: Diagnostics) -> Iterator[PebbleFactory]:
    """``make(dns_server=PEBBLE_DNS, **Pebble_kwargs) -> Pebble`` (started).

    All instances share the ``pki`` fixture, so a Pebble restarted on the same
    ports keeps the listener CA certbot trusts. Stopped at teardown; stop one
    yourself before starting its successor on the same ports.
    """
    _require_netns()
    started: list[Pebble] = []

    def make(dns_server: str = PEBBLE_DNS, **kwargs: Any) -> Pebble:
        index = len(started)
        kwargs.setdefault("workdir", tmp_path / f"pebble-{index}")
        kwargs.setdefault("pki", pki)
        instance = Pebble(dns_server, **kwargs)
        started.append(instance)
        diagnostics.add(f"pebble #{index} log", instance.log_text)
        return instance.start()

    yield make
    for instance in reversed(started):
        instance.close()


@pytest.fixture
def pebble(request: pytest.FixtureRequest, pebble_factory: PebbleFactory) -> Pebble:
    """A started Pebble.

    Parametrize indirectly to choose its DNS server or other settings::

        @pytest.mark.parametrize("pebble", ["127.0.0.1:8053"], indirect=True)
        @pytest.mark.parametrize("pebble", [{"dns_server": "127.0.0.53:53",
                                             "validity_seconds": 600}], indirect=True)

    Without a parameter its VA asks PEBBLE_DNS, the emulator's slower nameserver.
    """
    param = getattr(request, "param", None)
    if param is None:
        return pebble_factory()
    if isinstance(param, str):
        return pebble_factory(param)
    if isinstance(param, dict):
        return pebble_factory(**param)
    raise TypeError(f"pebble parameter must be HOST:PORT or a dict of Pebble kwargs: {param!r}")


@pytest.fixture
def certbot_factory(tmp_path: Path, diagnostics: Diagnostics) -> CertbotFactory:
    """``make(pebble, executable=None, name="certbot", **CertbotRunner_kwargs)``.

    Each runner gets its own config/work/logs under ``tmp_path / name``.
    """
    counter = iter(range(1_000))

    def make(
        pebble: Pebble,
        executable: str | Path | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> CertbotRunner:
        label = name or f"certbot-{next(counter)}"
        runner = CertbotRunner(tmp_path / label, pebble, executable=executable, **kwargs)
        diagnostics.add(f"{label} logs", runner.logs_text)
        return runner

    return make


@pytest.fixture
def certbot_runner(certbot_factory: CertbotFactory, pebble: Pebble) -> CertbotRunner:
    """Certbot (``$CERTBOT`` or ``.venvs/main/bin/certbot``) against the ``pebble`` fixture."""
    return certbot_factory(pebble, name="certbot")


@pytest.fixture
def challtestsrv(tmp_path: Path, diagnostics: Diagnostics) -> Iterator[ChallTestSrv]:
    """``pebble-challtestsrv`` with DNS on 127.0.0.1:8053 and management on :8055."""
    _require_netns()
    server = ChallTestSrv(workdir=tmp_path / "challtestsrv")
    diagnostics.add("pebble-challtestsrv log", server.log_text)
    with server:
        yield server


def emulator_defaults() -> dict[str, Any]:
    """Keyword arguments for ``EmulatorConfig`` used unless a test overrides them."""
    from tests.dpf_emulator import TokenSpec, ZoneSpec

    return {
        "zones": [ZoneSpec(name=ZONE, service_code=SERVICE_CODE)],
        "tokens": [TokenSpec(token=TOKEN)],
        "nameservers": nameservers(0.2, 0.5),
        "resolver": RESOLVER,
        "job_seconds": 0.2,
    }


@pytest.fixture
def emulator_factory(diagnostics: Diagnostics) -> Iterator[EmulatorFactory]:
    """``make(**EmulatorConfig_overrides) -> Emulator`` (running until teardown).

    Defaults: zone example.com. (dpm00000001), token "test-token", nameservers
    127.0.0.53 (lag 0.2 s) and 127.0.0.54 (lag 0.5 s), resolver 127.0.0.1:53,
    job_seconds 0.2. Any ``EmulatorConfig`` field can be overridden by keyword.
    """
    _require_netns()
    from tests.dpf_emulator import Emulator, EmulatorConfig

    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> Emulator:
            settings = emulator_defaults()
            settings.update(overrides)
            emulator = stack.enter_context(Emulator(EmulatorConfig(**settings)))
            diagnostics.add("DPF emulator request log", lambda: _format_request_log(emulator))
            return emulator

        yield make


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """An emulator with the defaults of ``emulator_factory``."""
    return emulator_factory()


def _format_request_log(emulator: Emulator) -> str:
    return "\n".join(str(entry) for entry in emulator.request_log)


def pytest_report_header(config: pytest.Config) -> str:
    where = "inside scripts/in-netns" if in_test_netns() else "outside the test netns"
    return f"e2e: {where} (uid {os.geteuid()}); e2e tests {'run' if in_test_netns() else 'skip'}"
