"""Fixtures for the emulator's own tests: every server binds 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.dpf_emulator import (
    Emulator,
    EmulatorConfig,
    NameserverSpec,
    RecordSpec,
    TokenSpec,
    ZoneSpec,
)
from tests.harness.waiting import poll_until

ZONE = "example.com."
CODE = "dpm00000001"
TOKEN = "token-a"
OTHER_TOKEN = "token-b"  # another user (operator)
SAME_USER_TOKEN = "token-a2"  # a second token of token-a's user
READ_ONLY_TOKEN = "token-ro"
NARROW_TOKEN = "token-narrow"  # sees only example.net.


def base_config(**overrides: Any) -> EmulatorConfig:
    config = EmulatorConfig(
        zones=[
            ZoneSpec(
                ZONE,
                CODE,
                records=[
                    RecordSpec("www.example.com.", "A", ["192.0.2.1"]),
                    RecordSpec("alias.example.com.", "CNAME", ["www.example.com."]),
                    RecordSpec("out.example.com.", "CNAME", ["target.elsewhere.test."]),
                    RecordSpec("*.wild.example.com.", "TXT", ['"wild"']),
                ],
            ),
            ZoneSpec("example.net.", "dpm00000002"),
            ZoneSpec("proxy.example.", "dpm00000003", proxy_enabled=True),
        ],
        tokens=[
            TokenSpec(TOKEN, operator="SA0000001"),
            TokenSpec(SAME_USER_TOKEN, operator="SA0000001"),
            TokenSpec(OTHER_TOKEN, operator="SA0000002"),
            TokenSpec(READ_ONLY_TOKEN, operator="SA0000003", scopes=("dpf_read",)),
            TokenSpec(NARROW_TOKEN, operator="SA0000004", zones=["example.net."]),
        ],
        nameservers=[
            NameserverSpec("ns1.dpf-emulator.test.", port=0, lag=0.0),
            NameserverSpec("ns2.dpf-emulator.test.", port=0, lag=0.6),
        ],
        resolver=("127.0.0.1", 0),
        job_seconds=0.05,
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


class Client:
    """A requests session speaking to the emulator as one token."""

    def __init__(self, emu: Emulator, token: str | None) -> None:
        self.emu = emu
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Content-Type"] = "application/json"

    def url(self, path: str) -> str:
        return self.emu.api_url + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=5, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=5, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.patch(self.url(path), json=body, timeout=5, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.url(path), timeout=5, **kwargs)

    def wait(self, response: requests.Response, timeout: float = 5.0) -> dict[str, Any]:
        """Poll the job of a 202 answer until it leaves RUNNING."""
        assert response.status_code == 202, response.text
        path = f"/jobs/{response.json()['request_id']}"
        poll_until(lambda: self.get(path).json()["status"] != "RUNNING", timeout, interval=0.01)
        job = self.get(path).json()
        assert isinstance(job, dict)
        return job

    def zid(self, zone: str = ZONE) -> str:
        return self.emu.zone_id(zone)

    def create_txt(
        self, name: str, values: list[str], zone: str = ZONE, ttl: int | None = 300
    ) -> str:
        response = self.post(
            f"/zones/{self.zid(zone)}/records",
            {
                "name": name,
                "ttl": ttl,
                "rrtype": "TXT",
                "rdata": [{"value": v} for v in values],
                "description": "ACME",
            },
        )
        job = self.wait(response)
        assert job["status"] == "SUCCESSFUL", job
        return str(job["resources_url"]).rsplit("/", 1)[-1]

    def apply(self, zone: str = ZONE, description: str = "ACME Processing") -> dict[str, Any]:
        return self.wait(
            self.patch(f"/zones/{self.zid(zone)}/changes", {"description": description})
        )

    def close(self) -> None:
        self.session.close()


def detail(response: requests.Response) -> tuple[int, str, str]:
    """(status, code, attribute) of a 400 ParameterError answer."""
    body = response.json()
    assert set(body) == {"request_id", "error_type", "error_message", "error_details"}, body
    assert body["error_type"] == "ParameterError"
    assert body["error_message"] == "There are invalid parameters."
    (only,) = body["error_details"]
    return response.status_code, only["code"], only["attribute"]


EmulatorFactory = Callable[..., Emulator]
ClientFactory = Callable[..., Client]


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    started: list[Emulator] = []

    def make(**overrides: Any) -> Emulator:
        emu = Emulator(base_config(**overrides))
        emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emu(make_emulator: EmulatorFactory) -> Emulator:
    return make_emulator()


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    clients: list[Client] = []

    def make(emulator: Emulator, token: str | None = TOKEN) -> Client:
        client = Client(emulator, token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(emu: Emulator, make_client: ClientFactory) -> Client:
    return make_client(emu, TOKEN)
