"""The record planner: which edits bring one name to where it must be."""

from __future__ import annotations

from collections.abc import Mapping

from certbot_dns_iijdpf._internal.planner import (
    Edit,
    EditKind,
    Row,
    ZoneSnapshot,
    holds,
    is_challenge_edit,
    plan,
    txt_view,
)

NAME = "_acme-challenge.example.com."
A1 = "a" * 43
A2 = "b" * 43
OLD = "c" * 43
POST, PATCH, DELETE, CANCEL = EditKind.POST, EditKind.PATCH, EditKind.DELETE, EditKind.CANCEL


def q(v: str) -> str:
    return f'"{v}"'


def row(state: int, *values: str, rid: str = "r1", name: str = NAME, rrtype: str = "TXT") -> Row:
    return Row(rid, name, rrtype, tuple(values), state, 300)


def snap(*rows: Row, live: Mapping[tuple[str, str], tuple[str, ...]] | None = None) -> ZoneSnapshot:
    return ZoneSnapshot(rows, dict(live or {}))


def edits(snapshot: ZoneSnapshot, ours: set[str], drop: set[str] | None = None) -> list[Edit]:
    return plan(txt_view(snapshot, NAME), ours, drop or set())


def test_no_rrset_posts_all_values_once() -> None:
    assert edits(snap(), {A1, A2}) == [Edit(POST, NAME, None, (q(A1), q(A2)))]


def test_applied_rrset_keeps_foreign_values() -> None:
    result = edits(snap(row(0, '"v=spf1 -all"')), {A1})
    assert result == [Edit(PATCH, NAME, "r1", ('"v=spf1 -all"', q(A1)))]


def test_value_already_present_is_not_added_twice() -> None:
    assert edits(snap(row(0, q(A1))), {A1}) == []


def test_stale_values_are_dropped_when_adding() -> None:
    result = edits(snap(row(0, q(OLD), '"keep"')), {A1}, {OLD})
    assert result == [Edit(PATCH, NAME, "r1", ('"keep"', q(A1)))]


def test_an_rrset_left_with_no_value_is_deleted_not_emptied() -> None:
    # Another name's leftover: nothing of ours goes there, the stale value goes.
    assert edits(snap(row(0, q(OLD))), set(), {OLD}) == [Edit(DELETE, NAME, "r1")]
    assert edits(snap(row(1, q(OLD))), set(), {OLD}) == [Edit(CANCEL, NAME, "r1")]


def test_pending_delete_gets_a_new_rrset() -> None:
    assert edits(snap(row(2, q(OLD))), {A1}) == [Edit(POST, NAME, None, (q(A1),))]


def test_a_never_applied_row_that_must_change_is_patched_first() -> None:
    # One write where DPF allows it; a row that loses every value is cancelled.
    stale_draft = snap(row(1, q(OLD), '"keep"'))
    assert edits(stale_draft, {A1}, {OLD}) == [Edit(PATCH, NAME, "r1", ('"keep"', q(A1)))]
    assert edits(snap(row(1, q(A2))), {A1}) == [Edit(PATCH, NAME, "r1", (q(A2), q(A1)))]
    assert edits(snap(row(1, q(A1))), {A1}) == []


def test_a_refused_patch_of_a_never_applied_row_becomes_cancel_and_post_of_all_values() -> None:
    # Where DPF refuses the PATCH, the row is cancelled; the next round POSTs
    # the values it carried (as stored) together with ours.
    draft = snap(row(1, q(A2), '"a" "b"'))
    assert plan(txt_view(draft, NAME), {A1}, rewrite_adding=True) == [Edit(CANCEL, NAME, "r1")]
    carried = (q(A2), '"a" "b"')
    after = plan(txt_view(snap(), NAME), {A1}, {OLD}, carry=carried)
    assert after == [Edit(POST, NAME, None, (q(A2), '"a" "b"', q(A1)))]
    # A carried value that must go is not brought back.
    dropped = plan(txt_view(snap(), NAME), set(), {A2}, carry=carried)
    assert dropped == [Edit(POST, NAME, None, ('"a" "b"',))]


def test_pending_update_is_edited_on_top_using_live_values_from_currents() -> None:
    # No state-5 row: what DNS serves comes from /records/currents.
    s = snap(row(3, q(OLD), q(A2)), live={(NAME, "TXT"): (q(OLD),)})
    assert txt_view(s, NAME).applied == (q(OLD),)
    assert edits(s, {A1}) == [Edit(PATCH, NAME, "r1", (q(OLD), q(A2), q(A1)))]


def test_state5_rows_are_not_taken_for_the_rrset() -> None:
    s = snap(row(3, q(A1)), row(5, q(OLD)), live={(NAME, "TXT"): (q(OLD),)})
    assert txt_view(s, NAME).effective == (q(A1),)


def test_remove_last_value_deletes_applied_rrset() -> None:
    assert edits(snap(row(0, q(A1), q(A2))), set(), {A1, A2}) == [Edit(DELETE, NAME, "r1")]


def test_remove_keeps_other_values() -> None:
    result = edits(snap(row(0, '"other"', q(A1))), set(), {A1})
    assert result == [Edit(PATCH, NAME, "r1", ('"other"',))]


def test_remove_our_part_of_pending_update_restores_by_cancel() -> None:
    s = snap(row(3, '"other"', q(A1)), live={(NAME, "TXT"): ('"other"',)})
    assert edits(s, set(), {A1}) == [Edit(CANCEL, NAME, "r1")]


def test_a_pending_update_that_loses_every_value_is_cancelled_first() -> None:
    # DELETE of a state-3 row may be refused; cancelling and then deleting the
    # applied RRset in the next round works under every answer.
    s = snap(row(3, q(OLD), q(A1)), live={(NAME, "TXT"): (q(OLD),)})
    assert edits(s, set(), {A1, OLD}) == [Edit(CANCEL, NAME, "r1")]


def test_remove_nothing_of_ours_is_a_no_op() -> None:
    assert edits(snap(row(0, '"other"')), set(), {A1}) == []
    assert edits(snap(), set(), {A1}) == []


def test_racing_duplicate_rows_are_withdrawn() -> None:
    s = snap(row(1, q(A1), rid="r1"), row(1, q(A1), rid="r2"))
    assert Edit(CANCEL, NAME, "r2") in edits(s, {A1})


def test_an_extra_published_rrset_holding_only_our_value_is_deleted() -> None:
    # Racing POSTs from two hosts, both published by an apply.
    s = snap(row(0, q(A2), rid="r1"), row(0, q(A1), rid="r2"))
    assert edits(s, set(), {A1}) == [Edit(DELETE, NAME, "r2")]
    assert edits(s, {A1}) == [Edit(DELETE, NAME, "r2"), Edit(PATCH, NAME, "r1", (q(A2), q(A1)))]


def test_challenge_edits_are_told_from_other_work() -> None:
    www = "_acme-challenge.www.example.com."
    s = snap(
        row(1, q(A1), rid="r1"),
        row(3, q(OLD), q(A2), rid="r2", name=www),
        row(1, '"1.2.3.4"', rid="r3", name="www.example.com.", rrtype="A"),
        row(3, '"v=spf1 -all"', rid="r4", name="example.com."),
        row(1, '"hello"', rid="r5", name="_acme-challenge.other.example.com."),
        row(3, '"v=spf1 -all"', q(A2), rid="r6", name="_acme-challenge.x.example.com."),
        live={
            (www, "TXT"): (q(OLD),),
            ("_acme-challenge.x.example.com.", "TXT"): ('"v=spf1 -all"',),
        },
    )
    harmless = [r.id for r in s.rows if is_challenge_edit(s, r, {NAME})]
    assert harmless == ["r1", "r2", "r6"]


def test_holds_sees_staged_and_live_values() -> None:
    s = snap(row(3, q(A1)), live={(NAME, "TXT"): (q(OLD),)})
    assert holds(s, NAME, A1) and holds(s, NAME, OLD) and not holds(s, NAME, A2)
