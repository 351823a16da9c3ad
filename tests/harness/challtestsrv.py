"""``pebble-challtestsrv`` as a DNS server whose TXT records are set over HTTP.

It lets the harness be tested without the DPF emulator. Its ``/clear-txt``
drops every value at a name, so it cannot model "delete only my value"; tests
of cleanup semantics belong with the emulator.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from .process import ManagedProcess, port_open

CHALLTESTSRV_BIN = "/usr/bin/pebble-challtestsrv"
# Its DNS server (what Pebble asks when this stands in for DPF) and its HTTP API.
CHALLTESTSRV_DNS = "127.0.0.1:8053"
CHALLTESTSRV_MANAGEMENT = "127.0.0.1:8055"


class ChallTestSrv(ManagedProcess):
    """Serve DNS on ``dns_address`` (UDP and TCP) with only the DNS-01 responder on."""

    name = "pebble-challtestsrv"

    def __init__(
        self,
        *,
        dns_address: str = CHALLTESTSRV_DNS,
        management: str = CHALLTESTSRV_MANAGEMENT,
        workdir: Path | None = None,
        executable: str = CHALLTESTSRV_BIN,
        startup_timeout: float = 10.0,
    ) -> None:
        workdir = self.workdir_or_temporary(workdir, "challtestsrv-")
        self.workdir = workdir
        self.dns_address = dns_address
        self.management = management
        self.startup_timeout = startup_timeout
        argv = [
            executable,
            "-dns01", dns_address,
            "-management", management,
            # Empty values switch the other responders off, so nothing else
            # competes for ports 5001-5003.
            "-http01", "",
            "-https01", "",
            "-tlsalpn01", "",
            "-defaultIPv6", "",
        ]  # fmt: skip
        super().__init__(argv, log_path=workdir / "challtestsrv.log", cwd=workdir)

    @property
    def management_url(self) -> str:
        return f"http://{self.management}"

    def start(self) -> ChallTestSrv:
        self.spawn()
        self.wait_until(
            lambda: port_open(self.management) and port_open(self.dns_address),
            timeout=self.startup_timeout,
            what=f"listening on {self.management} and {self.dns_address}",
        )
        return self

    def write_manual_hooks(self, directory: Path) -> tuple[Path, Path]:
        """Write auth and cleanup hooks for ``certbot --manual`` that use this server.

        The hooks run under the interpreter running the tests, so they need
        nothing that a bare CI machine lacks (no curl).
        """
        directory.mkdir(parents=True, exist_ok=True)
        auth = directory / "challtestsrv-auth-hook"
        cleanup = directory / "challtestsrv-cleanup-hook"
        _write_hook(auth, self.management_url, "/set-txt", with_value=True)
        _write_hook(cleanup, self.management_url, "/clear-txt", with_value=False)
        return auth, cleanup


_HOOK_TEMPLATE = """#!{python}
import json
import os
import urllib.request

domain = os.environ["CERTBOT_DOMAIN"].rstrip(".")
if domain.startswith("*."):
    domain = domain[2:]
host = "_acme-challenge." + domain + "."
payload = {{"host": host}}
if {with_value!r}:
    payload["value"] = os.environ["CERTBOT_VALIDATION"]
request = urllib.request.Request(
    {url!r},
    data=json.dumps(payload).encode(),
    headers={{"Content-Type": "application/json"}},
    method="POST",
)
urllib.request.urlopen(request, timeout=5).read()
"""


def _write_hook(path: Path, base_url: str, endpoint: str, *, with_value: bool) -> None:
    path.write_text(
        _HOOK_TEMPLATE.format(python=sys.executable, url=base_url + endpoint, with_value=with_value)
    )
    os.chmod(path, stat.S_IRWXU)
