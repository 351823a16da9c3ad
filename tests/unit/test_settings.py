import pytest

from certbot_dns_iijdpf._internal import settings
from certbot_dns_iijdpf._internal.errors import DpfError


def values(**kw: str) -> settings.Settings:
    return settings.from_values(kw.get, "credentials file /x.ini")


def test_defaults() -> None:
    s = values(api_token="tok")
    assert s.endpoint == "https://api.dns-platform.jp/dpf/v1"
    assert s.ttl == 60
    assert s.service_codes is None
    assert "tok" not in repr(s)


def test_all_keys() -> None:
    s = values(
        api_token=" tok ",
        endpoint="http://127.0.0.1:8080/dpf/v1/",
        ttl="120",
        service_codes="dpm00000001, DPM00000002",
    )
    assert (s.token, s.endpoint, s.ttl) == ("tok", "http://127.0.0.1:8080/dpf/v1", 120)
    assert s.service_codes == frozenset({"dpm00000001", "dpm00000002"})


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({}, "dns_iijdpf_api_token is missing or empty"),
        ({"api_token": "  "}, "dns_iijdpf_api_token is missing or empty"),
        ({"api_token": "to ken"}, "not printable ASCII"),
        ({"api_token": "tok", "ttl": "soon"}, "dns_iijdpf_ttl must be a whole number"),
        ({"api_token": "tok", "ttl": "0"}, "between 1 and"),
        ({"api_token": "tok", "endpoint": "http://api.example.net/dpf/v1"}, "plain http"),
        ({"api_token": "tok", "endpoint": "ftp://x"}, r"not an http\(s\) URL"),
        ({"api_token": "tok", "service_codes": "dpm-1"}, "is not a DPM service code"),
    ],
)
def test_bad_values_are_explained(kw: dict[str, str], message: str) -> None:
    with pytest.raises(DpfError, match=message) as info:
        values(**kw)
    assert "to ken" not in str(info.value)
    assert "/x.ini" in str(info.value)


def test_environment_like_lego() -> None:
    env = {
        "IIJ_DPF_API_TOKEN": "tok",
        "IIJ_DPF_DPM_SERVICE_CODE": "dpm00000009",
        "IIJ_DPF_API_ENDPOINT": "http://localhost:9/dpf/v1",
    }
    s = settings.from_environment(env)
    assert s is not None
    assert s.service_codes == frozenset({"dpm00000009"})
    assert s.endpoint == "http://localhost:9/dpf/v1"
    assert settings.from_environment({}) is None
