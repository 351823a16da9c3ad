"""nginx and Apache httpd instances on loopback for the operator-workflow tests.

Each instance lives in a directory of its own: configuration, pid file, logs,
runtime and temporary files. The system's /etc/nginx and /etc/apache2 are
never read or written and no system service is touched, so the tests can run
on a machine whose own nginx or Apache is serving.

The server runs in the foreground under :class:`ManagedProcess` (stopped for
sure at teardown); reloads go through the shipped deploy hooks, which find the
instance by its configuration file (``NGINX_CONF`` / ``APACHE_CONF``) and its
pid file named there. :meth:`WebServer.hook_env` is the environment for them.
"""

from __future__ import annotations

import grp
import pwd
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509

from tests.harness import REPO_ROOT, HarnessError, make_pki, write_executable
from tests.harness.process import ManagedProcess, port_open
from tests.harness.waiting import poll_until

HOOKS_DIR = REPO_ROOT / "contrib" / "renewal-hooks" / "deploy"
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
SERVER_NAME = "example.com"

# Where distributions keep Apache's loadable modules (Debian, then RHEL).
APACHE_MODULE_DIRS = (
    "/usr/lib/apache2/modules",
    "/usr/lib64/httpd/modules",
    "/usr/lib/httpd/modules",
)


def find_program(*names: str) -> str:
    for name in names:
        found = shutil.which(name, path=SBIN_PATH)
        if found:
            return found
    raise HarnessError(
        f"none of {', '.join(names)} is installed; scripts/bootstrap installs nginx and apache2"
    )


def served_certificate(
    port: int, host: str = "127.0.0.1", server_name: str = SERVER_NAME, timeout: float = 5.0
) -> x509.Certificate:
    """The leaf certificate a TLS server on ``host:port`` presents (nothing is verified)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection((host, port), timeout=timeout)
    with sock, context.wrap_socket(sock, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise HarnessError(f"{host}:{port} presented no certificate")
    return x509.load_der_x509_certificate(der)


def served_serial(port: int, host: str = "127.0.0.1") -> int:
    return served_certificate(port, host).serial_number


class WebServer(ManagedProcess):
    """A TLS server for ``example.com`` on ``127.0.0.1:port``, reloaded by a deploy hook.

    It starts with a placeholder certificate of its own (like a distribution's
    "snakeoil" certificate); :meth:`use_certificate` points the configuration
    at a certbot lineage, as an operator does once the first certificate exists.
    """

    kind = "web server"
    hook_name = ""
    # A line the server writes to its error log each time it reloads.
    reload_pattern: re.Pattern[str] = re.compile(r"(?!)")

    def __init__(self, workdir: Path, port: int, argv: list[str]) -> None:
        self.workdir = workdir
        self.port = port
        self.conf_path = workdir / "server.conf"
        self.pid_path = workdir / "server.pid"
        self.error_log = workdir / "error.log"
        placeholder = make_pki(workdir / "placeholder", dns_names=(SERVER_NAME,), ip_addresses=())
        self.placeholder_serial = placeholder.server_certificate().serial_number
        self.cert_path = placeholder.cert_pem
        self.key_path = placeholder.key_pem
        super().__init__(argv, log_path=workdir / "console.log", cwd=workdir)

    # -- configuration ------------------------------------------------------------

    def render(self) -> str:
        raise NotImplementedError

    def write_config(self) -> None:
        self.conf_path.write_text(self.render())

    def use_certificate(self, live_dir: Path) -> None:
        """Serve ``live_dir``'s fullchain.pem and privkey.pem (after the next reload)."""
        self.cert_path = live_dir / "fullchain.pem"
        self.key_path = live_dir / "privkey.pem"
        self.write_config()

    def hook_env(self) -> dict[str, str]:
        """Environment that points the shipped deploy hook at this instance."""
        raise NotImplementedError

    @property
    def hook(self) -> Path:
        return HOOKS_DIR / self.hook_name

    def run_hook(self, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the deploy hook by hand, as an operator does after editing the configuration."""
        full = {"PATH": SBIN_PATH, **self.hook_env(), **(env or {})}
        return subprocess.run(
            [str(self.hook)],
            env=full,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> WebServer:
        for sub in ("run", "tmp"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.spawn()
        self.wait_until(self._serving, timeout=20, what=f"serving TLS on 127.0.0.1:{self.port}")
        return self

    def _serving(self) -> bool:
        if not port_open(f"127.0.0.1:{self.port}"):
            return False
        try:
            served_serial(self.port)
        except (OSError, ssl.SSLError):
            return False
        return True

    # -- observations ---------------------------------------------------------------

    def error_log_text(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def logs(self) -> str:
        return (
            f"--- console ({self.log_path}) ---\n{self.log_text()}\n"
            f"--- error log ({self.error_log}) ---\n{self.error_log_text()}\n"
            f"--- configuration ({self.conf_path}) ---\n"
            + (self.conf_path.read_text() if self.conf_path.exists() else "")
        )

    def reloads(self) -> int:
        """How many reloads the server has logged so far."""
        return len(self.reload_pattern.findall(self.error_log_text()))

    def wait_for_reloads(self, count: int, timeout: float = 10.0) -> int:
        """Wait until at least ``count`` reloads are logged; return the number seen."""
        poll_until(lambda: self.reloads() >= count, timeout, interval=0.1)
        return self.reloads()

    def serial(self) -> int:
        """Serial of the certificate served now."""
        return served_serial(self.port)

    def _serial_or_none(self) -> int | None:
        try:
            return self.serial()
        except (OSError, ssl.SSLError):
            return None

    def wait_for_serial(self, expected: int, timeout: float = 15.0) -> int | None:
        """Poll until ``expected`` is served; return the last serial seen (None: no answer).

        A reload is asynchronous: the hook returns once the signal is sent, and
        old workers may still take a connection or two.
        """
        poll_until(lambda: self._serial_or_none() == expected, timeout, interval=0.1)
        return self._serial_or_none()


class NginxServer(WebServer):
    kind = "nginx"
    hook_name = "reload-nginx"
    # "signal 1 (SIGHUP) received from 123, reconfiguring"
    reload_pattern = re.compile(r"signal 1 \(SIGHUP\) received")

    def __init__(self, workdir: Path, port: int = 8443) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.nginx = find_program("nginx")
        # nginx opens its compiled-in error log (/var/log/nginx/error.log)
        # before it reads the configuration, on every start, test and signal;
        # -e sends that to the instance's own log. The wrapper is what the hook
        # gets as NGINX_BIN, so its commands do the same.
        self.wrapper = workdir / "bin" / "nginx"
        super().__init__(workdir, port, [str(self.wrapper), "-c", str(workdir / "server.conf")])
        write_executable(self.wrapper, f'#!/bin/sh\nexec {self.nginx} -e {self.error_log} "$@"\n')

    def render(self) -> str:
        tmp = self.workdir / "tmp"
        temp_paths = "".join(
            f"    {kind}_temp_path {tmp / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            "daemon off;\n"
            "master_process on;\n"
            "worker_processes 1;\n"
            f"pid {self.pid_path};\n"
            f"error_log {self.error_log} notice;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"    access_log {self.workdir / 'access.log'};\n"
            f"{temp_paths}"
            "    server {\n"
            f"        listen 127.0.0.1:{self.port} ssl;\n"
            f"        server_name {SERVER_NAME} *.{SERVER_NAME};\n"
            f"        ssl_certificate {self.cert_path};\n"
            f"        ssl_certificate_key {self.key_path};\n"
            '        location / { return 200 "ok\\n"; }\n'
            "    }\n"
            "}\n"
        )

    def hook_env(self) -> dict[str, str]:
        return {
            "NGINX_BIN": str(self.wrapper),
            "NGINX_CONF": str(self.conf_path),
            # Never the host's systemd, even if the hook's rule for NGINX_CONF broke.
            "SYSTEMCTL": str(self.workdir / "no-systemctl"),
        }


class ApacheServer(WebServer):
    kind = "httpd"
    hook_name = "reload-httpd"
    # "AH00493: SIGUSR1 received.  Doing graceful restart"
    reload_pattern = re.compile(r"SIGUSR1 received")

    def __init__(self, workdir: Path, port: int = 9443) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.httpd = find_program("apache2", "httpd")
        self.apachectl = find_program("apache2ctl", "apachectl")
        self.module_dir = next(
            (Path(d) for d in APACHE_MODULE_DIRS if (Path(d) / "mod_ssl.so").is_file()), None
        )
        if self.module_dir is None:
            raise HarnessError(f"mod_ssl.so is in none of {APACHE_MODULE_DIRS}")
        super().__init__(
            workdir, port, [self.httpd, "-f", str(workdir / "server.conf"), "-DFOREGROUND"]
        )

    @staticmethod
    def _unprivileged_user() -> str:
        # httpd refuses to serve as root; its children switch to this user.
        for name in ("www-data", "apache", "daemon", "nobody"):
            try:
                pwd.getpwnam(name)
            except KeyError:
                continue
            return name
        raise HarnessError("no unprivileged user for httpd's children")

    def render(self) -> str:
        user = self._unprivileged_user()
        run = self.workdir / "run"
        modules = "".join(
            f"LoadModule {name}_module {self.module_dir}/mod_{name}.so\n"
            for name in ("mpm_event", "authz_core", "socache_shmcb", "ssl")
        )
        return (
            f'ServerRoot "{self.workdir}"\n'
            f"ServerName localhost\n"
            f'DefaultRuntimeDir "{run}"\n'
            f'PidFile "{self.pid_path}"\n'
            f'ErrorLog "{self.error_log}"\n'
            "LogLevel notice\n"
            f"{modules}"
            f"User {user}\n"
            f"Group {grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name}\n"
            f"Listen 127.0.0.1:{self.port}\n"
            f'SSLSessionCache "shmcb:{run}/ssl_scache(512000)"\n'
            f"<VirtualHost 127.0.0.1:{self.port}>\n"
            f"    ServerName {SERVER_NAME}\n"
            f"    ServerAlias *.{SERVER_NAME}\n"
            "    SSLEngine on\n"
            f'    SSLCertificateFile "{self.cert_path}"\n'
            f'    SSLCertificateKeyFile "{self.key_path}"\n'
            "</VirtualHost>\n"
        )

    def start(self) -> ApacheServer:
        # Debian's apache2ctl reads /etc/apache2/envvars and creates its run
        # and lock directories under /run unless told otherwise: an empty
        # envvars file of our own and existing directories here keep it away
        # from the system's.
        (self.workdir / "envvars").write_text("")
        for sub in ("run/socks", "lock"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        super().start()
        return self

    def hook_env(self) -> dict[str, str]:
        return {
            "APACHECTL": self.apachectl,
            "APACHE_CONF": str(self.conf_path),
            "SYSTEMCTL": str(self.workdir / "no-systemctl"),
            # Read by Debian's apache2ctl only.
            "APACHE_ENVVARS": str(self.workdir / "envvars"),
            "APACHE_RUN_DIR": str(self.workdir / "run"),
            "APACHE_LOCK_DIR": str(self.workdir / "lock"),
            "APACHE_LOG_DIR": str(self.workdir),
            "APACHE_HTTPD": self.httpd,
        }


def make_server(kind: str, workdir: Path) -> WebServer:
    """A stopped :class:`NginxServer` (``"nginx"``) or :class:`ApacheServer` (``"httpd"``)."""
    if kind == "nginx":
        return NginxServer(workdir)
    if kind == "httpd":
        return ApacheServer(workdir)
    raise ValueError(f"unknown web server kind {kind!r}")
