from certbot_dns_iijdpf import rrsets
from certbot_dns_iijdpf.rrsets import Edit, Row, foreign_pending, plan_add, plan_remove, txt_views

NAME = "_acme-challenge.example.com."
A1 = "a" * 43
A2 = "b" * 43
OLD = "c" * 43


def q(v: str) -> str:
    return f'"{v}"'


def row(state: int, *values: str, rid: str = "r1", name: str = NAME, rrtype: str = "TXT") -> Row:
    return Row(rid, name, rrtype, tuple(values), state, 300)


def view(*rows: Row) -> rrsets.RRsetView:
    return txt_views(rows, [NAME])[NAME]


def test_no_rrset_posts_all_values_once() -> None:
    assert plan_add(view(), {A1, A2}) == [Edit("post", NAME, None, (q(A1), q(A2)))]


def test_applied_rrset_keeps_foreign_values() -> None:
    edits = plan_add(view(row(0, '"v=spf1 -all"')), {A1})
    assert edits == [Edit("patch", NAME, "r1", ('"v=spf1 -all"', q(A1)))]


def test_value_already_present_is_not_added_twice() -> None:
    assert plan_add(view(row(0, q(A1))), {A1}) == []


def test_stale_values_are_dropped_when_adding() -> None:
    edits = plan_add(view(row(0, q(OLD), '"keep"')), {A1}, {OLD})
    assert edits == [Edit("patch", NAME, "r1", ('"keep"', q(A1)))]


def test_pending_delete_gets_a_new_rrset() -> None:
    assert plan_add(view(row(2, q(OLD))), {A1}) == [Edit("post", NAME, None, (q(A1),))]


def test_pending_update_is_edited_on_top() -> None:
    v = view(row(3, q(OLD), q(A2)), row(5, q(OLD)))
    assert v.applied == (q(OLD),)
    assert plan_add(v, {A1}) == [Edit("patch", NAME, "r1", (q(OLD), q(A2), q(A1)))]


def test_remove_last_value_deletes_applied_rrset() -> None:
    assert plan_remove(view(row(0, q(A1), q(A2))), {A1, A2}) == [Edit("delete", NAME, "r1")]


def test_remove_keeps_other_values() -> None:
    edits = plan_remove(view(row(0, '"other"', q(A1))), {A1})
    assert edits == [Edit("patch", NAME, "r1", ('"other"',))]


def test_remove_from_never_applied_rrset_cancels() -> None:
    assert plan_remove(view(row(1, q(A1))), {A1}) == [Edit("cancel", NAME, "r1")]


def test_remove_our_part_of_pending_update_restores_by_cancel() -> None:
    v = view(row(3, '"other"', q(A1)), row(5, '"other"'))
    assert plan_remove(v, {A1}) == [Edit("cancel", NAME, "r1")]


def test_remove_nothing_of_ours_is_a_no_op() -> None:
    assert plan_remove(view(row(0, '"other"')), {A1}) == []
    assert plan_remove(view(), {A1}) == []


def test_racing_duplicate_rows_are_withdrawn() -> None:
    v = view(row(1, q(A1), rid="r1"), row(1, q(A1), rid="r2"))
    assert Edit("cancel", NAME, "r2") in plan_add(v, {A1})


def test_foreign_pending_tolerates_acme_edits_only() -> None:
    rows = [
        row(1, q(A1), rid="r1"),
        row(3, q(OLD), q(A2), rid="r2", name="_acme-challenge.www.example.com."),
        row(5, q(OLD), rid="r2", name="_acme-challenge.www.example.com."),
        row(1, '"1.2.3.4"', rid="r3", name="www.example.com.", rrtype="A"),
        row(3, '"v=spf1 -all"', rid="r4", name="example.com."),
        row(5, '"v=spf1 ~all"', rid="r4", name="example.com."),
        row(1, '"hello"', rid="r5", name="_acme-challenge.other.example.com."),
    ]
    assert [r.id for r in foreign_pending(rows, {NAME})] == ["r3", "r4", "r5"]


def test_an_extra_published_rrset_holding_only_our_value_is_deleted() -> None:
    # Racing POSTs from two hosts, both published by an apply.
    v = view(row(0, q(A2), rid="r1"), row(0, q(A1), rid="r2"))
    assert plan_remove(v, {A1}) == [Edit("delete", NAME, "r2")]
    assert plan_add(v, {A1}) == [
        Edit("delete", NAME, "r2"),
        Edit("patch", NAME, "r1", (q(A2), q(A1))),
    ]
