"""certbot lineages made directly on disk, for the tests and the benchmark of ``check``.

The check only reads what certbot leaves behind: ``renewal/NAME.conf`` in
certbot's format, and ``live/NAME/*.pem`` symlinks into ``archive/NAME/``.
These helpers write the same layout with a self-signed certificate of any
expiry, which certbot cannot be asked for.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FILES = ("cert", "privkey", "chain", "fullchain")


def certificate_pem(names: Sequence[str], days_left: float, lifetime_days: float = 90.0) -> bytes:
    """A self-signed certificate for ``names`` that expires ``days_left`` days from now."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = now + datetime.timedelta(days=days_left)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - datetime.timedelta(days=lifetime_days))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def make_lineage(
    config_dir: Path,
    name: str,
    names: Sequence[str],
    *,
    days_left: float = 60.0,
    credentials: Path | str | None = None,
    authenticator: str = "dns-iijdpf",
) -> Path:
    """Write a lineage as certbot does and return its renewal configuration's path."""
    archive = config_dir / "archive" / name
    live = config_dir / "live" / name
    archive.mkdir(parents=True, exist_ok=True)
    live.mkdir(parents=True, exist_ok=True)
    pem = certificate_pem(names, days_left)
    for key in FILES:
        target = archive / f"{key}1.pem"
        target.write_bytes(pem)
        link = live / f"{key}.pem"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..", "..", "archive", name, f"{key}1.pem"))
    lines = [
        "# renewal configuration written by the tests, in certbot's layout",
        "version = 2.1.0",
        f"archive_dir = {archive}",
        *(f"{key} = {live / f'{key}.pem'}" for key in FILES),
        "",
        "[renewalparams]",
        "account = 0123456789abcdef0123456789abcdef",
        f"authenticator = {authenticator}",
        "server = https://acme-v02.api.letsencrypt.org/directory",
        "key_type = ecdsa",
    ]
    if credentials is not None:
        lines.append(f"dns_iijdpf_credentials = {credentials}")
    conf = config_dir / "renewal" / f"{name}.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("\n".join(lines) + "\n")
    return conf


def replace_certificate(cert_path: Path, names: Sequence[str], days_left: float) -> None:
    """Put a certificate expiring in ``days_left`` days where ``cert_path`` (a symlink) points."""
    cert_path.resolve().write_bytes(certificate_pem(names, days_left))
