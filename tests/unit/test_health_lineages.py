"""Reading certbot's renewal configurations and certificates, as the check does."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from certbot_dns_iijdpf._internal.health.lineages import (
    CertificateProblem,
    conf_paths,
    read_certificate,
    read_lineage,
)
from certbot_dns_iijdpf._internal.health.model import State
from tests.harness.lineages import certificate_pem, make_lineage


def test_a_lineage_as_certbot_writes_it(tmp_path: Path) -> None:
    conf = make_lineage(
        tmp_path, "example.com", ["example.com", "*.example.com"], credentials="/etc/x.ini"
    )
    lineage = read_lineage(str(conf))
    assert lineage.problem is None
    assert (lineage.name, lineage.authenticator, lineage.credentials) == (
        "example.com",
        "dns-iijdpf",
        "/etc/x.ini",
    )
    assert lineage.ours
    assert lineage.cert_path == str(tmp_path / "live" / "example.com" / "cert.pem")


def test_other_authenticators_and_missing_credentials(tmp_path: Path) -> None:
    other = read_lineage(str(make_lineage(tmp_path, "a.test", ["a.test"], authenticator="nginx")))
    assert other.problem is None and not other.ours and other.authenticator == "nginx"
    bare = read_lineage(str(make_lineage(tmp_path, "b.test", ["b.test"])))
    assert bare.ours and bare.credentials is None


def test_only_conf_files_are_lineages(tmp_path: Path) -> None:
    make_lineage(tmp_path, "b.test", ["b.test"])
    make_lineage(tmp_path, "a.test", ["a.test"])
    (tmp_path / "renewal" / "a.test.conf.bak").write_text("x")
    (tmp_path / "renewal" / "dir.conf").mkdir()
    assert [Path(p).name for p in conf_paths(str(tmp_path))] == ["a.test.conf", "b.test.conf"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("cert = /x\n[renewalparams\nauthenticator = dns-iijdpf\n", "not valid INI at line 2"),
        ("cert = /x\n[renewalparams]\nauthenticator = dns-iijdpf\n", "names no privkey, chain"),
        (
            "cert = /a\nprivkey = /b\nchain = /c\nfullchain = /d\nauthenticator = dns-iijdpf\n",
            "has no [renewalparams]",
        ),
        (b"cert = \xff\xfe\n", "not UTF-8"),
    ],
    ids=["bad-ini", "missing-files", "no-renewalparams", "not-utf8"],
)
def test_what_certbot_skips_is_broken_and_critical(
    tmp_path: Path, text: str | bytes, why: str
) -> None:
    conf = tmp_path / "broken.example.conf"
    if isinstance(text, bytes):
        conf.write_bytes(text)
    else:
        conf.write_text(text)
    lineage = read_lineage(str(conf))
    assert lineage.name == "broken.example"
    assert lineage.problem is not None and why in lineage.problem, lineage.problem
    assert str(conf) in lineage.problem and "certbot skips it" in lineage.problem
    assert lineage.problem_state is State.CRITICAL


def test_an_unreadable_conf_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = make_lineage(tmp_path, "a.test", ["a.test"])

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("configobj.ConfigObj", denied)
    lineage = read_lineage(str(conf))
    assert lineage.problem_state is State.UNKNOWN
    assert lineage.problem is not None and "permission denied" in lineage.problem


def test_certificate_expiry_and_names(tmp_path: Path) -> None:
    path = tmp_path / "cert.pem"
    path.write_bytes(certificate_pem(["www.example.com", "Example.COM"], days_left=5))
    cert = read_certificate(str(path))
    assert cert.names == ["www.example.com", "example.com"]
    left = cert.not_after - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=4.99) < left <= datetime.timedelta(days=5)


def test_certificate_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CertificateProblem) as missing:
        read_certificate(str(tmp_path / "gone.pem"))
    assert missing.value.state is State.CRITICAL
    assert f"{tmp_path / 'gone.pem'} is missing" in str(missing.value)

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(CertificateProblem) as bad:
        read_certificate(str(garbage))
    assert bad.value.state is State.CRITICAL and "is not a PEM certificate" in str(bad.value)

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(CertificateProblem) as unreadable:
        read_certificate(str(garbage))
    assert unreadable.value.state is State.UNKNOWN
    assert "permission denied; run the check as" in str(unreadable.value)
