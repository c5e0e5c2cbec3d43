"""Edge cases found in review: races on one ticket (PostgreSQL row locks, SQLite file lock)
and the SQLite writer lock itself. Regression tests name the bug they guard against; the
others pin down behaviour that was checked and found correct."""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import falcon.testing
import pytest

from gateway.core import betengine, reconcile
from gateway.store.database import is_postgres
from gateway.store.models import Hold, Ticket
from tests import factories as f

THREADS = 16


def _race(app, db, clock, calls):
    """Run (kind, action_or_path, data) calls at once; returns (status, text) each."""
    barrier = threading.Barrier(len(calls))

    def one(call):
        kind, what, data = call
        client = falcon.testing.TestClient(app)
        try:
            if kind == "pam":
                raw, headers = f.signed({"action": what, "data": data}, clock)
                barrier.wait()
                resp = client.simulate_post("/pam", body=raw, headers=headers)
            else:
                raw, headers = f.signed(None, clock)
                barrier.wait()
                resp = client.simulate_post(what, body=raw, headers=headers)
            return resp.status_code, resp.text
        finally:
            db.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def _ev(ticket_id):
    return {"operator": f.OPERATOR, "ticket_id": ticket_id}


def test_concurrent_duplicate_rollbacks_then_resettle_and_rollback(app, db, clock):
    """Regression (same root cause as the functional test of repeated rollbacks): concurrent
    duplicates of one `ticket_rollback` reverse the win once (correct), but every
    duplicate that waited on the ticket lock claims `ticket_rollback:{id}:1` with a no-op
    result, so the next real rollback (of the generation-1 win) is replayed and reverses
    nothing."""
    pid = f.player(clock, balance=1_000)
    client = falcon.testing.TestClient(app)
    assert f.pam(client, clock, "ticket_create", f.ticket_data("CR-1", pid)).status_code == 200
    assert f.pam(client, clock, "ticket_win", _ev("CR-1")).status_code == 200
    results = _race(app, db, clock, [("pam", "ticket_rollback", _ev("CR-1"))] * THREADS)
    assert results == [(200, "")] * THREADS
    assert f.wallet(clock, pid).balance == 500  # reversed exactly once
    assert f.pam(client, clock, "ticket_win", _ev("CR-1")).status_code == 200
    assert f.pam(client, clock, "ticket_rollback", _ev("CR-1")).status_code == 200
    assert f.wallet(clock, pid).balance == 500
    assert reconcile.reconcile().ok


def test_discard_of_unknown_ticket_racing_its_create_leaves_the_wallet_whole(app, db, clock):
    """Checked, correct: tombstone vs create on the unique (channel, operator,
    external_id) index — either the create wins and the discard undoes it, or the tombstone
    wins and the create gets 104. The wallet ends where it started."""
    for i in range(6):
        pid = f.player(clock, balance=1_000)
        tid = f"DC-{i}"
        calls = [
            ("pam", "ticket_create", f.ticket_data(tid, pid)),
            ("pam", "ticket_discard", _ev(tid)),
        ]
        results = _race(app, db, clock, calls)
        assert results[1] == (200, ""), results
        assert results[0][0] in (200, 400), results
        if results[0][0] == 400:
            assert '"code":104' in results[0][1]
        assert f.wallet(clock, pid).balance == 1_000, (results, i)
        assert Ticket.get(Ticket.external_id == tid).status == "CANCELLED"
    assert reconcile.reconcile().ok


def test_paid_racing_discard_of_a_reservation_moves_money_once(app, db, clock):
    """Checked, correct: both lock the ticket row; the loser sees the winner's status."""
    for i in range(6):
        pid = f.player(clock, balance=1_000)
        tid = f"PD-{i}"
        client = falcon.testing.TestClient(app)
        assert (
            f.pam(
                client, clock, "ticket_reserve", f.ticket_data(tid, pid, psp="wallet")
            ).status_code
            == 200
        )
        calls = [("be", f"/be/tickets/{tid}/paid", None), ("pam", "ticket_discard", _ev(tid))]
        results = _race(app, db, clock, calls)
        bal = f.wallet(clock, pid)
        assert bal.held == 0
        ticket = Ticket.get(Ticket.external_id == tid)
        assert ticket.status == "CANCELLED", results
        assert bal.balance == 1_000, (results, bal)
    assert reconcile.reconcile().ok


def test_paid_racing_the_expiry_sweeper_moves_money_once(app, db, clock):
    """Checked, correct: the sweeper claims with SKIP LOCKED and re-checks the status;
    `paid` expires a due reservation first and answers 117."""
    pid = f.player(clock, balance=10_000)
    client = falcon.testing.TestClient(app)
    for i in range(6):
        assert (
            f.pam(
                client, clock, "ticket_reserve", f.ticket_data(f"PX-{i}", pid, psp="wallet")
            ).status_code
            == 200
        )
    clock.advance(1801)
    barrier = threading.Barrier(2)

    def sweep(_):
        barrier.wait()
        try:
            return betengine.expire_reservations(clock.now())
        finally:
            db.close()

    def pay(_):
        c = falcon.testing.TestClient(app)
        out = []
        barrier.wait()
        try:
            for i in range(6):
                # body-less POSTs sign only the timestamp: one second each, as the engine does
                raw, headers = f.signed(None, clock, skew=i)
                out.append(
                    c.simulate_post(
                        f"/be/tickets/PX-{i}/paid", body=raw, headers=headers
                    ).status_code
                )
            return out
        finally:
            db.close()

    with ThreadPoolExecutor(2) as pool:
        fs = [pool.submit(sweep, 0), pool.submit(pay, 0)]
        [x.result() for x in fs]
    assert fs[1].result() == [400] * 6
    bal = f.wallet(clock, pid)
    assert (bal.balance, bal.held) == (10_000, 0)
    assert Hold.select().where(Hold.status == "open").count() == 0
    assert reconcile.reconcile().ok


def test_sqlite_writer_lock_does_not_leak_a_descriptor_per_thread(db, clock):
    """Regression (fd leak, SQLite only): `_FileLock` is a `threading.local` that opens
    `<db>.lock` once per thread and never closes it; when a thread ends its descriptor is
    lost (the int is garbage-collected, the OS fd stays open). Any code that writes from
    short-lived threads (ThreadPoolExecutor in tools/tests, a gthread worker whose
    threads are recycled) leaks one fd per thread until EMFILE.
    Fix: keep one fd per path per process (opened once, guarded by a `threading.Lock` for
    the in-process queue plus `flock` for other processes), or close the fd in `release`
    / register a `weakref.finalize` on the thread-local state that `os.close`s it."""
    if is_postgres(db):
        pytest.skip("SQLite only")
    pid = f.player(clock, balance=0)
    fd_dir = "/proc/self/fd"

    def lock_fds() -> int:
        n = 0
        for name in os.listdir(fd_dir):
            with contextlib.suppress(OSError):
                n += os.readlink(os.path.join(fd_dir, name)).endswith(".lock")
        return n

    before = lock_fds()

    def one(i):
        from gateway.core import players

        players.move_cash(
            f.ctx(clock),
            f.ADMIN_USER,
            players.CashMovement(player_id=pid, amount=1, method="cash", idempotency_key=f"fd-{i}"),
            deposit=True,
        )
        db.close()

    for i in range(20):
        t = threading.Thread(target=one, args=(i,))
        t.start()
        t.join()
    after = lock_fds()
    assert f.wallet(clock, pid).balance == 20
    assert after - before <= 1, (before, after)
