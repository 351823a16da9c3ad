"""The plugin's settings: from the credentials INI file, or from lego's environment variables.

INI keys (all prefixed ``dns_iijdpf_``, as certbot namespaces them):

``api_token`` (required)
    IIJ ID access token with the ``dpf_read`` and ``dpf_write`` scopes.
``endpoint``
    API base URL, default ``https://api.dns-platform.jp/dpf/v1``.
``ttl``
    TTL of the challenge TXT records the plugin creates, default 60.
``service_codes``
    Optional: only use the zones of these DPM service codes (comma separated).

Without a credentials file, ``IIJ_DPF_API_TOKEN``, ``IIJ_DPF_DPM_SERVICE_CODE``
and ``IIJ_DPF_API_ENDPOINT`` (lego's names) are read from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from certbot_dns_iijdpf._internal.endpoint import DEFAULT_ENDPOINT, validate_endpoint
from certbot_dns_iijdpf._internal.errors import DpfError

DEFAULT_TTL = 60
ENV_TOKEN = "IIJ_DPF_API_TOKEN"
ENV_SERVICE_CODE = "IIJ_DPF_DPM_SERVICE_CODE"
ENV_ENDPOINT = "IIJ_DPF_API_ENDPOINT"

# A bearer token is visible ASCII; anything else (a stray newline, a space, a
# full-width character pasted from a web page) would break the HTTP header, and
# requests would then quote the header value, token included, in its error.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_SERVICE_CODE = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Settings:
    """Validated settings for one run."""

    token: str = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    ttl: int = DEFAULT_TTL
    service_codes: frozenset[str] | None = None
    source: str = ""


def from_values(get: Callable[[str], str | None], source: str) -> Settings:
    """Build settings from a lookup of INI keys without their prefix (``api_token``, ...)."""
    token = (get("api_token") or "").strip()
    if not token:
        raise DpfError(f"{source}: dns_iijdpf_api_token is missing or empty.")
    return _build(token, get("endpoint"), get("ttl"), get("service_codes"), source)


def from_environment(environ: Mapping[str, str]) -> Settings | None:
    """Settings from lego's variables, or None when ``IIJ_DPF_API_TOKEN`` is unset."""
    token = environ.get(ENV_TOKEN, "").strip()
    if not token:
        return None
    return _build(
        token,
        environ.get(ENV_ENDPOINT),
        None,
        environ.get(ENV_SERVICE_CODE),
        f"the environment variable {ENV_TOKEN}",
    )


def _build(
    token: str, endpoint: str | None, ttl: str | None, codes: str | None, source: str
) -> Settings:
    if not _TOKEN.fullmatch(token):
        raise DpfError(
            f"{source}: the API token contains spaces or characters that are not printable "
            "ASCII; copy the access token again, without quotes or line breaks."
        )
    try:
        url = validate_endpoint(endpoint) if endpoint and endpoint.strip() else DEFAULT_ENDPOINT
    except DpfError as exc:
        raise DpfError(f"{source}: {exc}") from None
    return Settings(token, url, _ttl(ttl, source), _codes(codes, source), source)


def _ttl(value: str | None, source: str) -> int:
    if value is None or not value.strip():
        return DEFAULT_TTL
    try:
        ttl = int(value)
    except ValueError:
        raise DpfError(f"{source}: dns_iijdpf_ttl must be a whole number of seconds.") from None
    if not 1 <= ttl <= 2147483647:
        raise DpfError(f"{source}: dns_iijdpf_ttl must be between 1 and 2147483647.")
    return ttl


def _codes(value: str | None, source: str) -> frozenset[str] | None:
    if value is None or not value.strip():
        return None
    codes = [c for c in re.split(r"[\s,]+", value.strip()) if c]
    bad = [c for c in codes if not _SERVICE_CODE.fullmatch(c)]
    if bad:
        raise DpfError(
            f"{source}: {', '.join(bad)} is not a DPM service code (like dpm0000000); "
            "separate several codes with commas."
        )
    return frozenset(c.lower() for c in codes)
