import pytest

from certbot_dns_iijdpf._internal.cname import follow
from certbot_dns_iijdpf._internal.errors import DpfError


def test_no_cname_keeps_the_name() -> None:
    assert (
        follow("_acme-challenge.Example.com", lambda name: None) == "_acme-challenge.example.com."
    )


def test_chain_is_followed_to_its_end() -> None:
    links = {
        "_acme-challenge.example.com.": "a.acme.example.net.",
        "a.acme.example.net.": "b.acme.example.net.",
    }
    assert follow("_acme-challenge.example.com.", links.get) == "b.acme.example.net."


def test_loop_is_an_error_naming_the_chain() -> None:
    links = {"a.example.com.": "b.example.com.", "b.example.com.": "a.example.com."}
    with pytest.raises(DpfError, match=r"a\.example\.com -> b\.example\.com -> a\.example\.com"):
        follow("a.example.com.", links.get)


def test_overlong_chain_is_an_error() -> None:
    links = {f"n{i}.example.com.": f"n{i + 1}.example.com." for i in range(20)}
    with pytest.raises(DpfError, match="longer than 8 names"):
        follow("n0.example.com.", links.get)
