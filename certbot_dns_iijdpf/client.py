"""HTTP transport for the DPF REST API.

:class:`DpfClient` owns one ``requests`` session with the token in its
``Authorization`` header, connect and read timeouts, a client-side rate limit,
and retries of 429/5xx answers and dropped connections through urllib3's
``Retry`` (``Retry-After`` honoured, but capped so that a server cannot stall
an unattended renewal for hours).  It unwraps DPF's envelopes and turns error
bodies into :class:`~certbot_dns_iijdpf.errors.DpfApiError`.

The token is never logged, never part of an exception message and never part
of ``repr()``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from certbot_dns_iijdpf import __version__
from certbot_dns_iijdpf.errors import (
    DpfApiError,
    DpfError,
    DpfProtocolError,
    DpfTransportError,
    ErrorDetail,
)

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.dns-platform.jp/dpf/v1"

# DPF's listing APIs accept up to 10000 items a page; one page covers almost
# every zone, which keeps a whole zone's edit view to a single request.
PAGE_LIMIT = 10000

JsonObject = dict[str, Any]
Params = dict[str, str | int | list[str]]


class _CappedRetry(Retry):
    """urllib3 ``Retry`` whose ``Retry-After`` waits are capped."""

    max_retry_after = 60.0

    def get_retry_after(self, response: Any) -> float | None:
        try:
            value = super().get_retry_after(response)
        except InvalidHeader:
            # A malformed header (say "0.5") should not turn a retry into a failure.
            return None
        return None if value is None else min(value, self.max_retry_after)


def _retry_policy(total: int) -> Retry:
    # Every method is retried: 429 and 503 mean the request was not processed,
    # and a repeated write that did land is caught by the record logic, which
    # re-reads the zone before and after every round of edits.
    kwargs: dict[str, Any] = {
        "total": total,
        # A refused connection rarely heals within seconds; fail fast on it.
        "connect": min(total, 3),
        "read": total,
        "status": total,
        "backoff_factor": 0.5,
        "status_forcelist": (429, 500, 502, 503, 504),
        "allowed_methods": None,
        "respect_retry_after_header": True,
        "raise_on_status": False,
    }
    return _CappedRetry(**kwargs)


class _RateLimitedAdapter(HTTPAdapter):
    """An adapter that spaces requests out with a token bucket.

    DPF publishes no numbers, only that "extremely many" requests get 429;
    IIJ's own SDK allows 5 per second with bursts of 10, and so do we.
    """

    def __init__(self, rate: float, burst: int, retries: Retry) -> None:
        super().__init__(max_retries=retries)
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if self._rate > 0:
            self._take()
        return super().send(request, *args, **kwargs)

    def _take(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self._rate
                time.sleep(wait)
                self._last = time.monotonic()
                self._tokens = 0.0
            else:
                self._tokens -= 1.0


def validate_endpoint(endpoint: str) -> str:
    """Return the endpoint without a trailing slash, or raise ``DpfError``.

    Plain HTTP is refused except on loopback, so that a typo cannot send the
    token over the network in clear text.
    """
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DpfError(
            f"The DPF endpoint {endpoint!r} is not an http(s) URL; "
            f"leave it unset to use {DEFAULT_ENDPOINT}."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise DpfError(
            f"The DPF endpoint {endpoint!r} uses plain http; the token must only travel "
            "over https (plain http is accepted for loopback addresses only)."
        )
    return endpoint.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DpfClient:
    """A DPF API client for one endpoint and one token."""

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 6,
        rate: float = 5.0,
        burst: int = 10,
    ) -> None:
        self.endpoint = validate_endpoint(endpoint)
        self._timeout = (connect_timeout, read_timeout)
        self._session = requests.Session()
        adapter = _RateLimitedAdapter(rate, burst, _retry_policy(retries))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"certbot-dns-iijdpf/{__version__}",
            }
        )

    def __repr__(self) -> str:
        return f"DpfClient(endpoint={self.endpoint!r})"

    def close(self) -> None:
        self._session.close()

    # -- reads -------------------------------------------------------------

    def get(self, path: str, params: Params | None = None) -> JsonObject:
        """GET ``path`` and return the whole JSON body."""
        return self._request("GET", path, params=params)

    def get_all(self, path: str, params: Params | None = None) -> list[JsonObject]:
        """GET every page of a list and return the concatenated ``results``."""
        items: list[JsonObject] = []
        offset = 0
        while True:
            page_params: Params = dict(params or {})
            page_params.update({"offset": offset, "limit": PAGE_LIMIT})
            body = self.get(path, page_params)
            results = body.get("results")
            if not isinstance(results, list):
                raise DpfProtocolError(f"DPF answered GET {path} without a 'results' list.")
            items.extend(r for r in results if isinstance(r, dict))
            if len(results) < PAGE_LIMIT:
                return items
            offset += PAGE_LIMIT

    # -- writes ------------------------------------------------------------

    def write(self, method: str, path: str, body: JsonObject | None = None) -> str:
        """Send an asynchronous write and return its job id (the ``request_id``)."""
        answer = self._request(method, path, body=body)
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise DpfProtocolError(f"DPF accepted {method} {path} but returned no request_id.")
        return request_id

    def job(self, request_id: str) -> JsonObject:
        """Read an asynchronous job's status object (DPF returns it unwrapped)."""
        return self.get(f"/jobs/{request_id}")

    # -- transport ---------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: JsonObject | None = None,
    ) -> JsonObject:
        url = self.endpoint + path
        operation = f"{method} {path}"
        data = json.dumps(body) if body is not None else None
        try:
            response = self._session.request(
                method, url, params=params, data=data, timeout=self._timeout
            )
        except requests.exceptions.RetryError as exc:
            raise DpfTransportError(
                f"DPF kept answering {operation} with errors after several retries ({_cause(exc)})."
            ) from None
        except requests.exceptions.Timeout:
            raise DpfTransportError(
                f"DPF did not answer {operation} within {self._timeout[1]:.0f} seconds "
                f"(endpoint {self.endpoint})."
            ) from None
        except requests.exceptions.RequestException as exc:
            raise DpfTransportError(
                f"Could not reach the DPF API at {self.endpoint} ({_cause(exc)}). "
                "Check the endpoint, your network and any proxy settings (HTTPS_PROXY)."
            ) from None
        return self._read(response, operation)

    @staticmethod
    def _read(response: requests.Response, operation: str) -> JsonObject:
        content_type = response.headers.get("Content-Type", "")
        try:
            body = response.json()
        except ValueError:
            raise DpfProtocolError(
                f"DPF answered {operation} with HTTP {response.status_code} and a body that "
                f"is not JSON (Content-Type {content_type or 'unset'}); a proxy or gateway "
                "between this host and DPF may have answered instead."
            ) from None
        if not isinstance(body, dict):
            raise DpfProtocolError(f"DPF answered {operation} with JSON that is not an object.")
        if response.status_code >= 400:
            raise _api_error(response.status_code, body, operation)
        return body


def _api_error(status: int, body: JsonObject, operation: str) -> DpfApiError:
    details: list[ErrorDetail] = []
    raw_details = body.get("error_details")
    if isinstance(raw_details, list):
        for item in raw_details:
            if isinstance(item, dict):
                details.append(
                    ErrorDetail(
                        code=str(item.get("code", "")),
                        attribute=str(item.get("attribute", "")),
                        target=str(item.get("target", "") or ""),
                    )
                )
    return DpfApiError(
        status,
        str(body.get("error_type", "")),
        str(body.get("error_message", "")),
        tuple(details),
        str(body.get("request_id", "")),
        operation,
    )


def _cause(exc: BaseException) -> str:
    """A short description of a transport failure that never includes headers."""
    inner: BaseException = exc
    while True:
        reason = getattr(inner, "reason", None)
        if isinstance(reason, BaseException):
            inner = reason
            continue
        if inner.__context__ is not None and inner is exc:
            inner = inner.__context__
            continue
        break
    name = type(inner).__name__
    text = str(inner)
    # urllib3 messages name the pool and URL, never the headers; keep them short.
    return f"{name}: {text[:200]}" if text else name
