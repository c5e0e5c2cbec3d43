"""The hash-chained audit log: appends form one chain, and `verify` detects a row that an
attacker with database access edited or deleted (SPEC section 10)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from peewee import DatabaseError

from gateway.core import audit
from gateway.core.audit import GENESIS, Actor
from gateway.store.database import database, is_postgres, read_snapshot, unit_of_work
from gateway.store.models import AuditHead, AuditRecord

NOW = dt.datetime(2026, 11, 21, 12, 0, 0, 123456)
CASHIER = Actor("user", "cashier-1")


def _append(n: int, start: int = 0) -> list[int]:
    seqs = []
    for i in range(start, start + n):
        with unit_of_work(database):
            seqs.append(
                audit.append(
                    CASHIER,
                    "TICKET_PAY",
                    now=NOW + dt.timedelta(seconds=i),
                    target_type="ticket",
                    target_id=f"t-{i}",
                    request_id=f"req-{i}",
                    details={"amount": 100 * i},
                )
            )
    return seqs


@contextmanager
def _without_append_only_guard(db: Any) -> Iterator[None]:
    """What an attacker with database access does first: turn the append-only trigger off
    (restored afterwards on PostgreSQL, whose test database outlives this test)."""
    with db.atomic():
        if is_postgres(db):
            db.execute_sql("ALTER TABLE audit_record DISABLE TRIGGER audit_record_append_only")
        else:
            db.execute_sql("DROP TRIGGER audit_record_no_update")
            db.execute_sql("DROP TRIGGER audit_record_no_delete")
    try:
        yield
    finally:
        if is_postgres(db):
            with db.atomic():
                db.execute_sql("ALTER TABLE audit_record ENABLE TRIGGER audit_record_append_only")


def test_appended_rows_form_a_chain_that_verifies(db) -> None:
    assert _append(5) == [1, 2, 3, 4, 5]
    rows = list(AuditRecord.select().order_by(AuditRecord.seq))
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    head = AuditHead.get_by_id(1)
    assert (head.seq, head.hash) == (5, rows[-1].hash)
    report = audit.verify()
    assert report.ok, report.problems
    assert report.checked == 5


def test_an_empty_chain_verifies(db) -> None:
    report = audit.verify()
    assert (report.ok, report.checked) == (True, 0)


def test_the_chain_is_verified_across_batches(db) -> None:
    _append(12)
    report = audit.verify(batch=5)
    assert report.ok, report.problems
    assert report.checked == 12


def test_a_row_records_who_did_what_to_which_target(db) -> None:
    _append(1)
    row = AuditRecord.get_by_id(1)
    assert (
        row.actor_type,
        row.actor_id,
        row.action,
        row.target_type,
        row.target_id,
        row.result,
        row.request_id,
    ) == ("user", "cashier-1", "TICKET_PAY", "ticket", "t-0", "ok", "req-0")
    assert row.details == '{"amount":0}'


def test_audit_rows_cannot_be_updated_or_deleted_while_the_guard_is_on(db) -> None:
    _append(2)
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        AuditRecord.update(result="ok").where(AuditRecord.seq == 1).execute()
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        AuditRecord.delete().where(AuditRecord.seq == 2).execute()
    assert audit.verify().ok


def test_an_edited_row_is_detected(db) -> None:
    _append(5)
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.update(actor_id="someone-else").where(AuditRecord.seq == 3).execute()
    report = audit.verify()
    assert not report.ok
    assert report.problems == ["row 3: content does not match its hash"]


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link(db) -> None:
    _append(5)
    row = AuditRecord.get_by_id(2)
    forged = {**audit._fields(row), "details": '{"amount":999999}'}
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.update(
            details=forged["details"], hash=audit._digest(row.prev_hash, forged)
        ).where(AuditRecord.seq == 2).execute()
    report = audit.verify()
    assert report.problems == ["row 3: previous-hash link is broken"]


def test_a_deleted_middle_row_is_detected(db) -> None:
    _append(5)
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.delete().where(AuditRecord.seq == 3).execute()
    report = audit.verify()
    assert not report.ok
    assert "rows 3..3 are missing" in report.problems
    assert "row 4: previous-hash link is broken" in report.problems
    assert report.checked == 4


def test_a_deleted_last_row_is_detected_by_the_head(db) -> None:
    _append(5)
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.delete().where(AuditRecord.seq == 5).execute()
    report = audit.verify()
    assert not report.ok
    assert report.problems == ["chain head says seq 5, rows end at 4: rows were removed"]


def test_a_missing_head_is_detected(db) -> None:
    _append(2)
    with unit_of_work(db):
        AuditHead.delete().execute()
    assert audit.verify().problems == ["chain head is missing"]


def test_racing_appends_form_one_chain(db) -> None:
    threads = 32
    barrier = threading.Barrier(threads)
    seqs: list[int] = []
    errors: list[Exception] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            with unit_of_work(database):
                seqs.append(audit.append(CASHIER, "RACE", now=NOW, target_id=str(i)))
        except Exception as exc:  # the test reports what went wrong
            errors.append(exc)
        finally:
            database.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(seqs) == list(range(1, threads + 1))
    report = audit.verify()
    assert (report.ok, report.checked) == (True, threads)


def _verify_while_appending(verify: Any) -> list[list[str]]:
    """Run `verify` repeatedly while another thread keeps appending; the problems found."""
    _append(20)
    stop = threading.Event()

    def appender() -> None:
        try:
            i = 100
            while not stop.is_set():
                _append(1, start=i)
                i += 1
                time.sleep(0.001)
        finally:
            database.close()

    thread = threading.Thread(target=appender)
    thread.start()
    found: list[list[str]] = []
    deadline = time.monotonic() + 1.0
    try:
        while time.monotonic() < deadline:
            found.append(verify().problems)
    finally:
        stop.set()
        thread.join(timeout=30)
    return [problems for problems in found if problems]


def test_verify_in_a_snapshot_is_not_confused_by_concurrent_appends(db) -> None:
    """How `pamgate audit verify` runs: one read snapshot for the whole walk."""

    def in_snapshot() -> audit.VerifyReport:
        with read_snapshot():
            return audit.verify()

    assert _verify_while_appending(in_snapshot) == []
