"""HTTP front end: the DPF REST API plus the emulator's control endpoints.

The API answers under ``/dpf/v1`` and, like the Go SDK allows, at the root
(``/zones`` and ``/dpf/v1/zones`` are the same). Control endpoints need no
token and are not logged:

- ``GET /_emulator/state``: zones with rows per state, currents, applies, jobs,
  request count.
- ``GET /_emulator/log``: ``{"entries": [...]}`` (see request_log).
- ``POST /_emulator/log/clear``.
- ``GET|POST|DELETE /_emulator/faults``: POST takes one rule object or a list
  (field names of FaultRule / JobFaultRule, see faults).
- ``POST /_emulator/job_seconds`` with ``{"seconds": 0.5}``.

Request handling order: fault rules, route (unknown route or method: 404),
token and scope, JSON body, then the state checks.

With ``lost_answers_every=N`` every Nth accepted write (any 202 answer) is
processed in full, its job included, and then its answer is lost: a gateway's
HTML 504, or the connection closed without a byte (``lost_answer_mode``).
The request log shows such a request with ``fault="lost"``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .config import TokenSpec
from .errors import ApiError, json_parse_error, new_request_id, status_error
from .faults import FaultRule, FaultSet, fault_from_dict
from .query import (
    DIFF_KEYWORDS,
    HISTORY_KEYWORDS,
    RECORD_KEYWORDS,
    ZONE_KEYWORDS,
    Search,
    diff_fields,
    history_fields,
    parse_search,
    record_fields,
    select,
    zone_fields,
)
from .request_log import RequestLog, RequestLogEntry
from .state import Job, State

API_PREFIX = "/dpf/v1"
CONTROL_PREFIX = "/_emulator"
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
HTML_504 = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
# A hanging request is held this long unless the emulator stops first; far
# beyond any client budget, short enough not to outlive a forgotten process.
HANG_SECONDS = 3600.0
# A lost answer waits for its job, but no longer than this beyond the job's
# RUNNING time, so that a stuck job cannot hold the request for ever.
LOST_ANSWER_JOB_GRACE = 2.0


@dataclass
class Call:
    caller: TokenSpec
    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes


Answer = tuple[int, dict[str, Any]]
Route = tuple[str, "re.Pattern[str]", Callable[[Call], Answer]]


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise json_parse_error() from None


class Api:
    """Maps routes to State calls and shapes DPF envelopes."""

    def __init__(self, state: State) -> None:
        self.state = state
        zone = r"/zones/(?P<zone>[^/]+)"
        record = zone + r"/records/(?P<record>[^/]+)"
        table: list[tuple[str, str, Callable[[Call], Answer]]] = [
            ("GET", r"/ping", self.ping),
            ("GET", r"/zones", self.list_zones),
            ("GET", r"/zones/count", self.count_zones),
            ("GET", zone, self.get_zone),
            ("GET", zone + r"/default_ttl", self.get_default_ttl),
            ("GET", zone + r"/zone_proxy", self.get_zone_proxy),
            ("GET", zone + r"/managed_dns_servers", self.list_managed_dns_servers),
            ("GET", zone + r"/zone_histories", self.list_histories),
            ("GET", zone + r"/zone_histories/count", self.count_histories),
            ("GET", zone + r"/records", self.list_records),
            ("GET", zone + r"/records/count", self.count_records),
            ("GET", zone + r"/records/currents", self.list_currents),
            ("GET", zone + r"/records/currents/count", self.count_currents),
            ("GET", zone + r"/records/diffs", self.list_diffs),
            ("GET", zone + r"/records/diffs/count", self.count_diffs),
            ("POST", zone + r"/records", self.post_record),
            ("GET", record, self.get_record),
            ("PATCH", record, self.patch_record),
            ("DELETE", record, self.delete_record),
            ("DELETE", record + r"/changes", self.cancel_record),
            ("PATCH", zone + r"/changes", self.apply),
            ("DELETE", zone + r"/changes", self.discard),
            ("GET", r"/jobs/(?P<job>[^/]+)", self.get_job),
        ]
        self.routes: list[Route] = [(m, re.compile(p + r"\Z"), h) for m, p, h in table]

    def route(self, method: str, path: str) -> tuple[Callable[[Call], Answer], dict[str, str]]:
        # The {record} pattern also matches the fixed words count, currents
        # and diffs; those routes sit earlier in the table, and the first
        # match wins.
        for route_method, pattern, handler in self.routes:
            match = pattern.match(path)
            if match and route_method == method:
                return handler, match.groupdict()
        raise status_error(404)

    def _accepted(self, job: Job) -> Answer:
        return 202, {"request_id": job.id, "jobs_url": f"{self.state.api_url}/jobs/{job.id}"}

    # -- reads ------------------------------------------------------------

    def ping(self, call: Call) -> Answer:
        return 200, {}

    def _search(self, call: Call, keywords: frozenset[str]) -> Search:
        """Search parameters of a list endpoint, with the page size capped if so set."""
        search = parse_search(call.query, keywords)
        cap = self.state.config.page_size_cap
        if cap > 0:
            search.limit = min(search.limit, cap)
        return search

    def _zone_out(self, zone: dict[str, Any]) -> dict[str, Any]:
        # Filters see the field (the 3.7.0 spec still lists the keyword);
        # only the answer drops it, as the 3.7.0 Zone schema has no such field.
        if self.state.config.omit_zone_proxy_field:
            zone = {k: v for k, v in zone.items() if k != "zone_proxy_enabled"}
        return zone

    def list_zones(self, call: Call) -> Answer:
        search = self._search(call, ZONE_KEYWORDS)
        rows = select(self.state.zones(call.caller), search, zone_fields)
        return 200, {"results": [self._zone_out(z) for z in rows]}

    def count_zones(self, call: Call) -> Answer:
        search = parse_search(call.query, ZONE_KEYWORDS)
        rows = select(self.state.zones(call.caller), search, zone_fields, paged=False)
        return 200, {"result": {"count": len(rows)}}

    def get_zone(self, call: Call) -> Answer:
        return 200, {"result": self._zone_out(self.state.zone(call.caller, call.params["zone"]))}

    def get_zone_proxy(self, call: Call) -> Answer:
        return 200, {"result": self.state.zone_proxy(call.caller, call.params["zone"])}

    def list_managed_dns_servers(self, call: Call) -> Answer:
        return 200, {"results": self.state.managed_dns_servers(call.caller, call.params["zone"])}

    def get_default_ttl(self, call: Call) -> Answer:
        return 200, {"result": self.state.default_ttl(call.caller, call.params["zone"])}

    def list_histories(self, call: Call) -> Answer:
        search = self._search(call, HISTORY_KEYWORDS)
        rows = self.state.histories(call.caller, call.params["zone"])
        return 200, {"results": select(rows, search, history_fields)}

    def count_histories(self, call: Call) -> Answer:
        search = parse_search(call.query, HISTORY_KEYWORDS)
        rows = self.state.histories(call.caller, call.params["zone"])
        return 200, {"result": {"count": len(select(rows, search, history_fields, False))}}

    def _rows(self, call: Call, which: str) -> list[dict[str, Any]]:
        zone_id = call.params["zone"]
        if which == "records":
            return self.state.records(call.caller, zone_id)
        if which == "currents":
            return self.state.currents(call.caller, zone_id)
        return self.state.diffs(call.caller, zone_id)

    def _list(self, call: Call, which: str, paged: bool) -> Answer:
        keywords = DIFF_KEYWORDS if which == "diffs" else RECORD_KEYWORDS
        fields = diff_fields if which == "diffs" else record_fields
        # Zone errors come before parameter errors, as the zone is part of
        # the path.
        rows = self._rows(call, which)
        search = self._search(call, keywords) if paged else parse_search(call.query, keywords)
        hits = select(rows, search, fields, paged)
        if paged:
            return 200, {"results": hits}
        return 200, {"result": {"count": len(hits)}}

    def list_records(self, call: Call) -> Answer:
        return self._list(call, "records", True)

    def count_records(self, call: Call) -> Answer:
        return self._list(call, "records", False)

    def list_currents(self, call: Call) -> Answer:
        return self._list(call, "currents", True)

    def count_currents(self, call: Call) -> Answer:
        return self._list(call, "currents", False)

    def list_diffs(self, call: Call) -> Answer:
        return self._list(call, "diffs", True)

    def count_diffs(self, call: Call) -> Answer:
        return self._list(call, "diffs", False)

    def get_record(self, call: Call) -> Answer:
        row = self.state.record(call.caller, call.params["zone"], call.params["record"])
        return 200, {"result": row}

    def get_job(self, call: Call) -> Answer:
        # Jobs are flat: no "result" wrapper, the job's id is the request_id.
        return 200, self.state.job(call.caller, call.params["job"])

    # -- writes -------------------------------------------------------------

    def post_record(self, call: Call) -> Answer:
        body = _json_body(call.body)
        return self._accepted(self.state.post_record(call.caller, call.params["zone"], body))

    def patch_record(self, call: Call) -> Answer:
        body = _json_body(call.body)
        return self._accepted(
            self.state.patch_record(call.caller, call.params["zone"], call.params["record"], body)
        )

    def delete_record(self, call: Call) -> Answer:
        return self._accepted(
            self.state.delete_record(call.caller, call.params["zone"], call.params["record"])
        )

    def cancel_record(self, call: Call) -> Answer:
        return self._accepted(
            self.state.cancel_record(call.caller, call.params["zone"], call.params["record"])
        )

    def apply(self, call: Call) -> Answer:
        body = _json_body(call.body)
        return self._accepted(self.state.apply(call.caller, call.params["zone"], body))

    def discard(self, call: Call) -> Answer:
        return self._accepted(self.state.discard(call.caller, call.params["zone"]))


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        state: State,
        faults: FaultSet,
        log: RequestLog,
        latency: float = 0.0,
        verbose: bool = False,
    ) -> None:
        self.state = state
        self.api = Api(state)
        self.faults = faults
        self.log = log
        self.latency = latency
        self.verbose = verbose
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        # Set when the emulator stops; releases requests held by "hang".
        self.stopping = threading.Event()
        self._writes = 0
        self._writes_lock = threading.Lock()
        super().__init__(address, ApiHandler)

    def answer_lost(self) -> bool:
        """Count one accepted write; True when its answer is to be lost."""
        every = self.state.config.lost_answers_every
        if every <= 0:
            return False
        with self._writes_lock:
            self._writes += 1
            return self._writes % every == 0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dpf-emulator"
    sys_version = ""
    # Headers and body go out in two writes; with Nagle on, the body waits for
    # the client's delayed ACK and every keep-alive request costs 40 ms.
    disable_nagle_algorithm = True
    server: ApiServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        # The access log is written by _handle, with the operator and status.
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=UTF-8", headers)

    def _credentials(self) -> tuple[str, str | None]:
        """(scheme as sent, Bearer token); any other scheme carries no token."""
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return scheme, token.strip()
        return scheme, None

    def _handle(self, method: str) -> None:
        started = time.time()
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        raw = self._read_body()
        if split.path == CONTROL_PREFIX or split.path.startswith(CONTROL_PREFIX + "/"):
            self._control(method, split.path[len(CONTROL_PREFIX) :], raw)
            return
        path = split.path
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX) :]
        try:
            body: Any = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = None
        scheme, token = self._credentials()

        def record(status: int | None, operator: str | None, fault: str | None = None) -> None:
            entry = RequestLogEntry(
                method,
                path,
                query,
                status,
                operator,
                body,
                started,
                fault,
                time.time() - started,
                auth_scheme=scheme,
            )
            self.server.log.append(entry)
            if self.server.verbose:
                shown = f" [fault {fault}]" if fault else ""
                print(
                    f"{method} {path} {split.query} -> {status} ({operator}){shown}",
                    file=sys.stderr,
                    flush=True,
                )

        rule = self.server.faults.for_request(method, path)
        if rule is not None:
            if rule.action == "latency":
                time.sleep(rule.delay)
            else:
                self._send_fault(
                    rule, functools.partial(record, operator=None, fault=str(rule.action))
                )
                return
        operator: str | None = None
        request_id = new_request_id()
        try:
            handler, params = self.server.api.route(method, path)
            # DPF takes only Bearer tokens; Basic credentials (a .netrc, say)
            # are a bad token like any other.
            caller = self.server.state.authenticate(token, write=method != "GET")
            operator = caller.operator
            status, payload = handler(Call(caller, params, query, raw))
            payload.setdefault("request_id", request_id)
        except ApiError as error:
            status, payload = error.status, error.body(request_id)
        except Exception:
            # An emulator bug must still produce an answer, or the client under
            # test would see a dropped connection and blame itself.
            traceback.print_exc()
            status, payload = 500, status_error(500).body(request_id)
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        if status == 202 and self.server.answer_lost():
            self._lose_answer(
                str(payload["request_id"]), functools.partial(record, operator=operator)
            )
            return
        # Logged before answering so that a client which got its answer always
        # finds the request in the log.
        record(status, operator, "latency" if rule is not None else None)
        self._send_json(status, payload)

    def _lose_answer(self, job_id: str, record: Callable[..., None]) -> None:
        # The write took effect and only its answer goes missing, as when a
        # gateway gives up on a slow backend: wait for the job so that a
        # client looking after the loss finds the write done.
        state = self.server.state
        deadline = time.monotonic() + state.job_seconds + LOST_ANSWER_JOB_GRACE
        while state.job_view(job_id).status == "RUNNING" and time.monotonic() < deadline:
            if self.server.stopping.wait(0.01):
                break
        if state.config.lost_answer_mode == "close":
            record(None, fault="lost")
            self.close_connection = True
            return
        record(504, fault="lost")
        self._send(504, HTML_504, "text/html")

    def _send_fault(self, rule: FaultRule, record: Callable[[int | None], None]) -> None:
        if rule.action == "drop":
            record(None)
            self.close_connection = True
            return
        if rule.action == "hang":
            # Logged on arrival: the request has no answer to wait for.
            record(None)
            self.server.stopping.wait(rule.delay if rule.delay > 0 else HANG_SECONDS)
            self.close_connection = True
            return
        if rule.action == "html":
            record(502)
            self._send(502, HTML_502, "text/html")
            return
        assert isinstance(rule.action, int)
        error = status_error(rule.action, rule.error_type)
        headers = {}
        if rule.retry_after is not None:
            seconds = rule.retry_after
            headers["Retry-After"] = str(int(seconds)) if seconds == int(seconds) else str(seconds)
        record(rule.action)
        self._send_json(rule.action, error.body(new_request_id()), headers)

    # -- control endpoints ---------------------------------------------------

    def _control(self, method: str, path: str, raw: bytes) -> None:
        server = self.server
        try:
            data: Any = json.loads(raw.decode("utf-8")) if raw else None
            if (method, path) == ("GET", "/state"):
                summary = server.state.summary()
                summary["requests"] = len(server.log)
                summary["faults"] = server.faults.describe()
                self._send_json(200, summary)
            elif (method, path) == ("GET", "/log"):
                self._send_json(200, {"entries": [e.as_dict() for e in server.log.entries()]})
            elif (method, path) == ("POST", "/log/clear"):
                server.log.clear()
                self._send_json(200, {"cleared": True})
            elif (method, path) == ("GET", "/faults"):
                self._send_json(200, {"faults": server.faults.describe()})
            elif (method, path) == ("POST", "/faults"):
                for item in data if isinstance(data, list) else [data]:
                    if not isinstance(item, dict):
                        raise ValueError("a fault rule is a JSON object")
                    server.faults.add(fault_from_dict(item))
                self._send_json(200, {"faults": server.faults.describe()})
            elif (method, path) == ("DELETE", "/faults"):
                server.faults.clear()
                self._send_json(200, {"faults": []})
            elif (method, path) == ("POST", "/job_seconds"):
                seconds = data.get("seconds") if isinstance(data, dict) else data
                if (
                    isinstance(seconds, bool)
                    or not isinstance(seconds, (int, float))
                    or seconds < 0
                ):
                    raise ValueError("job_seconds needs a number >= 0")
                server.state.set_job_seconds(float(seconds))
                self._send_json(200, {"job_seconds": float(seconds)})
            else:
                self._send_json(404, {"error": f"no control endpoint {method} {path}"})
        except (ValueError, TypeError) as error:
            self._send_json(400, {"error": str(error)})
