"""The certbot glue, with certbot's own test mixin and a stub publisher."""

from __future__ import annotations

import logging
import os
import unittest
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from certbot import errors
from certbot.plugins import dns_test_common

from certbot_dns_iijdpf._internal.errors import DpfApiError, DpfError, ErrorDetail
from certbot_dns_iijdpf._internal.publisher import Challenge
from certbot_dns_iijdpf.authenticator import Authenticator, _absolute_path, given_on_command_line


class StubPublisher:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.published: list[Challenge] = []
        self.withdrawn: list[Challenge] = []

    def publish(self, challenges: list[Challenge]) -> None:
        self.published.extend(challenges)
        if self.error:
            raise self.error

    def withdraw(self, challenges: list[Challenge]) -> None:
        self.withdrawn.extend(challenges)
        if self.error:
            raise self.error


def make(tmp_path: Path, **conf: Any) -> Authenticator:
    values = {
        "dns_iijdpf_credentials": None,
        "dns_iijdpf_propagation_seconds": 0,
        "dns_iijdpf_publish_pending_edits": False,
        "noninteractive_mode": True,
        "work_dir": str(tmp_path),
    }
    values.update({f"dns_iijdpf_{k}": v for k, v in conf.items()})
    config = mock.MagicMock(**values)
    return Authenticator(config, "dns-iijdpf")


class CertbotMixinTest(dns_test_common.BaseAuthenticatorTest, unittest.TestCase):
    def setUp(self) -> None:
        self.auth = Authenticator(mock.MagicMock(), "dns-iijdpf")


def test_credentials_path_is_stored_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _absolute_path("iijdpf.ini") == str(tmp_path / "iijdpf.ini")
    assert _absolute_path("~/x.ini") == os.path.expanduser("~/x.ini")
    options: dict[str, dict[str, Any]] = {}
    Authenticator.add_parser_arguments(lambda name, **kw: options.__setitem__(name, kw))
    assert options["credentials"]["type"] is _absolute_path
    assert options["propagation-seconds"]["default"] == 600


def test_ini_file_settings(tmp_path: Path) -> None:
    ini = tmp_path / "iijdpf.ini"
    dns_test_common.write(
        {"dns_iijdpf_api_token": "tok", "dns_iijdpf_endpoint": "http://127.0.0.1:1/dpf/v1"},
        str(ini),
    )
    auth = make(tmp_path, credentials=str(ini))
    auth._setup_credentials()
    assert auth._settings is not None
    assert auth._settings.endpoint == "http://127.0.0.1:1/dpf/v1"
    assert auth._settings.source == f"credentials file {ini}"


def test_without_credentials_names_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IIJ_DPF_API_TOKEN", raising=False)
    with pytest.raises(errors.PluginError, match="--dns-iijdpf-credentials"):
        make(tmp_path)._setup_credentials()


def test_lego_environment_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("IIJ_DPF_API_TOKEN", "tok")
    monkeypatch.setenv("IIJ_DPF_DPM_SERVICE_CODE", "dpm00000001")
    auth = make(tmp_path)
    with caplog.at_level(logging.WARNING):
        auth._setup_credentials()
    assert auth._settings is not None
    assert auth._settings.service_codes == frozenset({"dpm00000001"})
    assert "renewal timer will not have these variables" in caplog.text


def test_perform_hands_every_challenge_over_and_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IIJ_DPF_API_TOKEN", "tok")
    auth = make(tmp_path)
    stub = StubPublisher()
    auth._publisher = stub  # type: ignore[assignment]
    achall = dns_test_common.BaseAuthenticatorTest.achall
    responses = auth.perform([achall])
    assert len(responses) == 1
    assert stub.published == [
        Challenge("_acme-challenge.example.com", achall.validation(achall.account_key))
    ]


def test_bad_token_becomes_an_instruction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IIJ_DPF_API_TOKEN", "tok")
    auth = make(tmp_path)
    rejected = DpfApiError(400, "ParameterError", "x", (ErrorDetail("invalid", "access_token"),))
    auth._publisher = StubPublisher(rejected)  # type: ignore[assignment]
    with pytest.raises(errors.PluginError, match=r"DPF rejected the API token.*IIJ_DPF_API_TOKEN"):
        auth.perform([dns_test_common.BaseAuthenticatorTest.achall])


def test_cleanup_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("IIJ_DPF_API_TOKEN", "tok")
    auth = make(tmp_path)
    auth._setup_credentials()
    auth._attempt_cleanup = True
    for error in (DpfError("zone is gone"), RuntimeError("bug")):
        auth._publisher = StubPublisher(error)  # type: ignore[assignment]
        with caplog.at_level(logging.WARNING):
            auth.cleanup([dns_test_common.BaseAuthenticatorTest.achall])
    assert "zone is gone" in caplog.text
    assert "bug" in caplog.text


def test_cleanup_does_nothing_when_perform_never_started(tmp_path: Path) -> None:
    auth = make(tmp_path)
    stub = StubPublisher()
    auth._publisher = stub  # type: ignore[assignment]
    auth.cleanup([dns_test_common.BaseAuthenticatorTest.achall])
    assert stub.withdrawn == []


def test_publish_pending_edits_counts_only_on_this_runs_command_line() -> None:
    flag = "--dns-iijdpf-publish-pending-edits"
    assert given_on_command_line(flag, ["certonly", flag, "-d", "x"])
    assert given_on_command_line(flag, ["renew", "--dns-iijdpf-publish-pending=true"])
    # A renewal restores the stored option, but its command line does not give it.
    assert not given_on_command_line(flag, ["renew", "--dns-iijdpf-propagation-seconds", "9"])
    assert not given_on_command_line(flag, ["renew", "--dns-iijdpf-p", "9"])
    assert not given_on_command_line(flag, ["renew", "--", flag])


def test_publish_pending_edits_from_the_renewal_configuration_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    auth = make(tmp_path, publish_pending_edits=True)
    monkeypatch.setattr("sys.argv", ["certbot", "renew", "-q"])
    with caplog.at_level(logging.WARNING):
        assert auth._publish_pending() is False
    assert "applies only to the run whose command line gives it" in caplog.text
    monkeypatch.setattr("sys.argv", ["certbot", "certonly", "--dns-iijdpf-publish-pending-edits"])
    assert auth._publish_pending() is True
