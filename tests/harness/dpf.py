"""What the end-to-end tests and the benchmark share about DPF and its two clients.

The emulator's nameservers and resolver sit at fixed loopback addresses inside
``scripts/in-netns``; both clients (this plugin and certbot-dns-multi, lego's
``iijdpf`` provider) read their settings from a certbot INI file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.dpf_emulator import NameserverSpec

from .files import write_ini
from .paths import VENVS

if TYPE_CHECKING:
    from tests.dpf_emulator import Emulator

# (hostname, address) of the emulator's two nameservers, in NS order.
NAMESERVER_HOSTS = (
    ("ns1.dpf-emulator.test.", "127.0.0.53"),
    ("ns2.dpf-emulator.test.", "127.0.0.54"),
)
# Where /etc/resolv.conf points inside scripts/in-netns; the emulator answers there.
RESOLVER = ("127.0.0.1", 53)
# Pebble's VA asks the last (in the tests' defaults, the slowest) nameserver, so a
# client that goes on before every nameserver serves the record fails validation.
PEBBLE_DNS = f"{NAMESERVER_HOSTS[-1][1]}:53"

# The emulator's zone and token unless a test sets its own.
ZONE = "example.com."
SERVICE_CODE = "dpm00000001"
TOKEN = "test-token"
# Where the DNS-01 challenge of the zone's apex (and of its wildcard) is written.
CHALLENGE_NAME = f"_acme-challenge.{ZONE}"

MAIN_CERTBOT = VENVS / "main" / "bin" / "certbot"
DNS_MULTI_CERTBOT = VENVS / "dns-multi" / "bin" / "certbot"


def nameservers(*lags: float) -> list[NameserverSpec]:
    """The emulator's nameservers, the n-th lagging ``lags[n]`` seconds behind an apply."""
    if len(lags) != len(NAMESERVER_HOSTS):
        raise ValueError(f"give one lag per nameserver ({len(NAMESERVER_HOSTS)})")
    return [
        NameserverSpec(hostname, address, 53, lag=lag)
        for (hostname, address), lag in zip(NAMESERVER_HOSTS, lags)
    ]


def domain_args(domains: Sequence[str]) -> list[str]:
    """``-d NAME`` for each name, in order."""
    return [arg for domain in domains for arg in ("-d", domain)]


def plugin_credentials(path: Path, api_url: str, token: str, **options: object) -> Path:
    """This plugin's INI: token, endpoint and any ``dns_iijdpf_<option>``."""
    values: dict[str, object] = {"dns_iijdpf_api_token": token, "dns_iijdpf_endpoint": api_url}
    values.update({f"dns_iijdpf_{key}": value for key, value in options.items()})
    return write_ini(path, values)


def dns_multi_credentials(path: Path, api_url: str, token: str, service_code: str) -> Path:
    """certbot-dns-multi's INI for lego's ``iijdpf`` provider (one service code per run)."""
    return write_ini(
        path,
        {
            "dns_multi_provider": "iijdpf",
            "IIJ_DPF_API_TOKEN": token,
            "IIJ_DPF_DPM_SERVICE_CODE": service_code,
            "IIJ_DPF_API_ENDPOINT": api_url,
        },
    )


def challenge_rows(emulator: Emulator, zone: str) -> list[dict[str, Any]]:
    """The zone's ``_acme-challenge`` rows (what a clean run leaves none of)."""
    return [r for r in emulator.records(zone) if str(r["name"]).startswith("_acme-challenge")]
