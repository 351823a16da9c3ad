"""The transport against a scripted local HTTP server (narrow cases only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from certbot_dns_iijdpf.client import DpfClient
from certbot_dns_iijdpf.errors import DpfApiError, DpfProtocolError, DpfTransportError

TOKEN = "secret-token-123"


class Script:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        self.seen: list[tuple[str, str, str]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.seen_request()
            status, headers, body = script.answers.pop(0) if script.answers else (200, {}, b"{}")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def seen_request(self) -> None:
            script.seen.append((self.command, self.path, self.headers.get("Authorization", "")))

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/dpf/v1", script
    httpd.shutdown()
    httpd.server_close()


def js(body: object) -> bytes:
    return json.dumps(body).encode()


def test_bearer_token_and_envelope(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers.append(
        (200, {"Content-Type": "application/json"}, js({"request_id": "x", "result": {"id": "m1"}}))
    )
    client = DpfClient(url, TOKEN)
    assert client.get("/zones/m1") == {"request_id": "x", "result": {"id": "m1"}}
    assert script.seen == [("GET", "/dpf/v1/zones/m1", f"Bearer {TOKEN}")]
    assert TOKEN not in repr(client)


def test_429_is_retried_after_retry_after(server: tuple[str, Script]) -> None:
    url, script = server
    busy = js(
        {"request_id": "x", "error_type": "TooManyRequests", "error_message": "Too many requests."}
    )
    script.answers += [
        (429, {"Retry-After": "1"}, busy),
        (503, {}, busy),
        (202, {}, js({"request_id": "j1"})),
    ]
    assert DpfClient(url, TOKEN).write("POST", "/zones/m1/records", {"a": 1}) == "j1"
    assert len(script.seen) == 3


def test_error_body_becomes_api_error_without_token(server: tuple[str, Script]) -> None:
    url, script = server
    body = {
        "request_id": "r",
        "error_type": "ParameterError",
        "error_message": "There are invalid parameters.",
        "error_details": [{"code": "invalid", "attribute": "access_token"}],
    }
    script.answers.append((400, {}, js(body)))
    with pytest.raises(DpfApiError) as info:
        DpfClient(url, TOKEN).get("/zones")
    assert info.value.is_token_rejected
    assert "invalid/access_token" in str(info.value)
    assert TOKEN not in str(info.value)


def test_html_page_is_a_clear_error(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers += [(502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>")] * 7
    with pytest.raises(DpfProtocolError, match=r"not JSON .*text/html.*proxy"):
        DpfClient(url, TOKEN, retries=1).get("/zones")


def test_unreachable_endpoint_is_a_clear_error() -> None:
    with pytest.raises(
        DpfTransportError, match=r"Could not reach the DPF API at http://127\.0\.0\.1:9/dpf/v1"
    ) as info:
        DpfClient("http://127.0.0.1:9/dpf/v1", TOKEN, retries=1).get("/zones")
    assert TOKEN not in str(info.value)


def test_rate_limit_spaces_requests(
    server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr("certbot_dns_iijdpf.client.time.sleep", waits.append)
    url, _ = server
    client = DpfClient(url, TOKEN, rate=20.0, burst=2)
    for _ in range(6):
        client.get("/ping")
    # Two requests ride the burst; each of the other four waits for a token.
    assert len(waits) == 4
    assert all(0 < w <= 0.05 + 1e-6 for w in waits)
