"""DPF error answers.

State code raises :class:`ApiError`; the HTTP layer turns it into the body
``{"request_id", "error_type", "error_message"[, "error_details"]}``.
:func:`param_error` builds the common 400 ParameterError with one detail, e.g.
``param_error("not_found", "zone")``.
"""

from __future__ import annotations

import uuid
from typing import Any

PARAMETER_ERROR_MESSAGE = "There are invalid parameters."
JSON_PARSE_ERROR_MESSAGE = "JSON parse error occurred."

# Bodies the real service documents per status; 502 is not in the table, so it
# reuses the naming pattern of the others.
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    404: ("NotFound", "Specified resource not found."),
    429: ("TooManyRequests", "Too many requests."),
    500: ("SystemError", "System error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "Service unavailable."),
    504: ("GatewayTimeout", "Gateway timeout."),
}
SYSTEM_BUSY = ("SystemBusy", "The system is busy, Please try again later.")


def new_request_id() -> str:
    return uuid.uuid4().hex


class ApiError(Exception):
    """An error answer; ``details`` is None when the body has no error_details."""

    def __init__(
        self,
        status: int,
        error_type: str,
        error_message: str,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{status} {error_type}: {error_message} {details or ''}".strip())
        self.status = status
        self.error_type = error_type
        self.error_message = error_message
        self.details = details

    def body(self, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "request_id": request_id,
            "error_type": self.error_type,
            "error_message": self.error_message,
        }
        if self.details is not None:
            body["error_details"] = self.details
        return body


def param_error(code: str, attribute: str) -> ApiError:
    return ApiError(
        400, "ParameterError", PARAMETER_ERROR_MESSAGE, [{"code": code, "attribute": attribute}]
    )


def json_parse_error() -> ApiError:
    return ApiError(400, "ParameterError", JSON_PARSE_ERROR_MESSAGE)


def status_error(status: int, error_type: str | None = None) -> ApiError:
    """The documented body for a non-400 status (404, 429, 5xx)."""
    default_type, message = STATUS_ERRORS.get(status, ("SystemError", "System error occurred."))
    if error_type == SYSTEM_BUSY[0]:
        return ApiError(status, *SYSTEM_BUSY)
    return ApiError(status, error_type or default_type, message)


def bad_token() -> ApiError:
    return param_error("invalid", "access_token")
