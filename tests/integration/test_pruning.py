"""Pruning the once-only and idempotency records walks their tables by id, a window of ids
per transaction, with no index on the time they are pruned by: a record is never deleted
before its time, whatever its place in the table, and a backlog larger than a window is
deleted in full."""

from __future__ import annotations

import datetime as dt
import uuid

from gateway.core import idempotency, replays
from gateway.store.database import unit_of_work
from gateway.store.models import IdempotencyRecord, SignatureUse
from gateway.store.pruning import delete_in_id_order

NOW = dt.datetime(2026, 12, 6, 12, 0, 0)


def _signatures(db, expires: list[dt.datetime]) -> list[str]:  # type: ignore[no-untyped-def]
    """Once-only records written in this order (so with ids in this order)."""
    names = []
    with unit_of_work(db):
        for at in expires:
            name = uuid.uuid4().hex
            SignatureUse.create(
                partner="betstack-demo",
                signature=name,
                method="POST",
                request_hash="0" * 64,
                status_code=200,
                response="null",
                created_at=at - dt.timedelta(minutes=10),
                expires_at=at,
            )
            names.append(name)
    return names


def _left() -> set[str]:
    return {row.signature for row in SignatureUse.select(SignatureUse.signature)}


def test_a_record_is_never_forgotten_before_its_expiry_wherever_it_sits(db) -> None:  # type: ignore[no-untyped-def]
    past, future = NOW - dt.timedelta(seconds=1), NOW + dt.timedelta(minutes=30)
    # a long-window partner's records between short-window ones that have expired
    names = _signatures(db, [past, future, past, past, future, past, NOW])
    assert replays.prune(NOW) == 5  # expiring exactly now counts as expired
    assert _left() == {names[1], names[4]}
    assert replays.prune(NOW) == 0


def test_a_backlog_longer_than_a_window_is_deleted_in_full(db) -> None:  # type: ignore[no-untyped-def]
    old = NOW - dt.timedelta(hours=2)
    names = _signatures(db, [old] * 23 + [NOW + dt.timedelta(minutes=5)] * 2)
    deleted = delete_in_id_order(SignatureUse, SignatureUse.expires_at <= NOW, batch=5)
    assert deleted == 23
    assert _left() == set(names[23:])


def test_the_walk_stops_at_a_window_where_nothing_has_expired(db) -> None:  # type: ignore[no-untyped-def]
    """What follows such a window is newer: the expired record after it waits for a run
    made once the records before it have expired too."""
    past, later = NOW - dt.timedelta(minutes=1), NOW + dt.timedelta(minutes=30)
    names = _signatures(db, [past] * 3 + [later] * 3 + [past])
    condition = SignatureUse.expires_at <= NOW
    assert delete_in_id_order(SignatureUse, condition, batch=3) == 3
    assert _left() == set(names[3:])
    after = SignatureUse.expires_at <= later
    assert delete_in_id_order(SignatureUse, after, batch=3) == 4
    assert _left() == set()


def test_idempotency_records_older_than_the_retention_are_deleted(db) -> None:  # type: ignore[no-untyped-def]
    before = NOW - dt.timedelta(days=120)
    ages = [200, 130, 10, 121, 1]  # days, in the order written
    with unit_of_work(db):
        for n, days in enumerate(ages):
            IdempotencyRecord.create(
                scope="betstack:acme",
                key=f"ticket_create:t{n}:0",
                fingerprint="0" * 64,
                status_code=1,
                response_body="null",
                created_at=NOW - dt.timedelta(days=days),
            )
    assert idempotency.prune(before) == 3
    kept = {r.key for r in IdempotencyRecord.select(IdempotencyRecord.key)}
    assert kept == {"ticket_create:t2:0", "ticket_create:t4:0"}


def test_the_pruned_tables_have_no_time_index(db) -> None:  # type: ignore[no-untyped-def]
    """Every signed request writes a once-only record, every money movement an idempotency
    record: an index on their time cost each a page of SQLite's log and PostgreSQL an index
    insertion, for a query that runs once a day."""
    names = {
        index.name
        for table in ("signature_use", "idempotency_record")
        for index in db.get_indexes(table)
    }
    assert "signature_use_expires_at" not in names
    assert "idempotency_record_created_at" not in names
    assert "signature_use_partner_signature" in names  # the once-only key itself stays
    assert "idempotency_record_scope_key" in names
