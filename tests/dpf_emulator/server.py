"""The :class:`Emulator` facade: one object that runs the API and DNS servers.

Typical test use::

    config = EmulatorConfig(
        zones=[ZoneSpec("example.com.", "dpm00000001")],
        tokens=[TokenSpec("t1")],
        nameservers=[NameserverSpec("ns1.dpf-emulator.test.", port=0, lag=0.2)],
        job_seconds=0.05,
    )
    with Emulator(config) as emu:
        session.headers["Authorization"] = "Bearer t1"
        session.get(emu.api_url + "/zones")
        ...
        emu.wait_jobs()                                 # every job has finished
        assert emu.served(0, "_acme-challenge.example.com.", "TXT") == ['"v"']
        assert emu.applies("example.com.") == 1

``emu.state`` is the underlying :class:`~.state.State` for anything the
helpers do not cover. Helpers that wait (``wait_job``, ``wait_jobs``,
``stage_as``, ``apply_as``) sleep in real time, so they are meant for the
default clock.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .config import EmulatorConfig, fqdn
from .dns_server import DnsListener, make_responder
from .dnsdata import Answerer
from .faults import AnyFault, FaultSet
from .http_api import ApiServer
from .request_log import RequestLog, RequestLogEntry
from .state import JobView, State


def _host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class Emulator:
    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        verbose: bool = False,
    ) -> None:
        self.config = config
        self.faults = FaultSet()
        self.state = State(config, self.faults, clock=clock)
        self.log = RequestLog()
        self.verbose = verbose
        hosts: dict[str, list[str]] = {}
        for ns in config.nameservers:
            addresses = hosts.setdefault(fqdn(ns.hostname), [])
            if ns.address not in addresses:
                addresses.append(ns.address)
        self.answerer = Answerer(hosts)
        self._http: ApiServer | None = None
        self._http_thread: threading.Thread | None = None
        self._listeners: list[DnsListener] = []
        self._resolver: DnsListener | None = None

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        if self._http is not None:
            raise RuntimeError("emulator already started")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        config = self.config
        self._http = ApiServer(
            (config.api_host, config.api_port),
            self.state,
            self.faults,
            self.log,
            config.api_latency,
            self.verbose,
        )
        port = self._http.server_address[1]
        self.state.api_url = f"http://{_host_port(config.api_host, port)}/dpf/v1"
        self._http_thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="dpf-api",
            daemon=True,
        )
        self._http_thread.start()
        for ns in config.nameservers:
            snapshots = functools.partial(self.state.snapshots, ns.lag)
            listener = DnsListener(ns.address, ns.port, make_responder(self.answerer, snapshots))
            listener.start()
            self._listeners.append(listener)
        if config.resolver is not None:
            snapshots = functools.partial(self.state.snapshots, 0.0)
            self._resolver = DnsListener(
                config.resolver[0],
                config.resolver[1],
                make_responder(self.answerer, snapshots, recursive=True),
            )
            self._resolver.start()

    def stop(self) -> None:
        # Each server needs up to one poll interval to notice shutdown, so they
        # stop side by side rather than one after the other.
        stoppers = [threading.Thread(target=listener.stop) for listener in self._listeners]
        if self._resolver is not None:
            stoppers.append(threading.Thread(target=self._resolver.stop))
        if self._http is not None:
            stoppers.append(threading.Thread(target=self._stop_http, args=(self._http,)))
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self._http = None
        self._http_thread = None
        self._listeners.clear()
        self._resolver = None

    def _stop_http(self, http: ApiServer) -> None:
        http.stopping.set()
        http.shutdown()
        http.close_connections()
        http.server_close()
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ----------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """Base URL including ``/dpf/v1``; valid after start()."""
        if self._http is None:
            raise RuntimeError("emulator not started")
        return self.state.api_url

    @property
    def nameserver_addresses(self) -> list[tuple[str, int]]:
        return [listener.bound for listener in self._listeners]

    @property
    def resolver_address(self) -> tuple[str, int] | None:
        return None if self._resolver is None else self._resolver.bound

    def ready_line(self) -> str:
        """The line the CLI prints once everything listens."""
        servers = ",".join(_host_port(a, p) for a, p in self.nameserver_addresses)
        line = f"READY api={self.api_url} ns={servers}"
        if self.resolver_address is not None:
            line += f" resolver={_host_port(*self.resolver_address)}"
        return line

    # -- inspection -------------------------------------------------------------------

    def zone_id(self, zone_name: str) -> str:
        return self.state.zone_id(zone_name)

    def records(self, zone_name: str) -> list[dict[str, Any]]:
        """Rows as GET /records returns them, with their state."""
        return self.state.records_of(zone_name)

    def currents(self, zone_name: str) -> list[dict[str, Any]]:
        return self.state.currents_of(zone_name)

    def diffs(self, zone_name: str) -> list[dict[str, Any]]:
        return self.state.diffs_of(zone_name)

    def served(self, nameserver_index: int, name: str, rrtype: str) -> list[str]:
        """What that nameserver answers for name/type now, sorted; TXT keeps quotes."""
        lag = self.config.nameservers[nameserver_index].lag
        return self.answerer.served(self.state.snapshots(lag), fqdn(name), rrtype.upper())

    @property
    def request_log(self) -> list[RequestLogEntry]:
        return self.log.entries()

    def clear_log(self) -> None:
        self.log.clear()

    def applies(self, zone_name: str | None = None) -> int:
        """Apply jobs that completed successfully (empty ones included)."""
        return self.state.applies(zone_name)

    @property
    def jobs(self) -> list[JobView]:
        return self.state.jobs()

    # -- knobs ------------------------------------------------------------------------

    def add_fault(self, rule: AnyFault) -> None:
        self.faults.add(rule)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_job_seconds(self, seconds: float) -> None:
        self.state.set_job_seconds(seconds)

    # -- conveniences -------------------------------------------------------------

    def wait_job(self, job_id: str, timeout: float = 10.0) -> JobView:
        """Block until the job leaves RUNNING; TimeoutError for stuck jobs."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.state.job_view(job_id)
            if view.status != "RUNNING":
                return view
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still RUNNING after {timeout} s")
            time.sleep(0.01)

    def wait_jobs(self, timeout: float = 10.0) -> None:
        """Block until every job that can finish has finished."""
        deadline = time.monotonic() + timeout
        while not self.state.idle():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"jobs still RUNNING after {timeout} s")
            time.sleep(0.01)

    def stage_as(
        self,
        token: str,
        zone_name: str,
        name: str,
        rrtype: str,
        values: list[str],
        ttl: int | None = 300,
        description: str = "",
        wait: bool = True,
    ) -> str:
        """POST a record as ``token`` (same checks as the API) and return its id.

        Raises :class:`~.errors.ApiError` when the API would answer 400 and
        RuntimeError when the job fails. With ``wait=False`` the id is returned
        at once, though the row only shows when the job completes.
        """
        caller = self.state.authenticate(token, write=True)
        body = {
            "name": name,
            "rrtype": rrtype,
            "ttl": ttl,
            "description": description,
            "rdata": [{"value": v} for v in values],
        }
        job = self.state.post_record(caller, self.zone_id(zone_name), body)
        assert job.record_id is not None
        if wait:
            view = self.wait_job(job.id)
            if view.status != "SUCCESSFUL":
                raise RuntimeError(
                    f"record_post job {job.id} {view.status}: "
                    f"{view.error_type} {view.error_message}"
                )
        return job.record_id

    def apply_as(
        self, token: str, zone_name: str, description: str = "", wait: bool = True
    ) -> JobView:
        """PATCH /changes as ``token``; returns the job (finished when ``wait``)."""
        caller = self.state.authenticate(token, write=True)
        job = self.state.apply(caller, self.zone_id(zone_name), {"description": description})
        return self.wait_job(job.id) if wait else self.state.job_view(job.id)
