"""The DPF endpoint setting: its default, and the checks that keep the token safe.

Kept apart from the HTTP client so that certbot, which imports every
installed plugin on every run, loads no HTTP machinery for this one unless
it is used.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from certbot_dns_iijdpf._internal.errors import DpfError

DEFAULT_ENDPOINT = "https://api.dns-platform.jp/dpf/v1"


def validate_endpoint(endpoint: str) -> str:
    """Return the endpoint without a trailing slash, or raise ``DpfError``.

    Plain HTTP is refused except on loopback, so that a typo cannot send the
    token over the network in clear text.  User info, a query string and a
    fragment are refused too: every path is appended to the endpoint, and the
    token is the only credential DPF takes.
    """
    text = endpoint.strip()
    parts = urlsplit(text)
    shown = repr(_shown_endpoint(text))
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise DpfError(
            f"The DPF endpoint {shown} is not an http(s) URL; "
            f"leave it unset to use {DEFAULT_ENDPOINT}."
        )
    # Anywhere, not only in the parsed netloc: a password with a '/' in it
    # would otherwise end the host early and slip through as a path.
    if "@" in text:
        raise DpfError(
            f"The DPF endpoint {shown} contains user info (user:password@ before the host); "
            "remove it: DPF takes only the API token from the credentials file."
        )
    if "?" in text:
        raise DpfError(
            f"The DPF endpoint {shown} contains a query string; remove the '?' and what "
            "follows it, since API paths are appended to the endpoint."
        )
    if "#" in text:
        raise DpfError(
            f"The DPF endpoint {shown} contains a fragment; remove the '#' and what follows it."
        )
    try:
        hostname = parts.hostname
        if parts.port is not None and parts.port == 0:
            hostname = None
    except ValueError:  # a malformed port
        hostname = None
    if not hostname:
        raise DpfError(
            f"The DPF endpoint {shown} has no valid host; leave it unset to use {DEFAULT_ENDPOINT}."
        )
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise DpfError(
            f"The DPF endpoint {shown} uses plain http; the token must only travel "
            "over https (plain http is accepted for loopback addresses only)."
        )
    return text.rstrip("/")


def _shown_endpoint(url: str) -> str:
    """The endpoint as an error message may show it.

    User info, a query and a fragment are cut: any of them may hold a secret
    that was pasted into the wrong setting.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    for mark in "?#":
        head, found, _ = rest.partition(mark)
        if found:
            rest = f"{head}{mark}..."
    return f"{scheme}{sep}{rest}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
