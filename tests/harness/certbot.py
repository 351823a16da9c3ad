"""Run a certbot executable against a :class:`Pebble` in a private directory tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from cryptography import x509

from .paths import REPO_ROOT
from .pebble import Pebble
from .process import HarnessError, tail

DEFAULT_CERTBOT = ".venvs/main/bin/certbot"


def default_certbot() -> Path:
    """``$CERTBOT`` or the dev venv's certbot; a relative path counts from the repo root."""
    configured = os.environ.get("CERTBOT") or DEFAULT_CERTBOT
    path = Path(configured).expanduser()
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


class CertbotRunner:
    """Run certbot with its three directories under ``base_dir`` and Pebble as the CA.

    Every command gets ``--server`` (``renew --dry-run`` would otherwise switch
    to Let's Encrypt staging) and ``REQUESTS_CA_BUNDLE`` pointing at a bundle of
    Pebble's listener CA plus ``extra_cas`` (the variable *replaces* the trust
    store of every requests call in the process, the plugin's included, so any
    other TLS server the plugin talks to must be in the bundle too).
    """

    def __init__(
        self,
        base_dir: Path,
        pebble: Pebble,
        *,
        executable: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        extra_cas: Iterable[Path] = (),
        default_timeout: float = 300.0,
    ) -> None:
        self.base_dir = base_dir
        self.config_dir = base_dir / "conf"
        self.work_dir = base_dir / "work"
        self.logs_dir = base_dir / "logs"
        for directory in (self.config_dir, self.work_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.executable = Path(executable) if executable is not None else default_certbot()
        self.env = dict(env) if env else {}
        self.extra_cas = list(extra_cas)
        self.default_timeout = default_timeout
        self.pebble = pebble

    # -- invocation ----------------------------------------------------------------

    @property
    def ca_bundle(self) -> Path:
        bundle = self.base_dir / "ca-bundle.pem"
        parts = [self.pebble.ca_bundle.read_text()]
        parts += [Path(extra).read_text() for extra in self.extra_cas]
        bundle.write_text("".join(part if part.endswith("\n") else part + "\n" for part in parts))
        return bundle

    def common_args(self) -> list[str]:
        return [
            "--config-dir", str(self.config_dir),
            "--work-dir", str(self.work_dir),
            "--logs-dir", str(self.logs_dir),
            "--server", self.pebble.directory_url,
            "--non-interactive",
            "--agree-tos",
            "--register-unsafely-without-email",
            "--no-random-sleep-on-renew",
        ]  # fmt: skip

    def command(self, args: Sequence[str]) -> list[str]:
        return [str(self.executable), *args, *self.common_args()]

    def environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        full = dict(os.environ)
        full.update(self.env)
        full["REQUESTS_CA_BUNDLE"] = str(self.ca_bundle)
        if env:
            full.update(env)
        return full

    def run(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run certbot; never raises on a non-zero exit (see :meth:`run_ok`)."""
        argv = self.command(args)
        try:
            result = subprocess.run(
                argv,
                env=self.environment(env),
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout if timeout is not None else self.default_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(
                f"certbot timed out after {exc.timeout}s: {' '.join(argv)}\n{self.describe()}"
            ) from exc
        return result

    def run_ok(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run certbot and fail with its output, its log and Pebble's log unless it exits 0."""
        result = self.run(args, env=env, timeout=timeout)
        if result.returncode != 0:
            raise HarnessError(
                f"certbot exited with {result.returncode}: {' '.join(result.args)}\n"
                f"{self.describe(result)}"
            )
        return result

    def describe(self, result: subprocess.CompletedProcess[str] | None = None) -> str:
        parts = []
        if result is not None:
            parts.append(f"--- certbot stdout ---\n{tail(result.stdout)}")
            parts.append(f"--- certbot stderr ---\n{tail(result.stderr)}")
        parts.append(f"--- certbot log ---\n{tail(self.latest_log_text())}")
        parts.append(f"--- pebble log ---\n{tail(self.pebble.log_text())}")
        return "\n".join(parts)

    def use_pebble(self, pebble: Pebble) -> None:
        """Point later runs at another (e.g. restarted) Pebble."""
        self.pebble = pebble
        self.forget_accounts()

    def forget_accounts(self) -> None:
        # Pebble forgets accounts when it stops, but certbot would keep using
        # the saved one and fail with "Account ... not found".
        shutil.rmtree(self.config_dir / "accounts", ignore_errors=True)

    # -- results -------------------------------------------------------------------

    def live_dir(self, name: str) -> Path:
        return self.config_dir / "live" / name

    def live_cert(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.live_dir(name) / "cert.pem").read_bytes())

    def live_chain(self, name: str) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates((self.live_dir(name) / "fullchain.pem").read_bytes())

    def cert_sans(self, name: str) -> set[str]:
        cert = self.live_cert(name)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return {str(value) for value in san.get_values_for_type(x509.DNSName)} | {
            str(value) for value in san.get_values_for_type(x509.IPAddress)
        }

    def renewal_conf_path(self, name: str) -> Path:
        return self.config_dir / "renewal" / f"{name}.conf"

    def renewal_conf(self, name: str) -> str:
        return self.renewal_conf_path(name).read_text()

    def log_files(self) -> list[Path]:
        if not self.logs_dir.is_dir():
            return []
        return sorted(
            (path for path in self.logs_dir.rglob("*") if path.is_file()),
            key=lambda path: (path.stat().st_mtime, path.name),
        )

    def logs_text(self) -> str:
        """Every file under the logs dir, oldest first, each under a header line."""
        return "".join(
            f"===== {path.relative_to(self.logs_dir)} =====\n{path.read_text(errors='replace')}\n"
            for path in self.log_files()
        )

    def latest_log_text(self) -> str:
        current = self.logs_dir / "letsencrypt.log"
        if current.is_file():
            return current.read_text(errors="replace")
        files = self.log_files()
        return files[-1].read_text(errors="replace") if files else ""
