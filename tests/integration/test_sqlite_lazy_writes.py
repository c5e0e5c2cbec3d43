"""On SQLite, a signed request's first (optimistic) attempt begins its write transaction at
its first write: reads run before it, rows expected to be new and writes nobody reads wait
in a queue, and only then are the writers' lock and `BEGIN IMMEDIATE` taken (the queue runs
first). What the lock covers is what every other writer waits for, so validation, the
claims and the player lookup are outside it. A repeat (a queued row that exists) makes the
attempt fail, and the request runs again carefully, as on PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import falcon.testing
import pytest

import gateway.store.database as store
from gateway.core import reconcile
from gateway.store import fastsql
from gateway.store.database import database, is_postgres, locked
from gateway.store.models import Player, SignatureUse
from tests import factories as f
from tests.integration.test_optimistic_claims import _create, _use
from tests.round_trips import record_round_trips


@pytest.fixture
def sent(db: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each statement SQLite runs from now on, and `LOCK` / `UNLOCK` where the writers'
    lock is taken and released."""
    if is_postgres(db) or not isinstance(db, store.WriterSqlite):
        pytest.skip("SQLite on a file only")
    trips = record_round_trips(db, monkeypatch)
    real_acquire, real_release = store._FileLock.acquire, store._FileLock.release

    def acquire(self: Any) -> None:
        real_acquire(self)
        trips.append("LOCK")

    def release(self: Any) -> None:
        trips.append("UNLOCK")
        real_release(self)

    monkeypatch.setattr(store._FileLock, "acquire", acquire)
    monkeypatch.setattr(store._FileLock, "release", release)
    return trips


def test_a_new_ticket_looks_its_player_up_before_taking_the_writers_lock(app, db, clock, sent):
    pid = f.player(clock, balance=10_000)
    client = falcon.testing.TestClient(app)
    sent.clear()
    resp, _, _ = _create(client, clock, "LAZY-1", pid)
    assert resp.status_code == 200
    lock = sent.index("LOCK")
    before, inside = sent[:lock], sent[lock + 1 : sent.index("UNLOCK")]
    assert any("FROM player" in s for s in before)  # the lookup, outside the lock
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE", "BEGIN")) for s in before)
    assert inside[0] == "BEGIN IMMEDIATE"
    # the queue runs first: the once-only record, the idempotency key, the new ticket
    assert [s.split()[2] for s in inside[1:4]] == ["signature_use", "idempotency_record", "ticket"]
    assert inside[-1] == "COMMIT"
    assert sent.count("LOCK") == 1  # one critical section for the request
    assert f.wallet(clock, pid).balance == 9_500
    assert reconcile.reconcile().ok


def test_a_read_of_a_queued_table_begins_first_and_sees_the_row(db, sent):
    seen: list[int] = []

    def attempt() -> None:
        with store.unit_of_work(database):
            assert fastsql.insert_expected("signature_use", _use("q1", "POST")) is None  # queued
            assert "LOCK" not in sent
            count = fastsql.execute("SELECT count(*) FROM signature_use").fetchone()[0]
            seen.append(count)

    fastsql.optimistically(attempt)
    assert seen == [1]
    assert sent[sent.index("LOCK") + 1] == "BEGIN IMMEDIATE"


def test_a_row_lock_begins_the_transaction(db, clock, sent):
    pid = f.player(clock, balance=0)
    sent.clear()

    def attempt() -> None:
        with store.unit_of_work(database):
            fastsql.execute("SELECT count(*) FROM ticket").fetchone()  # a read: no lock
            assert "LOCK" not in sent
            list(locked(Player.select().where(Player.id == pid)))  # what PostgreSQL locks
            assert sent[-3:-1] == ["LOCK", "BEGIN IMMEDIATE"]

    fastsql.optimistically(attempt)


def test_a_transaction_that_wrote_nothing_never_begins_nor_flushes(db, clock, sent, monkeypatch):
    pid = f.player(clock, balance=0)
    flushes: list[int] = []
    monkeypatch.setattr(os, "fdatasync", flushes.append)
    sent.clear()

    def attempt() -> None:
        with store.unit_of_work(database):
            assert Player.get_by_id(pid).id == pid

    fastsql.optimistically(attempt)
    assert "LOCK" not in sent and "BEGIN IMMEDIATE" not in sent and "COMMIT" not in sent
    assert flushes == []


def test_a_lazy_write_is_flushed_before_the_caller_goes_on(db, sent, monkeypatch):
    flushes: list[int] = []
    monkeypatch.setattr(os, "fdatasync", flushes.append)

    def attempt() -> None:
        with store.unit_of_work(database):
            fastsql.insert_expected("signature_use", _use("d1", "POST"))

    fastsql.optimistically(attempt)
    assert len(flushes) == 1
    assert sent.index("COMMIT") < sent.index("UNLOCK")
    assert SignatureUse.select().where(SignatureUse.signature == "d1").count() == 1
