"""Concurrent duplicate callbacks (Betstack retries) move money exactly once. These matter
most on PostgreSQL (row locks, unique indexes); they must also hold on SQLite."""

from __future__ import annotations

import falcon.testing

from gateway.core import reconcile
from gateway.store.models import Entry, LedgerTxn
from tests import factories as f
from tests.concurrency import race

THREADS = 32


def _race(app, clock, action, data, threads=THREADS):
    def arm(_):
        client = falcon.testing.TestClient(app)
        raw, headers = f.signed({"action": action, "data": data}, clock)

        def send():
            resp = client.simulate_post("/pam", body=raw, headers=headers)
            return resp.status_code, resp.text

        return send

    return race(threads, arm)


def test_32_identical_creates_debit_once(app, db, clock):
    pid = f.player(clock, balance=10_000)
    results = _race(app, clock, "ticket_create", f.ticket_data("RC-1", pid))
    assert results == [(200, "")] * THREADS
    assert f.wallet(clock, pid).balance == 9_500
    assert LedgerTxn.select().where(LedgerTxn.kind == "bet.stake").count() == 1
    assert reconcile.reconcile().ok


def test_32_identical_wins_credit_once(app, db, clock):
    pid = f.player(clock, balance=10_000)
    client = falcon.testing.TestClient(app)
    assert f.pam(client, clock, "ticket_create", f.ticket_data("RW-1", pid)).status_code == 200
    results = _race(app, clock, "ticket_win", {"operator": f.OPERATOR, "ticket_id": "RW-1"})
    assert results == [(200, "")] * THREADS
    assert f.wallet(clock, pid).balance == 9_500 + 2602
    assert LedgerTxn.select().where(LedgerTxn.kind == "bet.win").count() == 1
    assert reconcile.reconcile().ok


def test_many_tickets_racing_on_one_wallet_never_overdraw(app, db, clock):
    pid = f.player(clock, balance=2_000)  # affords exactly 4 tickets of 500

    def arm(i):
        client = falcon.testing.TestClient(app)
        raw, headers = f.signed(
            {"action": "ticket_create", "data": f.ticket_data(f"RM-{i}", pid)}, clock
        )
        return lambda: client.simulate_post("/pam", body=raw, headers=headers).status_code

    codes = race(THREADS, arm)
    assert codes.count(200) == 4
    assert codes.count(400) == THREADS - 4
    assert f.wallet(clock, pid).balance == 0
    assert sum(e.amount for e in Entry.select()) == 0
    assert reconcile.reconcile().ok
