"""The open-question switches: empty_apply, delete_pending_add, apply_scope."""

from __future__ import annotations

from tests.dpf_emulator import Emulator

from .conftest import OTHER_TOKEN, SAME_USER_TOKEN, ZONE, ClientFactory, EmulatorFactory, detail

ACME = "_acme-challenge.example.com."


def rows(emu: Emulator, name: str) -> list[tuple[int, str | None]]:
    return [(r["state"], r["operator"]) for r in emu.records(ZONE) if r["name"] == name]


def test_empty_apply_ok(make_emulator: EmulatorFactory, make_client: ClientFactory) -> None:
    emu = make_emulator(empty_apply="ok")
    client = make_client(emu)
    before = emu.served(0, ZONE, "SOA")
    job = client.apply()
    assert job["status"] == "SUCCESSFUL"
    assert emu.applies(ZONE) == 1
    # Nothing changed, so the serial stays; the history still records it.
    assert emu.served(0, ZONE, "SOA") == before
    assert len(client.get(f"/zones/{client.zid()}/zone_histories").json()["results"]) == 1


def test_empty_apply_error(make_emulator: EmulatorFactory, make_client: ClientFactory) -> None:
    emu = make_emulator(empty_apply="error")
    client = make_client(emu)
    response = client.patch(f"/zones/{client.zid()}/changes", {"description": "x"})
    assert detail(response) == (400, "not_found", "record")
    assert emu.jobs == []
    client.create_txt(ACME, ['"v"'])
    assert client.apply()["status"] == "SUCCESSFUL"
    assert emu.applies(ZONE) == 1


def test_empty_apply_job_failed(make_emulator: EmulatorFactory, make_client: ClientFactory) -> None:
    emu = make_emulator(empty_apply="job_failed")
    client = make_client(emu)
    job = client.apply()
    assert job["status"] == "FAILED"
    assert job["error_type"] == "Bad Request"
    assert emu.applies(ZONE) == 0
    client.create_txt(ACME, ['"v"'])
    assert client.apply()["status"] == "SUCCESSFUL"


def test_delete_pending_add_forbidden(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(delete_pending_add="forbidden")
    client = make_client(emu)
    rid = client.create_txt(ACME, ['"v"'])
    assert detail(client.delete(f"/zones/{client.zid()}/records/{rid}")) == (
        400,
        "forbidden",
        "record",
    )
    assert rows(emu, ACME) == [(1, "SA0000001")]


def test_delete_pending_add_cancel(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(delete_pending_add="cancel")
    client = make_client(emu)
    rid = client.create_txt(ACME, ['"v"'])
    job = client.wait(client.delete(f"/zones/{client.zid()}/records/{rid}"))
    assert job["status"] == "SUCCESSFUL"
    assert rows(emu, ACME) == []
    assert emu.diffs(ZONE) == []


def test_delete_pending_add_stage(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(delete_pending_add="stage")
    client = make_client(emu)
    rid = client.create_txt(ACME, ['"v"'])
    client.wait(client.delete(f"/zones/{client.zid()}/records/{rid}"))
    assert rows(emu, ACME) == [(2, "SA0000001")]
    (pair,) = emu.diffs(ZONE)
    assert pair["new"]["state"] == 2 and "old" not in pair
    client.apply()
    assert rows(emu, ACME) == []
    assert emu.served(0, ACME, "TXT") == []


def test_apply_scope_all_publishes_everyones_edits(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(apply_scope="all")
    mine, theirs = make_client(emu), make_client(emu, OTHER_TOKEN)
    mine.create_txt("mine.example.com.", ['"m"'])
    theirs.create_txt("theirs.example.com.", ['"t"'])
    mine.apply()
    assert rows(emu, "mine.example.com.") == [(0, "SA0000001")]
    assert rows(emu, "theirs.example.com.") == [(0, "SA0000002")]
    assert emu.served(0, "theirs.example.com.", "TXT") == ['"t"']


def test_apply_scope_own_publishes_only_callers_edits(
    make_emulator: EmulatorFactory, make_client: ClientFactory
) -> None:
    emu = make_emulator(apply_scope="own")
    mine, theirs = make_client(emu), make_client(emu, OTHER_TOKEN)
    same_user = make_client(emu, SAME_USER_TOKEN)
    mine.create_txt("mine.example.com.", ['"m"'])
    same_user.create_txt("mine2.example.com.", ['"m2"'])
    theirs.create_txt("theirs.example.com.", ['"t"'])
    mine.apply()
    assert rows(emu, "mine.example.com.") == [(0, "SA0000001")]
    assert rows(emu, "mine2.example.com.") == [(0, "SA0000001")]
    assert rows(emu, "theirs.example.com.") == [(1, "SA0000002")]
    assert emu.served(0, "theirs.example.com.", "TXT") == []
    # Discard follows the same scope.
    mine.wait(mine.delete(f"/zones/{mine.zid()}/changes"))
    assert rows(emu, "theirs.example.com.") == [(1, "SA0000002")]
    theirs.apply()
    assert emu.served(0, "theirs.example.com.", "TXT") == ['"t"']
    assert emu.applies(ZONE) == 2
