"""`GET /be/tickets/{id}` and `GET /be/tickets`: Betstack's field names, filters, paging."""

from __future__ import annotations

from gateway.core import reconcile
from tests import factories as f

FIELDS = {
    "id",
    "code",
    "psp",
    "price",
    "stake",
    "currency",
    "gross_payout",
    "net_payout",
    "wht_amount",
    "wht",
    "ext_amount",
    "ext",
    "ext_type",
    "status",
    "result",
    "type",
    "atag",
    "rtag",
    "user_id",
    "created",
    "updated",
}


def _create(client, clock, ticket_id, pid, **kw):
    resp = f.pam(client, clock, "ticket_create", f.ticket_data(ticket_id, pid, **kw))
    assert resp.status_code == 200, resp.text
    clock.advance(1)


def test_a_ticket_reads_back_by_id_or_code_in_betstack_names(client, clock):
    pid = f.player(clock, balance=5_000)
    _create(client, clock, "GT-000001", pid, ticket_code="CD4BDD")
    by_id = f.be(client, clock, "GET", "/be/tickets/GT-000001").json
    by_code = f.be(client, clock, "GET", "/be/tickets/CD4BDD").json
    assert by_id == by_code
    assert set(by_id) == FIELDS
    assert (by_id["user_id"], by_id["created"][-1], by_id["ext"]) == (pid, "Z", 12.5)


def test_unknown_ticket_is_102(client, clock):
    resp = f.be(client, clock, "GET", "/be/tickets/NOPE")
    assert resp.status_code == 400 and resp.json["code"] == 102


def test_list_is_newest_first_with_stable_paging(client, clock):
    pid = f.player(clock, balance=50_000)
    for i in range(7):
        _create(client, clock, f"LS-{i}", pid)
    first = f.be(client, clock, "GET", "/be/tickets?limit=3&skip=0").json
    second = f.be(client, clock, "GET", "/be/tickets?limit=3&skip=3").json
    third = f.be(client, clock, "GET", "/be/tickets?limit=3&skip=6").json
    ids = [t["id"] for t in first + second + third]
    assert ids == [f"LS-{i}" for i in range(6, -1, -1)]


def test_list_filters_by_player_status_and_type(client, clock):
    alice = f.player(clock, balance=50_000)
    bob = f.player(clock, balance=50_000)
    _create(client, clock, "FL-1", alice)
    _create(client, clock, "FL-2", bob)
    _create(client, clock, "FL-3", alice, ticket_type="jackpot")
    assert (
        f.pam(
            client, clock, "ticket_lost", {"operator": f.OPERATOR, "ticket_id": "FL-1"}
        ).status_code
        == 200
    )

    def ids(query):
        return [t["id"] for t in f.be(client, clock, "GET", f"/be/tickets?{query}").json]

    assert ids(f"user_id={alice}") == ["FL-3", "FL-1"]
    assert ids("status=resulted") == ["FL-1"]
    assert ids("status=open") == ["FL-3", "FL-2"]
    assert ids("skip_types=jackpot") == ["FL-2", "FL-1"]


def test_limit_above_100_is_108(client, clock):
    resp = f.be(client, clock, "GET", "/be/tickets?limit=101")
    assert resp.status_code == 400 and resp.json["code"] == 108


def test_books_reconcile_after_a_busy_day(client, clock):
    """Every kind of Betstack event on several tickets, then every invariant holds."""
    pid = f.player(clock, balance=20_000)
    _create(client, clock, "BD-1", pid)
    _create(client, clock, "BD-2", pid)
    _create(client, clock, "BD-3", pid)
    assert f.pam(client, clock, "ticket_reserve", f.ticket_data("BD-4", pid)).status_code == 200
    assert f.pam(client, clock, "ticket_reserve", f.ticket_data("BD-5", pid)).status_code == 200
    for action, ticket in [
        ("ticket_win", "BD-1"),
        ("ticket_void", "BD-2"),
        ("ticket_refund", "BD-3"),
        ("ticket_discard", "BD-5"),
        ("ticket_rollback", "BD-1"),
        ("ticket_lost", "BD-1"),
    ]:
        resp = f.pam(client, clock, action, {"operator": f.OPERATOR, "ticket_id": ticket})
        assert resp.status_code == 200, (action, resp.text)
    assert f.be(client, clock, "POST", "/be/tickets/BD-4/paid").status_code == 200
    report = reconcile.reconcile()
    assert report.ok, report.render()
    assert f.wallet(clock, pid).balance == 20_000 - 500 - 500  # BD-1 lost, BD-4 paid
