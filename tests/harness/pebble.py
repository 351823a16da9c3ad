"""Pebble, the ACME test CA, as a context manager.

Pebble keeps all state in memory and makes a new issuing root on every start,
so each instance gets its own directory, and certbot accounts made against one
instance are useless against the next (see ``CertbotRunner.forget_accounts``).
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509

from .pki import PKI, make_pki
from .process import ManagedProcess, split_hostport

PEBBLE_BIN = "/usr/bin/pebble"

# PEBBLE_AUTHZREUSE=0: by default Pebble hands back an existing valid
# authorization half of the time, and then certbot never calls the DNS plugin,
# which would make a test pass without exercising anything.
# PEBBLE_VA_NOSLEEP=1: otherwise the VA waits up to 15 s before each check.
# PEBBLE_WFE_NONCEREJECT=0: otherwise 5 % of nonces are rejected at random,
# which certbot retries but which makes request counts and timings noisy.
BASE_ENV: Mapping[str, str] = {
    "PEBBLE_VA_NOSLEEP": "1",
    "PEBBLE_WFE_NONCEREJECT": "0",
    "PEBBLE_AUTHZREUSE": "0",
}


class Pebble(ManagedProcess):
    """Run ``pebble -config CFG -dnsserver DNS_SERVER`` until the context exits.

    ``dns_server`` is ``HOST:PORT`` of the DNS server that Pebble's VA asks
    for ``_acme-challenge`` TXT records (2.4.0 asks over UDP).
    """

    name = "pebble"

    def __init__(
        self,
        dns_server: str,
        *,
        workdir: Path | None = None,
        pki: PKI | None = None,
        listen: str = "127.0.0.1:14000",
        management: str = "127.0.0.1:15000",
        validity_seconds: int | None = None,
        http_port: int = 5002,
        tls_port: int = 5001,
        strict: bool = False,
        executable: str = PEBBLE_BIN,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        split_hostport(dns_server)
        self.dns_server = dns_server
        workdir = self.workdir_or_temporary(workdir, "pebble-")
        self.workdir = workdir
        self.pki = pki if pki is not None else make_pki(self.workdir / "pki")
        self.listen = listen
        self.management = management
        self.validity_seconds = validity_seconds
        self.http_port = http_port
        self.tls_port = tls_port
        self.startup_timeout = startup_timeout
        self.config_path = self.workdir / "pebble-config.json"

        full_env = dict(os.environ)
        full_env.update(BASE_ENV)
        if env:
            full_env.update(env)
        argv = [executable, "-config", str(self.config_path), "-dnsserver", dns_server]
        if strict:
            argv.append("-strict")
        super().__init__(argv, log_path=self.workdir / "pebble.log", cwd=self.workdir, env=full_env)

    # -- addresses -----------------------------------------------------------------

    @staticmethod
    def _url_host(address: str) -> str:
        host, port = split_hostport(address)
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"{host}:{port}"

    @property
    def directory_url(self) -> str:
        return f"https://{self._url_host(self.listen)}/dir"

    @property
    def management_url(self) -> str:
        return f"https://{self._url_host(self.management)}"

    @property
    def ca_bundle(self) -> Path:
        """CA that signed the TLS certificate of both listeners (not the ACME issuer)."""
        return self.pki.ca_pem

    # -- lifecycle -----------------------------------------------------------------

    def config(self) -> dict[str, object]:
        settings: dict[str, object] = {
            "listenAddress": self.listen,
            "managementListenAddress": self.management,
            "certificate": str(self.pki.cert_pem),
            "privateKey": str(self.pki.key_pem),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        if self.validity_seconds is not None:
            settings["certificateValidityPeriod"] = self.validity_seconds
        return {"pebble": settings}

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def _get(self, url: str, timeout: float = 5.0) -> bytes:
        with urllib.request.urlopen(url, timeout=timeout, context=self._ssl_context()) as resp:
            body: bytes = resp.read()
            return body

    def _directory_answers(self) -> bool:
        try:
            return b"newOrder" in self._get(self.directory_url, timeout=1.0)
        except (OSError, urllib.error.URLError):
            return False

    def start(self) -> Pebble:
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        self.spawn()
        self.wait_until(
            self._directory_answers,
            timeout=self.startup_timeout,
            what=f"serving {self.directory_url}",
        )
        return self

    # -- management API ------------------------------------------------------------

    def root_pem(self) -> str:
        """PEM of the root that issues this run's certificates (new on every start)."""
        try:
            return self._get(f"{self.management_url}/roots/0").decode()
        except (OSError, urllib.error.URLError) as exc:
            raise self.failure(f"cannot fetch /roots/0: {exc}") from exc

    def root_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.root_pem().encode())
