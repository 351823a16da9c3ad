"""Errors raised by the DPF client and the record logic.

Every message is written for the operator reading certbot's output: it says
what went wrong and what to change.  No message ever contains the API token.
"""

from __future__ import annotations

from dataclasses import dataclass


class DpfError(Exception):
    """Base class for every error this plugin reports about DPF."""


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of DPF's ``error_details`` list."""

    code: str
    attribute: str
    target: str = ""

    def __str__(self) -> str:
        text = f"{self.code}/{self.attribute}"
        return f"{text} ({self.target})" if self.target else text


class DpfApiError(DpfError):
    """DPF answered a request with an error body.

    ``status`` is the HTTP status; ``error_type``, ``error_message`` and
    ``details`` are DPF's own fields, kept so that callers can tell a bad token
    (400 ``invalid``/``access_token``) from an unknown zone or a rejected edit.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        error_message: str,
        details: tuple[ErrorDetail, ...] = (),
        request_id: str = "",
        operation: str = "",
        block_id: str = "",
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.error_message = error_message
        self.details = details
        self.request_id = request_id
        self.operation = operation
        self.block_id = block_id
        super().__init__(self._describe())

    def has_detail(self, code: str, attribute: str) -> bool:
        return any(d.code == code and d.attribute == attribute for d in self.details)

    @property
    def is_token_rejected(self) -> bool:
        return self.status == 400 and self.has_detail("invalid", "access_token")

    def _describe(self) -> str:
        parts = [f"DPF API error: HTTP {self.status} {self.error_type}: {self.error_message}"]
        if self.details:
            parts.append(" [" + ", ".join(str(d) for d in self.details) + "]")
        if self.operation:
            parts.append(f" (request: {self.operation}")
            parts.append(f", request_id {self.request_id})" if self.request_id else ")")
        if self.block_id:
            # DPF's security filter (406) names the block; only IIJ can look it up.
            parts.append(
                f"; DPF's security filter blocked the request with block_id {self.block_id}: "
                f"quote block_id {self.block_id} to IIJ support if it should not have been"
            )
        return "".join(parts)


class DpfTransportError(DpfError):
    """The API could not be reached, or did not answer in time, after retries."""


class WriteOutcomeUnknown(DpfError):
    """A write's answer was lost after DPF may have processed it.

    A 5xx answer other than 503, a read timeout, or a connection reset or
    closed after the request went out: DPF may have accepted the write, so it
    is not sent again; the caller has to re-read the zone to learn whether it
    happened.  ``operation`` is the request, e.g. ``POST /zones/x/records``.
    """

    def __init__(self, operation: str, cause: str) -> None:
        self.operation = operation
        self.cause = cause
        super().__init__(
            f"The answer to {operation} was lost ({cause}); DPF may or may not have "
            "processed it, so it is not sent again."
        )


class RunTimeoutError(DpfError):
    """The run's time budget ran out (or would run out) while waiting for something."""

    def __init__(
        self,
        waiting_for: str,
        seconds: float,
        *,
        option: str = "--dns-iijdpf-timeout-seconds",
        reason: str = "",
    ) -> None:
        self.waiting_for = waiting_for
        self.seconds = seconds
        self.option = option
        self.reason = reason
        budget = f"The run's time budget of {seconds:.0f} seconds ({option})"
        if reason:
            text = f"{budget} does not leave enough time for {waiting_for}: {reason}"
        else:
            text = f"{budget} ran out while waiting for {waiting_for}"
        super().__init__(f"{text}; raise {option} if DPF is this slow.")


class DpfProtocolError(DpfError):
    """DPF (or something in front of it) answered with a body this client cannot read."""


class DpfJobError(DpfError):
    """An asynchronous DPF job FAILED, or did not finish within the time allowed."""

    def __init__(self, message: str, *, still_running: bool = False) -> None:
        #: True when the job had not ended: its write may still land later.
        self.still_running = still_running
        super().__init__(message)


class ZoneNotFoundError(DpfError):
    """No zone visible to the token contains the name."""


class PendingEditsError(DpfError):
    """The zone holds staged edits that this plugin did not make, so it will not apply."""


class PropagationError(DpfError):
    """Some nameserver still did not serve the challenge when the wait ran out."""
