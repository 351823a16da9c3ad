"""The harness on its own: Pebble + pebble-challtestsrv + certbot --manual.

If these fail, the e2e failures of the plugin and the emulator say nothing
about either of them.
"""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from tests.harness import CertbotRunner, ChallTestSrv, Pebble, make_pki, write_ini
from tests.harness.challtestsrv import CHALLTESTSRV_DNS


def _manual_args(auth_hook: Path, cleanup_hook: Path) -> list[str]:
    return [
        "--manual",
        "--preferred-challenges", "dns",
        "--manual-auth-hook", str(auth_hook),
        "--manual-cleanup-hook", str(cleanup_hook),
    ]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize("pebble", [CHALLTESTSRV_DNS], indirect=True)
def test_manual_dns01_wildcard_and_apex(
    tmp_path: Path,
    challtestsrv: ChallTestSrv,
    pebble: Pebble,
    certbot_runner: CertbotRunner,
) -> None:
    auth_hook, cleanup_hook = challtestsrv.write_manual_hooks(tmp_path / "hooks")

    certbot_runner.run_ok(
        [
            "certonly",
            *_manual_args(auth_hook, cleanup_hook),
            "--cert-name", "example.com",
            "-d", "*.example.com",
            "-d", "example.com",
        ]
    )  # fmt: skip

    assert certbot_runner.cert_sans("example.com") == {"*.example.com", "example.com"}

    # Issued by this Pebble run, not found lying around from an earlier one.
    chain = certbot_runner.live_chain("example.com")
    assert chain[0] == certbot_runner.live_cert("example.com")
    assert chain[-1].issuer == pebble.root_certificate().subject

    conf = certbot_runner.renewal_conf("example.com")
    assert "authenticator = manual" in conf
    assert pebble.directory_url in conf


@pytest.mark.e2e
def test_renewal_against_a_restarted_pebble(
    tmp_path: Path,
    challtestsrv: ChallTestSrv,
    pebble_factory: Callable[..., Pebble],
    certbot_factory: Callable[..., CertbotRunner],
) -> None:
    """The steps renewal tests need: restart the CA, forget accounts, renew."""
    auth_hook, cleanup_hook = challtestsrv.write_manual_hooks(tmp_path / "hooks")
    first = pebble_factory(CHALLTESTSRV_DNS, validity_seconds=600)
    certbot = certbot_factory(first)
    certbot.run_ok(["certonly", *_manual_args(auth_hook, cleanup_hook), "-d", "example.com"])
    first_root = first.root_certificate()
    first.stop()

    second = pebble_factory(CHALLTESTSRV_DNS, validity_seconds=600)
    certbot.use_pebble(second)
    # The dry run must reach this Pebble, which only works if the harness
    # passes --server again (certbot would otherwise switch to LE staging).
    certbot.run_ok(["renew", "--dry-run"])
    certbot.run_ok(["renew", "--force-renewal"])

    leaf = certbot.live_cert("example.com")
    chain = certbot.live_chain("example.com")
    assert chain[-1].issuer == second.root_certificate().subject != first_root.subject
    # certificateValidityPeriod is honoured (Pebble 2.4.0 reads it).
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime.total_seconds() <= 600


def test_pki_server_certificate_verifies_for_localhost(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    context = ssl.create_default_context(cafile=str(pki.ca_pem))
    context.load_cert_chain(str(pki.cert_pem), str(pki.key_pem))
    san = pki.server_certificate().extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE(os.stat(pki.key_pem).st_mode) == 0o600


def test_write_ini_is_private_and_round_trips(tmp_path: Path) -> None:
    configobj = pytest.importorskip("configobj")
    values = {
        "plain": "test-token",
        "url": "http://127.0.0.1:8080/dpf/v1",
        "comma": "a,b",
        "hash": "x#y",
        "quote": 'say "hi"',
    }
    path = write_ini(tmp_path / "creds.ini", values)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert dict(configobj.ConfigObj(str(path))) == values
