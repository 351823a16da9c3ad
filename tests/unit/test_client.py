"""The transport against a real, scripted HTTP server on 127.0.0.1.

Every test talks HTTP over a socket: retries, timeouts, redirects and auth are
decided inside urllib3 and requests, which a mocked session would bypass.
Waits between attempts run on a fake clock (``FakeTime``), so that a test can
honour a one-hour ``Retry-After`` in no time; socket timeouts run on real time
and are kept to fractions of a second.
"""

from __future__ import annotations

import email.utils
import errno
import json
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Union
from urllib.parse import parse_qs, urlsplit

import pytest

from certbot_dns_iijdpf._internal.client import DpfClient, parse_retry_after
from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.endpoint import validate_endpoint
from certbot_dns_iijdpf._internal.errors import (
    DpfApiError,
    DpfError,
    DpfProtocolError,
    DpfTransportError,
    RunTimeoutError,
    WriteOutcomeUnknown,
)

TOKEN = "secret-token-123"
JSON = {"Content-Type": "application/json"}
WRITES = ["POST", "PATCH", "DELETE"]

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


# What the server does with one request: an answer, a function of the request
# that returns one, or "hang" (never answer), "close" (close without a word)
# or "reset" (abort the connection with a TCP RST).  An answer with an
# "X-Then: close" or "X-Then: hang" header closes or stalls after its body,
# which with a larger Content-Length makes an answer that breaks off.
Action = Union[Answer, str, Callable[[Seen], Answer]]


@dataclass
class Api:
    """A scripted stand-in for DPF: answers requests with ``script`` in order."""

    url: str = ""
    script: list[Action] = field(default_factory=list)
    default: Action = (200, JSON, b'{"request_id": "r0"}')
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    listening: bool = False

    def then(self, *actions: Action) -> Api:
        self.script.extend(actions)
        return self

    def listen(self) -> None:
        """Start accepting connections (for a server created without listening)."""
        assert self.server is not None
        self.listening = True
        self.server.server_activate()
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()


def _serve(api: Api, *, listen: bool = True) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, dict(self.headers.items()), body)
            api.seen.append(seen)
            action = api.script.pop(0) if api.script else api.default
            if callable(action):
                action = action(seen)
            if action == "hang":
                api.release.wait(10)
                self.close_connection = True
                return
            if action == "close":
                self.close_connection = True
                return
            if action == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                # Closing the descriptor itself sends the RST at once; the
                # socket object's close would wait for rfile and wfile.
                os.close(self.connection.detach())
                self.close_connection = True
                return
            assert isinstance(action, tuple)
            status, headers, payload = action
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if headers.get("X-Then") == "hang":
                api.release.wait(10)
            if "X-Then" in headers:
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    httpd.server_bind()
    api.server = httpd
    api.url = f"http://127.0.0.1:{httpd.server_address[1]}/dpf/v1"
    if listen:
        api.listen()
    return httpd


@pytest.fixture
def servers() -> Iterator[Callable[..., Api]]:
    """``make(listen=True) -> Api``; every server made is shut down at teardown."""
    made: list[tuple[Api, ThreadingHTTPServer]] = []

    def make(*, listen: bool = True) -> Api:
        api = Api()
        made.append((api, _serve(api, listen=listen)))
        return api

    yield make
    for api, httpd in made:
        api.release.set()
        # shutdown() would wait forever for a server that never served.
        if api.listening:
            httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def api(servers: Callable[..., Api]) -> Api:
    return servers()


class FakeTime:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def client(
    api: Api, fake: FakeTime | None = None, budget: float | None = None, **kwargs: Any
) -> DpfClient:
    """A client for ``api`` whose waits run on ``fake`` (a new one if not given)."""
    fake = fake or FakeTime()
    deadline = Deadline(budget, clock=fake) if budget is not None else None
    kwargs.setdefault("rate", 0)
    return DpfClient(api.url, TOKEN, deadline=deadline, clock=fake, sleep=fake.sleep, **kwargs)


def js(body: object) -> bytes:
    return json.dumps(body).encode()


def error(status: int, error_type: str, message: str, **extra: Any) -> Answer:
    body = {"request_id": "e1", "error_type": error_type, "error_message": message, **extra}
    return status, JSON, js(body)


ACCEPTED: Answer = (202, JSON, js({"request_id": "j1", "jobs_url": "http://x/jobs/j1"}))
OK: Answer = (200, JSON, js({"request_id": "r1", "result": {"id": "m1"}}))
BUSY = error(503, "SystemBusy", "The system is busy, Please try again later.")
TOO_MANY = error(429, "TooManyRequests", "Too many requests.")


def with_header(answer: Answer, **headers: str) -> Answer:
    status, base, body = answer
    return status, {**base, **{k.replace("_", "-"): v for k, v in headers.items()}}, body


def assert_no_token(exc: BaseException, *more: object) -> None:
    for text in (str(exc), repr(exc), *map(str, more)):
        assert TOKEN not in text


def write(c: DpfClient, method: str) -> str:
    body = None if method == "DELETE" else {"name": "x.example.com.", "rrtype": "TXT"}
    return c.write(method, "/zones/m1/records/r1", body)


# -- requests, envelopes and auth ---------------------------------------------


def test_bearer_token_headers_and_envelope(api: Api) -> None:
    api.then(OK)
    c = client(api)
    assert c.get("/zones/m1") == {"request_id": "r1", "result": {"id": "m1"}}
    [seen] = api.seen
    assert (seen.method, seen.path) == ("GET", "/dpf/v1/zones/m1")
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"].startswith("certbot-dns-iijdpf/")


def test_write_sends_json_and_returns_the_request_id(api: Api) -> None:
    api.then(ACCEPTED)
    assert client(api).write("post", "/zones/m1/records", {"name": "a.", "ttl": None}) == "j1"
    [seen] = api.seen
    assert seen.method == "POST"
    assert json.loads(seen.body) == {"name": "a.", "ttl": None}


def test_write_without_request_id_is_a_protocol_error(api: Api) -> None:
    api.then((202, JSON, b"{}"))
    with pytest.raises(DpfProtocolError, match="no request_id"):
        client(api).write("DELETE", "/zones/m1/records/r1")


def test_netrc_never_replaces_the_bearer_token(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    api.then(OK, ACCEPTED)
    c = client(api)
    c.get("/zones")
    c.write("PATCH", "/zones/m1/changes", {"description": ""})
    assert [s.headers["Authorization"] for s in api.seen] == [f"Bearer {TOKEN}"] * 2


def test_token_is_absent_from_reprs_and_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.then(BUSY, OK)
    c = client(api)
    c.get("/zones")
    assert TOKEN not in repr(c)
    assert TOKEN not in repr(c.__dict__)
    assert TOKEN not in caplog.text
    # The log did capture the exchange, so the absence above means something.
    assert "/dpf/v1/zones" in caplog.text


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_not_followed_and_the_token_stays_home(
    servers: Callable[..., Api], status: int
) -> None:
    api, elsewhere = servers(), servers()
    target = elsewhere.url.replace("/dpf/v1", "/steal?key=value")
    api.then((status, {"Location": target}, b""))
    with pytest.raises(DpfProtocolError, match=rf"redirect \(HTTP {status} to http://") as info:
        client(api).write("POST", "/zones/m1/records", {"a": 1})
    assert "key=value" not in str(info.value)
    assert len(api.seen) == 1
    assert elsewhere.seen == []
    assert_no_token(info.value)


def test_json_body_of_a_success_must_be_an_object(api: Api) -> None:
    api.then((200, JSON, b"[1, 2]"))
    with pytest.raises(DpfProtocolError, match="not an object"):
        client(api).get("/zones")


def test_html_page_is_a_clear_error(api: Api) -> None:
    api.then(*[(502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>")] * 3)
    with pytest.raises(DpfProtocolError, match=r"not JSON .*text/html.*proxy"):
        client(api, retries=2).get("/zones")
    assert len(api.seen) == 3


# -- DPF's error bodies --------------------------------------------------------


def test_error_body_becomes_api_error_without_token(api: Api) -> None:
    api.then(
        error(
            400,
            "ParameterError",
            "There are invalid parameters.",
            error_details=[{"code": "invalid", "attribute": "access_token"}],
        )
    )
    with pytest.raises(DpfApiError) as info:
        client(api).get("/zones")
    assert info.value.is_token_rejected
    assert "invalid/access_token" in str(info.value)
    assert_no_token(info.value)


def test_406_names_the_block_id(api: Api) -> None:
    block_id = "0123456789abcdef0123456789abcdef"
    api.then(error(406, "NotAcceptable", "Request was blocked.", block_id=block_id))
    with pytest.raises(DpfApiError) as info:
        write(client(api), "POST")
    assert info.value.status == 406
    assert info.value.block_id == block_id
    assert block_id in str(info.value)
    assert len(api.seen) == 1


def test_400_on_a_write_is_an_api_error_not_sent_again(api: Api) -> None:
    api.then(
        error(
            400,
            "ParameterError",
            "There are invalid parameters.",
            error_details=[{"code": "duplicated", "attribute": "record"}],
        )
    )
    with pytest.raises(DpfApiError) as info:
        write(client(api), "POST")
    assert info.value.has_detail("duplicated", "record")
    assert len(api.seen) == 1


# -- retries of reads ----------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_is_retried_on_status(api: Api, status: int) -> None:
    api.then(error(status, "X", "y"), error(status, "X", "y"), OK)
    assert client(api).get("/zones/m1")["result"] == {"id": "m1"}
    assert len(api.seen) == 3


@pytest.mark.parametrize("failure", ["close", "reset"])
def test_get_is_retried_after_a_broken_connection(api: Api, failure: str) -> None:
    api.then(failure, OK)
    assert client(api).get("/zones/m1")["result"] == {"id": "m1"}
    assert len(api.seen) == 2


def test_get_is_retried_after_a_read_timeout(api: Api) -> None:
    api.then("hang", OK)
    started = time.monotonic()
    assert client(api, read_timeout=0.2).get("/zones/m1")["result"] == {"id": "m1"}
    assert len(api.seen) == 2
    assert time.monotonic() - started < 1.5


def broken_body(then: str) -> Answer:
    """A head that promises 100 bytes, 13 of them, then ``then`` ("close" or "hang")."""
    return 200, {**JSON, "Content-Length": "100", "X-Then": then}, b'{"request_id"'


@pytest.mark.parametrize("then", ["close", "hang"])
def test_get_is_read_again_when_the_body_breaks_off(api: Api, then: str) -> None:
    api.then(broken_body(then), OK)
    assert client(api, read_timeout=0.2).get("/zones/m1")["result"] == {"id": "m1"}
    assert len(api.seen) == 2


def test_get_whose_body_keeps_breaking_off_fails_after_the_retries(api: Api) -> None:
    fake = FakeTime()
    api.default = broken_body("close")
    with pytest.raises(DpfTransportError, match="broke") as info:
        client(api, fake, retries=2).get("/zones")
    assert len(api.seen) == 3
    assert fake.sleeps == [1.0]
    assert_no_token(info.value)


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("then", ["close", "hang"])
def test_write_whose_answer_breaks_off_is_outcome_unknown_and_not_sent_again(
    api: Api, method: str, then: str
) -> None:
    api.default = broken_body(then)
    with pytest.raises(WriteOutcomeUnknown):
        write(client(api, read_timeout=0.2), method)
    assert len(api.seen) == 1


@pytest.mark.parametrize("status", [400, 404, 501])
def test_get_is_not_retried_on_other_errors(api: Api, status: int) -> None:
    api.then(error(status, "X", "y"))
    with pytest.raises(DpfApiError):
        client(api).get("/zones/m1")
    assert len(api.seen) == 1


def test_get_gives_up_after_the_retries(api: Api) -> None:
    api.default = error(500, "SystemError", "System error occurred.")
    with pytest.raises(DpfApiError, match="HTTP 500 SystemError"):
        client(api, retries=3).get("/zones")
    assert len(api.seen) == 4


def test_get_that_stays_rate_limited_is_a_transport_error(api: Api) -> None:
    api.default = TOO_MANY
    with pytest.raises(DpfTransportError, match="HTTP 429 TooManyRequests after 2 retries"):
        client(api, retries=2).get("/zones")
    assert len(api.seen) == 3


# -- writes: retried only when DPF cannot have processed them -------------------


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("busy", [TOO_MANY, BUSY])
def test_write_is_retried_on_429_and_503(api: Api, method: str, busy: Answer) -> None:
    api.then(busy, busy, ACCEPTED)
    assert write(client(api), method) == "j1"
    assert [s.method for s in api.seen] == [method] * 3
    assert api.seen[0].body == api.seen[2].body


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("status", [500, 502, 504])
def test_write_answered_5xx_is_outcome_unknown_and_not_sent_again(
    api: Api, method: str, status: int
) -> None:
    api.default = error(status, "GatewayTimeout", "Gateway timeout.")
    with pytest.raises(WriteOutcomeUnknown, match=rf"HTTP {status}") as info:
        write(client(api), method)
    assert info.value.operation == f"{method} /zones/m1/records/r1"
    assert len(api.seen) == 1
    assert_no_token(info.value)


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("failure", ["close", "reset"])
def test_write_whose_connection_breaks_is_outcome_unknown_and_not_sent_again(
    api: Api, method: str, failure: str
) -> None:
    api.default = failure
    with pytest.raises(WriteOutcomeUnknown, match="connection broke") as info:
        write(client(api), method)
    assert len(api.seen) == 1
    assert_no_token(info.value)


@pytest.mark.parametrize("method", WRITES)
def test_write_without_answer_is_outcome_unknown_and_not_sent_again(api: Api, method: str) -> None:
    api.default = "hang"
    with pytest.raises(WriteOutcomeUnknown, match="read timeout"):
        write(client(api, read_timeout=0.2), method)
    assert len(api.seen) == 1


@pytest.mark.parametrize("method", WRITES)
def test_write_is_retried_when_the_connection_was_refused(
    servers: Callable[..., Api], method: str
) -> None:
    # Bound but not listening: connecting is refused until the first retry's
    # wait opens the port.
    api = servers(listen=False)
    api.then(ACCEPTED)
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if not api.listening:
            api.listen()

    c = DpfClient(api.url, TOKEN, clock=fake, sleep=sleep, rate=0)
    assert write(c, method) == "j1"
    assert len(api.seen) == 1


def test_write_to_a_refused_port_fails_as_unreachable_after_retries(
    servers: Callable[..., Api],
) -> None:
    api = servers(listen=False)
    fake = FakeTime()
    with pytest.raises(DpfTransportError, match="Could not reach the DPF API at http://127") as e:
        write(client(api, fake), "POST")
    assert not isinstance(e.value, WriteOutcomeUnknown)
    # Three retries (the first without a wait), then it gives up.
    assert fake.sleeps == [1.0, 2.0]
    assert_no_token(e.value)


def test_write_that_stays_busy_says_it_was_not_processed(api: Api) -> None:
    api.default = BUSY
    with pytest.raises(DpfTransportError, match="did not process the request") as info:
        write(client(api, retries=2), "POST")
    assert not isinstance(info.value, WriteOutcomeUnknown)
    assert len(api.seen) == 3


# -- Retry-After, the rate limit and the run's budget ---------------------------


def test_retry_after_seconds_is_honoured_in_full(api: Api) -> None:
    fake = FakeTime()
    api.then(with_header(TOO_MANY, Retry_After="120"), ACCEPTED)
    assert write(client(api, fake, budget=900), "POST") == "j1"
    assert fake.sleeps == [120.0]
    assert len(api.seen) == 2


def test_retry_after_http_date_is_honoured_in_full(api: Api) -> None:
    fake = FakeTime()
    when = email.utils.formatdate(time.time() + 300, usegmt=True)
    api.then(with_header(BUSY, Retry_After=when), OK)
    client(api, fake, budget=900).get("/zones")
    [waited] = fake.sleeps
    assert 297 <= waited <= 301


def test_retry_after_beyond_the_budget_fails_at_once(api: Api) -> None:
    fake = FakeTime()
    api.default = with_header(BUSY, Retry_After="3600")
    with pytest.raises(RunTimeoutError) as info:
        client(api, fake, budget=900).get("/zones")
    assert fake.sleeps == []
    assert len(api.seen) == 1
    text = str(info.value)
    assert "The run's time budget of 900 seconds (--dns-iijdpf-timeout-seconds)" in text
    assert "GET /zones" in text
    assert "3600" in text


def test_retry_after_is_remembered_for_later_requests(api: Api) -> None:
    fake = FakeTime()
    api.then(with_header(TOO_MANY, Retry_After="30"), OK, OK)
    c = client(api, fake, budget=900, retries=0)
    with pytest.raises(DpfTransportError):
        c.get("/zones")
    assert fake.sleeps == []
    c.get("/zones")
    assert fake.sleeps == [30.0]
    # Once waited for, it holds no later request back.
    c.get("/zones")
    assert fake.sleeps == [30.0]


def test_retry_after_asked_during_retries_holds_back_the_next_request(api: Api) -> None:
    fake = FakeTime()
    # The last attempt's Retry-After is honoured by whatever comes next.
    api.then(with_header(BUSY, Retry_After="5"), with_header(BUSY, Retry_After="40"), OK)
    c = client(api, fake, budget=900, retries=1)
    with pytest.raises(DpfTransportError):
        write(c, "POST")
    assert fake.sleeps == [5.0]
    c.get("/zones")
    assert fake.sleeps == [5.0, 40.0]


def test_remembered_retry_after_beyond_the_budget_fails_the_next_request_at_once(
    api: Api,
) -> None:
    fake = FakeTime()
    api.then(with_header(TOO_MANY, Retry_After="600"))
    c = client(api, fake, budget=300, retries=0)
    with pytest.raises(DpfTransportError):
        c.get("/zones")
    with pytest.raises(RunTimeoutError, match="Retry-After"):
        c.get("/zones")
    assert fake.sleeps == []
    assert len(api.seen) == 1


def test_malformed_retry_after_falls_back_to_backoff(api: Api) -> None:
    fake = FakeTime()
    api.then(with_header(BUSY, Retry_After="0.5"), with_header(BUSY, Retry_After="soon"), OK)
    client(api, fake).get("/zones")
    # urllib3's backoff: nothing before the first retry, then 0.5 * 2.
    assert fake.sleeps == [1.0]


def test_parse_retry_after() -> None:
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(" 7200 ") == 7200.0
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert parse_retry_after(past) == 0.0
    future = parse_retry_after(email.utils.formatdate(time.time() + 60, usegmt=True))
    assert future is not None and 57 <= future <= 61
    assert parse_retry_after("-1") is None
    assert parse_retry_after("1.5") is None
    assert parse_retry_after("") is None
    assert parse_retry_after("Mon, 32 Foo 2020 25:61:61 GMT") is None
    assert parse_retry_after("Fri, 31 Dec 99999 23:59:59 GMT") is None


def test_retry_after_out_of_range_falls_back_to_backoff(api: Api) -> None:
    fake = FakeTime()
    api.then(with_header(BUSY, Retry_After="Fri, 31 Dec 99999 23:59:59 GMT"), OK)
    client(api, fake).get("/zones")
    assert len(api.seen) == 2


def test_rate_limit_spaces_first_attempts(api: Api) -> None:
    fake = FakeTime()
    c = client(api, fake, rate=20.0, burst=2)
    for _ in range(6):
        c.get("/ping")
    # Two requests ride the burst; each of the other four waits for a token.
    assert fake.sleeps == pytest.approx([0.05] * 4)


def test_rate_limit_applies_to_retries(api: Api) -> None:
    fake = FakeTime()
    api.then(with_header(TOO_MANY, Retry_After="0"), with_header(TOO_MANY, Retry_After="0"), OK)
    client(api, fake, rate=0.5, burst=1).get("/zones")
    # Retry-After 0 asks for no wait at all; the bucket still spaces the attempts.
    assert [w for w in fake.sleeps if w] == pytest.approx([2.0, 2.0])
    assert len(api.seen) == 3


def test_backoff_beyond_the_budget_fails_at_once(api: Api) -> None:
    fake = FakeTime()
    api.default = BUSY
    with pytest.raises(RunTimeoutError, match="next retry is due"):
        client(api, fake, budget=2.5).get("/zones")
    # Backoffs of 0, 1 and 2 seconds would reach 3 seconds, past the budget.
    assert fake.sleeps == [1.0]
    assert len(api.seen) == 3


def test_spent_budget_fails_before_sending(api: Api) -> None:
    fake = FakeTime()
    c = client(api, fake, budget=10)
    fake.now += 10
    with pytest.raises(RunTimeoutError, match="ran out while waiting for GET /zones"):
        c.get("/zones")
    assert api.seen == []


# -- timeouts ------------------------------------------------------------------


def test_server_that_never_answers_fails_within_the_budget(api: Api) -> None:
    api.default = "hang"
    c = DpfClient(api.url, TOKEN, deadline=Deadline(1.0), read_timeout=60.0)
    started = time.monotonic()
    with pytest.raises((RunTimeoutError, DpfTransportError)) as info:
        c.get("/zones")
    assert time.monotonic() - started < 1.8
    assert "time budget of 1 seconds (--dns-iijdpf-timeout-seconds)" in str(info.value)


def test_read_timeout_is_capped_by_what_is_left_of_the_budget(api: Api) -> None:
    api.then(OK, "hang", OK)
    clock_offset = [0.0]
    deadline = Deadline(100.0, clock=lambda: time.monotonic() + clock_offset[0])
    c = DpfClient(api.url, TOKEN, deadline=deadline, read_timeout=60.0, rate=0)
    c.get("/zones")
    # 0.3 seconds left: the hanging attempt may take no more than that.
    clock_offset[0] = 99.7
    started = time.monotonic()
    with pytest.raises(RunTimeoutError):
        c.get("/zones")
    assert 0.2 <= time.monotonic() - started < 1.2


def test_read_timeout_without_a_budget_names_the_timeout(api: Api) -> None:
    api.default = "hang"
    with pytest.raises(DpfTransportError, match=r"did not answer GET /zones within 0\.1 seconds"):
        client(api, read_timeout=0.1, retries=1).get("/zones")
    assert len(api.seen) == 2


def test_connect_and_read_timeouts_are_capped_by_the_budget(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib3.util.timeout import Timeout

    fake = FakeTime()
    seen: list[tuple[float | None, float | None]] = []
    original = Timeout.clone

    def spy(self: Timeout) -> Timeout:
        clone = original(self)
        seen.append((clone.connect_timeout, clone.read_timeout))  # type: ignore[arg-type]
        return clone

    monkeypatch.setattr(Timeout, "clone", spy)
    api.then(OK, OK)
    c = client(api, fake, budget=30, connect_timeout=10, read_timeout=60)
    c.get("/zones")
    fake.now += 25
    c.get("/zones")
    assert seen[0] == (10, 30)
    assert seen[-1] == (5, 5)


# -- listing ---------------------------------------------------------------------


def listing(
    rows: list[dict[str, Any]], *, page_cap: int, counted: int | None = None
) -> Callable[[Seen], Answer]:
    """Answer ``/count`` and pages of ``rows`` (at most ``page_cap`` per page)."""

    def answer(seen: Seen) -> Answer:
        path = urlsplit(seen.path).path
        if path.endswith("/count"):
            count = len(rows) if counted is None else counted
            return 200, JSON, js({"request_id": "c", "result": {"count": count}})
        offset = int(seen.query.get("offset", ["0"])[0])
        limit = int(seen.query.get("limit", ["100"])[0])
        page = rows[offset : offset + min(limit, page_cap)]
        return 200, JSON, js({"request_id": "p", "results": page})

    return answer


def test_get_all_pages_by_rows_received(api: Api) -> None:
    rows = [{"id": f"r{i}"} for i in range(7)]
    api.default = listing(rows, page_cap=3)
    params: dict[str, str | int | list[str]] = {"_keywords_name[]": ["_acme-challenge.x."]}
    assert client(api).get_all("/zones/m1/records", params) == rows
    paths = [urlsplit(s.path).path for s in api.seen]
    assert paths == ["/dpf/v1/zones/m1/records/count"] + ["/dpf/v1/zones/m1/records"] * 3
    assert [s.query.get("offset") for s in api.seen[1:]] == [["0"], ["3"], ["6"]]
    assert all(s.query["_keywords_name[]"] == ["_acme-challenge.x."] for s in api.seen)
    assert "offset" not in api.seen[0].query


def test_get_all_of_nothing_reads_only_the_count(api: Api) -> None:
    api.default = listing([], page_cap=3)
    assert client(api).get_all("/zones") == []
    assert len(api.seen) == 1


def test_get_all_short_of_the_count_reads_again_then_fails(api: Api) -> None:
    rows = [{"id": f"r{i}"} for i in range(3)]
    api.default = listing(rows, page_cap=2, counted=5)
    with pytest.raises(DpfProtocolError, match=r"listed 3 of the 5 items.*/count"):
        client(api).get_all("/zones/m1/records")
    counts = [s for s in api.seen if urlsplit(s.path).path.endswith("/count")]
    assert len(counts) == 2


def test_get_all_short_once_is_read_again(api: Api) -> None:
    rows = [{"id": f"r{i}"} for i in range(4)]
    short = listing(rows[:2], page_cap=10, counted=4)
    full = listing(rows, page_cap=10)
    api.then(short, short, short, full, full)
    assert client(api).get_all("/zones/m1/records") == rows


def test_count_must_be_a_number(api: Api) -> None:
    api.then((200, JSON, js({"request_id": "c", "result": {"count": "3"}})))
    with pytest.raises(DpfProtocolError, match="without a valid count"):
        client(api).count("/zones")


# -- the endpoint ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "complaint"),
    [
        ("https://user:hunter2@api.example.jp/dpf/v1", "user info"),
        ("https://user:hunt/er2@api.example.jp/dpf/v1", "user info"),
        ("https://api.example.jp/dpf/v1?hunter2=1", "query string"),
        ("https://api.example.jp/dpf/v1#hunter2", "fragment"),
        ("https://user:hunter2@api.example.jp/dpf/v1?x#y", "user info"),
    ],
)
def test_endpoint_with_credentials_or_extras_is_refused(endpoint: str, complaint: str) -> None:
    with pytest.raises(DpfError, match=complaint) as info:
        validate_endpoint(endpoint)
    assert "hunter2" not in str(info.value)
    assert "hunt" not in str(info.value)
    assert "api.example.jp" in str(info.value)


@pytest.mark.parametrize(
    "endpoint",
    ["http://api.example.jp/dpf/v1", "ftp://api.example.jp/", "https:///dpf", "https://h:0/"],
)
def test_unusable_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(DpfError, match="DPF endpoint"):
        validate_endpoint(endpoint)


def test_usable_endpoints() -> None:
    assert validate_endpoint(" https://api.dns-platform.jp/dpf/v1/ ") == (
        "https://api.dns-platform.jp/dpf/v1"
    )
    assert validate_endpoint("http://127.0.0.1:8080/dpf/v1") == "http://127.0.0.1:8080/dpf/v1"
    assert validate_endpoint("http://[::1]:8080") == "http://[::1]:8080"
    assert validate_endpoint("http://localhost/dpf/v1") == "http://localhost/dpf/v1"


def test_client_refuses_an_endpoint_with_user_info() -> None:
    with pytest.raises(DpfError, match="user info"):
        DpfClient("http://u:p@127.0.0.1:1/dpf/v1", TOKEN)


def test_unreachable_endpoint_is_a_clear_error(servers: Callable[..., Api]) -> None:
    api = servers(listen=False)
    with pytest.raises(DpfTransportError, match=r"Could not reach the DPF API at http://127") as e:
        client(api, retries=1).get("/zones")
    assert "HTTPS_PROXY" in str(e.value)
    assert_no_token(e.value)


def test_refused_port_is_errno_econnrefused(servers: Callable[..., Api]) -> None:
    # Guards the fixture: a bound, non-listening socket refuses connections.
    api = servers(listen=False)
    port = urlsplit(api.url).port
    assert port is not None
    with socket.socket() as s, pytest.raises(OSError) as info:
        s.connect(("127.0.0.1", port))
    assert info.value.errno == errno.ECONNREFUSED
