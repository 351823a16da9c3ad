"""HTTP transport for the DPF REST API.

:class:`DpfClient` sends every request of a run to one endpoint with one
token and unwraps DPF's envelopes.  Around each request it enforces:

* **Retries that cannot duplicate a write.**  urllib3's ``Retry`` (subclassed
  here) retries a GET on 429, 500, 502, 503 and 504 answers and on connect or
  read errors; a GET whose answer breaks off in the body is sent again by the
  client itself.  A write (POST, PATCH, DELETE, PUT) is retried only when DPF
  cannot have processed it: a 429 or 503 answer, or a connection that could
  not be established.  A write whose answer was lost after it may have been
  processed (another 5xx, a read timeout, a connection broken after sending,
  an answer cut short) raises
  :class:`~certbot_dns_iijdpf._internal.errors.WriteOutcomeUnknown`.
* **Waits that DPF asks for, within the run's budget.**  ``Retry-After`` is
  honoured in full; when the wait (or a backoff) would outlast the
  :class:`~certbot_dns_iijdpf._internal.deadline.Deadline`, the request gives up at once
  with :class:`~certbot_dns_iijdpf._internal.errors.RunTimeoutError`.  Connect and read
  timeouts of every attempt are capped by the time left.
* **A client-side rate limit** (a token bucket) that every attempt passes,
  retries included.
* **The token goes only where it should.**  It is sent by a ``requests`` auth
  object, so a ``~/.netrc`` entry cannot replace it; redirects are not
  followed; it never appears in a log line, an exception message or a
  ``repr()``.

Error bodies become :class:`~certbot_dns_iijdpf._internal.errors.DpfApiError`.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import math
import re
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Union, cast
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import ProxyError as _Urllib3ProxyError
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from certbot_dns_iijdpf import __version__
from certbot_dns_iijdpf._internal.deadline import Deadline
from certbot_dns_iijdpf._internal.endpoint import validate_endpoint
from certbot_dns_iijdpf._internal.errors import (
    DpfApiError,
    DpfError,
    DpfProtocolError,
    DpfTransportError,
    ErrorDetail,
    WriteOutcomeUnknown,
)

logger = logging.getLogger(__name__)


# DPF's listing APIs accept up to 10000 items a page; one page covers almost
# every zone, which keeps a whole zone's edit view to a single request.
PAGE_LIMIT = 10000

JsonObject = dict[str, Any]
# typing.Union: a runtime alias, and Python 3.9 has no `|` between types.
Params = dict[str, Union[str, int, list[str]]]

# Methods whose repetition cannot change anything on DPF.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Answers after which a read is worth repeating.
_READ_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_FACTOR = 0.5
# urllib3's default cap (1.26 cannot set another one).
_BACKOFF_MAX = 120.0
# Answers that say DPF did not process the request at all (rate limit,
# maintenance or "busy"), so that even a write may be sent again.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})


class _OutOfTime(Exception):
    """Raised inside urllib3 when the next attempt would overrun the run's budget.

    Deliberately not a urllib3 or OS error, so that neither urllib3 nor
    requests catch it; :class:`DpfClient` turns it into ``RunTimeoutError``
    naming the request.
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class _BearerAuth(AuthBase):
    """Sets ``Authorization: Bearer <token>``.

    requests looks for ``~/.netrc`` credentials only when a request has no
    auth object; with this one set, a netrc entry for the API host can never
    replace the token or receive it.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    def __repr__(self) -> str:
        return "_BearerAuth(token=<hidden>)"


class _Pacer:
    """Decides when the next attempt of any request may go out.

    It combines the run's deadline, the time DPF last asked us to keep away
    (``Retry-After``) and a token bucket.  DPF publishes no rate numbers, only
    that "extremely many" requests get 429; IIJ's own SDK allows 5 per second
    with bursts of 10, and so do we by default.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        deadline: Deadline,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.deadline = deadline
        self._rate = rate
        self._burst = float(max(1, burst))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._burst
        self._last = clock()
        self._not_before = -math.inf
        self._lock = threading.Lock()

    def defer(self, seconds: float) -> None:
        """Remember that DPF asked for no request in the next ``seconds``."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def before_request(self) -> None:
        held = self._not_before - self._clock()
        if held > 0:
            self.sleep_within_budget(
                held, f"DPF asked to wait {held:.0f} more seconds (Retry-After)"
            )
        self._take()

    def before_retry(self, wait: float, asked: bool) -> None:
        if asked:
            self.defer(wait)
            reason = f"DPF asked to wait {wait:.0f} seconds (Retry-After)"
        else:
            reason = f"the next retry is due in {wait:.1f} seconds"
        wait = max(wait, self._not_before - self._clock())
        self.sleep_within_budget(wait, reason)
        self._take()

    def sleep_within_budget(self, wait: float, reason: str) -> None:
        """Sleep ``wait`` seconds, or raise ``_OutOfTime`` at once if the budget is shorter."""
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise _OutOfTime()
        if wait >= remaining:
            # Sleeping to the end of the budget and then calling would be
            # useless, and calling earlier than asked would be rude.
            raise _OutOfTime(f"{reason}, and only {remaining:.0f} seconds of it remain")
        if wait > 0:
            logger.debug("Waiting %.1f seconds before the next DPF request (%s).", wait, reason)
            self._sleep(wait)

    def _take(self) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1.0:
                self._sleep((1.0 - self._tokens) / self._rate)
                self._last = self._clock()
                self._tokens = 0.0
            else:
                self._tokens -= 1.0


class _DpfRetry(Retry):
    """urllib3 ``Retry`` that never repeats a write DPF may have processed.

    Reads are retried on 429/500/502/503/504 and on connect and read errors.
    Writes are retried only on 429/503 and on connections that were never
    established: a lost answer after an accepted POST would otherwise create
    a second record.  Every wait goes through the :class:`_Pacer`, so
    ``Retry-After`` is honoured in full, the deadline is respected and retries
    use the rate limit like first attempts do.
    """

    pacer: _Pacer | None = None

    def new(self, **kw: Any) -> _DpfRetry:
        retry = super().new(**kw)
        retry.pacer = self.pacer
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() in READ_METHODS:
            return status_code in _READ_RETRY_STATUSES
        return status_code in _NOT_PROCESSED_STATUSES

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _DpfRetry:
        if (
            error is not None
            and (method is None or method.upper() not in READ_METHODS)
            and not self._is_connection_error(error)
        ):
            raise error.with_traceback(_stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_retry_after(self, response: Any) -> float | None:
        value = response.headers.get("Retry-After")
        return None if value is None else parse_retry_after(value)

    def sleep(self, response: Any = None) -> None:
        asked = self.get_retry_after(response) if response is not None else None
        wait = asked if asked is not None else self.get_backoff_time()
        if self.pacer is None:
            time.sleep(wait)
        else:
            self.pacer.before_retry(wait, asked is not None)


def parse_retry_after(value: str) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta or HTTP date), uncapped.

    A malformed value (say "0.5") gives ``None``, which falls back to backoff
    rather than turning a retry into a failure.
    """
    value = value.strip()
    if re.fullmatch(r"[0-9]+", value):
        return float(int(value))
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    try:
        when = email.utils.mktime_tz(parsed)
    except (ValueError, OverflowError):  # a year or offset out of range
        return None
    return max(0.0, when - time.time())


def _retry_policy(total: int, pacer: _Pacer) -> _DpfRetry:
    retry = _DpfRetry(
        total=total,
        # A refused connection rarely heals within seconds; fail fast on it.
        connect=min(total, 3),
        read=total,
        status=total,
        # Errors that are neither connect nor read errors (TLS and the like)
        # do not heal by repeating either.
        other=0,
        backoff_factor=_BACKOFF_FACTOR,
        status_forcelist=_READ_RETRY_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.pacer = pacer
    return retry


class _DeadlineTimeout(Timeout):
    """Connect and read timeouts that shrink to the time left in the run.

    urllib3 clones the timeout for every attempt, retries included; each
    clone takes the deadline's remaining time at that moment.
    """

    def __init__(self, connect: float, read: float, deadline: Deadline) -> None:
        super().__init__(connect=connect, read=read)
        self._caps = (connect, read)
        self._deadline = deadline

    def clone(self) -> Timeout:
        remaining = self._deadline.remaining()
        if remaining <= 0:
            raise _OutOfTime()
        connect, read = self._caps
        return Timeout(connect=min(connect, remaining), read=min(read, remaining))


class _PacedAdapter(HTTPAdapter):
    """The adapter where every request's first attempt waits for the :class:`_Pacer`."""

    def __init__(self, pacer: _Pacer, retries: Retry) -> None:
        super().__init__(max_retries=retries)
        self._pacer = pacer

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self._pacer.before_request()
        return super().send(request, *args, **kwargs)


class DpfClient:
    """A DPF API client for one endpoint and one token.

    ``deadline`` is the run's time budget (unbounded if not given);
    ``connect_timeout`` and ``read_timeout`` apply to every attempt and are cut
    to what is left of it.  ``retries`` bounds the attempts after the first,
    ``rate`` and ``burst`` set the client-side token bucket (``rate`` 0 turns
    it off).  ``clock`` and ``sleep`` pace the waits between attempts
    (rate limit, ``Retry-After``, backoff) and should be the deadline's clock
    when a test fakes time; socket timeouts always run on real time.
    """

    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        deadline: Deadline | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 6,
        rate: float = 5.0,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = validate_endpoint(endpoint)
        self.deadline = deadline if deadline is not None else Deadline.unbounded()
        self._timeouts = (connect_timeout, read_timeout)
        self._retries = retries
        self._pacer = _Pacer(rate, burst, self.deadline, clock, sleep)
        self._auth = _BearerAuth(token)
        self._session = requests.Session()
        self._session.auth = self._auth
        adapter = _PacedAdapter(self._pacer, _retry_policy(retries, self._pacer))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"certbot-dns-iijdpf/{__version__}",
            }
        )

    def __repr__(self) -> str:
        return f"DpfClient(endpoint={self.endpoint!r})"

    # -- reads -------------------------------------------------------------

    def get(self, path: str, params: Params | None = None) -> JsonObject:
        """GET ``path`` and return the whole JSON body."""
        return self._request("GET", path, params=params)

    def count(self, path: str, params: Params | None = None) -> int:
        """The ``count`` that ``<path>/count`` reports for the same filters."""
        body = self.get(f"{path}/count", params)
        result = body.get("result")
        count = result.get("count") if isinstance(result, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise DpfProtocolError(f"DPF answered GET {path}/count without a valid count.")
        return count

    def get_all(self, path: str, params: Params | None = None) -> list[JsonObject]:
        """GET every item of a list and return the concatenated ``results``.

        The count comes first, so that a server that returns fewer items per
        page than asked cannot make a partial listing look complete.  More
        items than counted is fine (rows added meanwhile); fewer is read once
        more and then an error.
        """
        listed = expected = 0
        for _ in range(2):
            expected = self.count(path, params)
            items, listed = self._list(path, params, expected)
            if listed >= expected:
                return items
            logger.debug(
                "DPF listed %d of the %d items of %s it counted; reading it again.",
                listed,
                expected,
                path,
            )
        raise DpfProtocolError(
            f"DPF listed {listed} of the {expected} items that {path}/count reports, "
            "twice in a row; the listing is incomplete, so nothing is changed on the "
            "strength of it. Try again later."
        )

    def _list(
        self, path: str, params: Params | None, expected: int
    ) -> tuple[list[JsonObject], int]:
        items: list[JsonObject] = []
        listed = 0
        # Each non-empty page adds at least one item, so this ends.
        while listed < expected:
            page_params: Params = dict(params or {})
            page_params.update({"offset": listed, "limit": PAGE_LIMIT})
            results = self.get(path, page_params).get("results")
            if not isinstance(results, list):
                raise DpfProtocolError(f"DPF answered GET {path} without a 'results' list.")
            if not results:
                break
            listed += len(results)
            items.extend(r for r in results if isinstance(r, dict))
        return items, listed

    # -- writes ------------------------------------------------------------

    def write(self, method: str, path: str, body: JsonObject | None = None) -> str:
        """Send an asynchronous write and return its job id (the ``request_id``).

        Raises :class:`WriteOutcomeUnknown` when the answer was lost after DPF
        may have processed the write, and :class:`DpfTransportError` when DPF
        certainly did not (it stayed busy, or could not be reached).
        """
        answer = self._request(method.upper(), path, body=body)
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
        # urllib3 retries a request only until the head of the answer is in;
        # a read whose body breaks off is sent again here.
        rereads = self._retries if method in READ_METHODS else 0
        for attempt in itertools.count():
            self.deadline.check(operation)
            try:
                response = self._send(method, url, params, data)
            except _OutOfTime as exc:
                raise self.deadline.error(operation, exc.reason) from None
            except requests.exceptions.RequestException as exc:
                if attempt < rereads and _broke_in_body(exc):
                    self._pause_before_reread(operation, attempt, _describe(_root_cause(exc)))
                    continue
                raise self._failure(method, operation, exc) from None
            except ValueError as exc:
                # http.client rejects malformed header values with the value in
                # the message; never let that reach a log.
                raise DpfError(
                    f"Could not send {operation}: {self._auth.redact(str(exc))[:200]}"
                ) from None
            short = _cut_short(response)
            if not short:
                break
            if attempt < rereads:
                self._pause_before_reread(operation, attempt, short)
                continue
            if method not in READ_METHODS:
                raise WriteOutcomeUnknown(operation, short)
            raise DpfTransportError(
                f"DPF's answers to {operation} kept breaking off ({short}), also after "
                f"{rereads} retries. Check your network and any proxy between this host and "
                f"{self.endpoint}."
            )
        return self._read(response, method, operation)

    def _send(
        self, method: str, url: str, params: Params | None, data: str | None
    ) -> requests.Response:
        connect, read = self._timeouts
        # requests passes a urllib3 Timeout through untouched; its stubs only
        # know numbers and tuples.
        timeout = cast(Any, _DeadlineTimeout(connect, read, self.deadline))
        return self._session.request(
            method,
            url,
            params=params,
            data=data,
            timeout=timeout,
            allow_redirects=False,
        )

    def _pause_before_reread(self, operation: str, attempt: int, cause: str) -> None:
        logger.debug("DPF's answer to %s broke off (%s); reading it again.", operation, cause)
        # The same backoff as urllib3's: none before the first retry, then doubling.
        wait = 0.0 if attempt == 0 else min(_BACKOFF_FACTOR * 2**attempt, _BACKOFF_MAX)
        try:
            self._pacer.sleep_within_budget(wait, f"the next retry is due in {wait:.1f} seconds")
        except _OutOfTime as exc:
            raise self.deadline.error(operation, exc.reason) from None

    def _failure(self, method: str, operation: str, exc: BaseException) -> DpfError:
        root = _root_cause(exc)
        connect_failed = isinstance(root, ConnectTimeoutError)
        if method not in READ_METHODS and not connect_failed and not _certificate_error(root):
            if isinstance(root, ReadTimeoutError):
                cause = "no answer before the read timeout"
            elif isinstance(root, ProtocolError):
                cause = f"the connection broke after the request was sent: {_describe(root)}"
            else:
                cause = _describe(root)
            return WriteOutcomeUnknown(operation, self._auth.redact(cause))
        if isinstance(root, (ReadTimeoutError, ConnectTimeoutError)) and self.deadline.expired():
            # The timeout was cut short by the run's budget, not by DPF's pace.
            return self.deadline.error(operation)
        if isinstance(root, ReadTimeoutError):
            return DpfTransportError(
                f"DPF did not answer {operation} within {self._timeouts[1]:g} seconds "
                f"(endpoint {self.endpoint})."
            )
        if isinstance(root, ProtocolError):
            return DpfTransportError(
                f"The connection to the DPF API at {self.endpoint} broke during {operation} "
                f"({self._auth.redact(_describe(root))}), also after {self._retries} retries. "
                "Check your network and any proxy settings (HTTPS_PROXY)."
            )
        if connect_failed and not isinstance(root, NewConnectionError):
            return DpfTransportError(
                f"Could not connect to the DPF API at {self.endpoint} within "
                f"{self._timeouts[0]:g} seconds. Check the endpoint, your network and any "
                "proxy settings (HTTPS_PROXY)."
            )
        return DpfTransportError(
            f"Could not reach the DPF API at {self.endpoint} "
            f"({self._auth.redact(_describe(root))}). "
            "Check the endpoint, your network and any proxy settings (HTTPS_PROXY)."
        )

    def _read(self, response: requests.Response, method: str, operation: str) -> JsonObject:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        if 300 <= status < 400:
            raise DpfProtocolError(
                f"DPF answered {operation} with a redirect (HTTP {status}"
                f"{_location(response)}), which is not followed so that the token only goes "
                f"to the configured endpoint {self.endpoint}. Check the endpoint URL."
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        error_type = str(body.get("error_type", "")) if isinstance(body, dict) else ""
        described = f"HTTP {status}" + (f" {error_type}" if error_type else "")
        if status in _NOT_PROCESSED_STATUSES:
            asked = response.headers.get("Retry-After")
            wait = parse_retry_after(asked) if asked is not None else None
            if wait:
                self._pacer.defer(wait)
            raise DpfTransportError(
                f"DPF kept answering {operation} with {described} after {self._retries} "
                "retries; it is rate limiting or busy and did not process the request. "
                "Try again later."
            )
        if method not in READ_METHODS and status >= 500:
            raise WriteOutcomeUnknown(operation, described)
        if body is None:
            raise DpfProtocolError(
                f"DPF answered {operation} with HTTP {status} and a body that "
                f"is not JSON (Content-Type {content_type or 'unset'}); a proxy or gateway "
                "between this host and DPF may have answered instead."
            )
        if not isinstance(body, dict):
            raise DpfProtocolError(f"DPF answered {operation} with JSON that is not an object.")
        if status >= 400:
            raise _api_error(status, body, operation)
        return body


def _broke_in_body(exc: requests.exceptions.RequestException) -> bool:
    """Whether the connection broke, or stalled, after the head of the answer was in."""
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return True
    # requests wraps a timeout while it reads the body directly; one while
    # urllib3 waits for the head comes wrapped in MaxRetryError.
    return isinstance(exc, requests.exceptions.ConnectionError) and bool(
        exc.args and isinstance(exc.args[0], ReadTimeoutError)
    )


def _cut_short(response: requests.Response) -> str:
    """Why a body is shorter than its Content-Length says, or "" if it is complete.

    urllib3 1.x hands a cut-off body over without an error.
    """
    declared = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if not declared.isdigit() or encoding != "identity":
        return ""
    got = len(response.content)
    if got >= int(declared):
        return ""
    return f"the answer broke off after {got} of {declared} bytes"


def _location(response: requests.Response) -> str:
    location = response.headers.get("Location")
    if not location:
        return ""
    parts = urlsplit(location)
    # Only where it points, not any query or credentials it carries.
    where = f"{parts.scheme}://{parts.hostname}{parts.path}" if parts.hostname else parts.path
    return f" to {where[:200]}"


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
        str(body.get("block_id", "") or ""),
    )


def _root_cause(exc: BaseException) -> BaseException:
    """The urllib3 error under requests' and urllib3's wrappers."""
    inner = exc
    for _ in range(10):
        if isinstance(inner, MaxRetryError) and inner.reason is not None:
            inner = inner.reason
        elif isinstance(inner, _Urllib3ProxyError) and inner.original_error is not None:
            inner = inner.original_error
        elif (
            isinstance(inner, requests.exceptions.RequestException)
            and inner.args
            and isinstance(inner.args[0], BaseException)
        ):
            inner = inner.args[0]
        else:
            break
    return inner


def _certificate_error(exc: BaseException) -> bool:
    # A certificate is checked during the handshake, before any request byte.
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        nested = [a for a in getattr(seen, "args", ()) if isinstance(a, BaseException)]
        seen = nested[0] if nested else seen.__cause__
    return False


def _describe(exc: BaseException) -> str:
    """A short description of a transport failure that never includes headers."""
    inner: BaseException = exc
    if isinstance(exc, ProtocolError):
        nested = [a for a in exc.args if isinstance(a, BaseException)]
        if nested:
            inner = nested[0]
    name = type(inner).__name__
    text = str(inner)
    # urllib3 messages name the pool and URL, never the headers; keep them short.
    return f"{name}: {text[:200]}" if text else name
