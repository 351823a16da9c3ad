"""certbot's lineages as its renewal configurations describe them, and their certificates.

A renewal configuration (``DIR/renewal/NAME.conf``, configobj's INI) names
the lineage's files at its top level (``cert = DIR/live/NAME/cert.pem`` and
the rest) and, under ``[renewalparams]``, how to renew it: ``authenticator =
dns-iijdpf`` and ``dns_iijdpf_credentials = /path``.  What certbot itself
would skip as broken is reported as such, naming the file.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from certbot_dns_iijdpf._internal.health.model import State

AUTHENTICATOR = "dns-iijdpf"
CREDENTIALS_KEY = "dns_iijdpf_credentials"
# certbot refuses a renewal configuration without any of these.
FILE_KEYS = ("cert", "privkey", "chain", "fullchain")


@dataclass(frozen=True)
class Lineage:
    """One renewal configuration; ``problem`` is set when certbot could not use it."""

    name: str
    conf_path: str
    authenticator: str | None = None
    cert_path: str | None = None
    credentials: str | None = None
    problem: str | None = None
    problem_state: State = State.CRITICAL

    @property
    def ours(self) -> bool:
        return self.authenticator == AUTHENTICATOR


class CertificateProblem(Exception):
    """A certificate that cannot be read; ``state`` tells whether renewal fails too."""

    def __init__(self, detail: str, state: State) -> None:
        super().__init__(detail)
        self.state = state


@dataclass(frozen=True)
class Certificate:
    not_after: datetime.datetime  # aware, UTC
    names: list[str]


def renewal_dir(config_dir: str) -> str:
    return os.path.join(config_dir, "renewal")


def conf_paths(config_dir: str) -> list[str]:
    """The renewal configurations certbot reads (``*.conf``), sorted; OSError if unreadable."""
    directory = renewal_dir(config_dir)
    return sorted(
        os.path.join(directory, entry)
        for entry in os.listdir(directory)
        if entry.endswith(".conf") and os.path.isfile(os.path.join(directory, entry))
    )


def lineage_name(conf_path: str) -> str:
    return os.path.basename(conf_path)[: -len(".conf")]


def read_lineage(conf_path: str) -> Lineage:
    """One renewal configuration, read as certbot reads it (configobj, UTF-8)."""
    import configobj

    name = lineage_name(conf_path)
    try:
        conf = configobj.ConfigObj(conf_path, encoding="utf-8", file_error=True)
    except PermissionError:
        return Lineage(
            name,
            conf_path,
            problem=f"cannot read {conf_path}: permission denied; run the check as the user "
            "certbot runs as (usually root)",
            problem_state=State.UNKNOWN,
        )
    except OSError as exc:
        return Lineage(name, conf_path, problem=f"cannot read {conf_path}: {exc.strerror or exc}")
    except UnicodeError:
        return Lineage(name, conf_path, problem=_broken(conf_path, "it is not UTF-8 text"))
    except configobj.ConfigObjError as exc:
        line = getattr(exc, "line_number", None)
        where = f" at line {line}" if line else ""
        return Lineage(name, conf_path, problem=_broken(conf_path, f"it is not valid INI{where}"))
    missing = [key for key in FILE_KEYS if not isinstance(conf.get(key), str)]
    if missing:
        return Lineage(
            name,
            conf_path,
            problem=_broken(conf_path, f"it names no {', '.join(missing)} file"),
        )
    params = conf.get("renewalparams")
    if not isinstance(params, dict):
        return Lineage(name, conf_path, problem=_broken(conf_path, "it has no [renewalparams]"))
    authenticator = params.get("authenticator")
    credentials = params.get(CREDENTIALS_KEY)
    return Lineage(
        name,
        conf_path,
        authenticator=str(authenticator) if isinstance(authenticator, str) else "",
        cert_path=str(conf["cert"]),
        credentials=str(credentials) if isinstance(credentials, str) and credentials else None,
    )


def _broken(conf_path: str, why: str) -> str:
    return (
        f"{conf_path} is broken ({why}): certbot skips it, so this lineage is never renewed "
        "and every `certbot renew` exits 1. Fix or remove the file (certbot writes it; "
        "compare it with another lineage's)."
    )


def read_certificate(path: str) -> Certificate:
    """The expiry and the DNS names of the certificate at ``path`` (PEM)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise CertificateProblem(
            f"the certificate file {path} is missing: certbot treats the lineage as broken "
            "and cannot renew it; restore the live/ and archive/ files from a backup, or "
            "issue the certificate again with certbot certonly.",
            State.CRITICAL,
        ) from None
    except PermissionError:
        raise CertificateProblem(
            f"cannot read the certificate {path}: permission denied; run the check as the "
            "user certbot runs as (usually root).",
            State.UNKNOWN,
        ) from None
    except OSError as exc:
        raise CertificateProblem(
            f"cannot read the certificate {path}: {exc.strerror or exc}", State.CRITICAL
        ) from None
    # cryptography comes with certbot; only the check needs it here.
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CertificateProblem(
            f"{path} is not a PEM certificate: certbot cannot renew this lineage; restore it "
            "or issue the certificate again.",
            State.CRITICAL,
        ) from None
    not_after = getattr(cert, "not_valid_after_utc", None)
    if not isinstance(not_after, datetime.datetime):
        # cryptography before 42 (Debian 12 ships 38) gives a naive UTC time.
        not_after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n).lower() for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    return Certificate(not_after, list(dict.fromkeys(names)))
