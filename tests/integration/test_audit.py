"""The audit log: every row carries its own hash, rows are sealed in Merkle batches whose
seals form a hash chain, and `verify` detects a row or seal that an attacker with database
access edited, deleted, inserted or reordered (SPEC section 10)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from peewee import DatabaseError

from gateway.core import audit
from gateway.core.audit import GENESIS, Actor
from gateway.store import migrations
from gateway.store.database import (
    bind,
    database,
    is_postgres,
    open_database,
    read_snapshot,
    unit_of_work,
)
from gateway.store.models import AuditRecord, AuditSeal

NOW = dt.datetime(2026, 11, 21, 12, 0, 0, 123456)
CASHIER = Actor("user", "cashier-1")


def _append(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with unit_of_work(database):
            audit.append(
                CASHIER,
                "TICKET_PAY",
                now=NOW + dt.timedelta(seconds=i),
                target_type="ticket",
                target_id=f"t-{i}",
                request_id=f"req-{i}",
                details={"amount": 100 * i},
            )


def _seqs() -> list[int]:
    return [r.seq for r in AuditRecord.select(AuditRecord.seq).order_by(AuditRecord.seq)]


def _nth(n: int) -> AuditRecord:
    """The n-th row (1-based) in seq order (PostgreSQL's numbers need not start at 1)."""
    return next(iter(AuditRecord.select().order_by(AuditRecord.seq).offset(n - 1).limit(1)))


@contextmanager
def _without_append_only_guard(db: Any, table: str = "audit_record") -> Iterator[None]:
    """What an attacker with database access does first: turn the append-only trigger off
    (restored afterwards on PostgreSQL, whose test database outlives this test)."""
    with db.atomic():
        if is_postgres(db):
            db.execute_sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        else:
            db.execute_sql(f"DROP TRIGGER {table}_no_update")
            db.execute_sql(f"DROP TRIGGER {table}_no_delete")
    try:
        yield
    finally:
        if is_postgres(db):
            with db.atomic():
                db.execute_sql(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def test_appended_rows_verify_and_are_sealed_in_one_batch(db) -> None:
    _append(5)
    rows = list(AuditRecord.select().order_by(AuditRecord.seq))
    assert len(rows) == 5 and len(set(_seqs())) == 5
    assert all(r.prev_hash == "" and r.hash == audit.row_hash(r) for r in rows)
    report = audit.verify()
    assert (report.ok, report.checked, report.pending) == (True, 5, 5), report.problems
    assert audit.seal(NOW) == 5
    assert audit.seal(NOW) == 0  # nothing new
    seal = AuditSeal.select().order_by(AuditSeal.batch.desc()).get()
    assert (seal.batch, seal.row_count, seal.last_seq) == (1, 5, rows[-1].seq)
    assert seal.root == audit.merkle_root([(r.seq, r.hash) for r in rows])
    assert seal.prev_hash == AuditSeal.get_by_id(0).hash
    report = audit.verify()
    assert (report.ok, report.checked, report.pending, report.seals) == (True, 5, 0, 2)


def test_an_empty_log_verifies(db) -> None:
    report = audit.verify()
    assert (report.ok, report.checked) == (True, 0)


def test_the_log_is_verified_across_pages_and_batches(db) -> None:
    _append(12)
    assert audit.seal(NOW, max_rows=5) == 12
    assert [s.row_count for s in AuditSeal.select().order_by(AuditSeal.batch)] == [0, 5, 5, 2]
    _append(3, start=20)  # and some not sealed yet
    report = audit.verify(batch=5)
    assert report.ok, report.problems
    assert (report.checked, report.pending) == (15, 3)


def test_a_row_records_who_did_what_to_which_target(db) -> None:
    _append(1)
    row = _nth(1)
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


def test_rows_and_seals_cannot_be_updated_or_deleted_while_the_guard_is_on(db) -> None:
    _append(2)
    audit.seal(NOW)
    first = _nth(1).seq
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        AuditRecord.update(result="ok").where(AuditRecord.seq == first).execute()
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        AuditRecord.delete().where(AuditRecord.seq == first).execute()
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        AuditSeal.update(row_count=1).where(AuditSeal.batch == 1).execute()
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        AuditSeal.delete().where(AuditSeal.batch == 1).execute()
    assert audit.verify().ok


@pytest.mark.parametrize("sealed", [False, True], ids=["pending", "sealed"])
def test_an_edited_row_is_detected(db, sealed: bool) -> None:
    _append(5)
    if sealed:
        audit.seal(NOW)
    target = _nth(3).seq
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.update(actor_id="someone-else").where(AuditRecord.seq == target).execute()
    report = audit.verify()
    assert not report.ok
    assert f"row {target}: content does not match its hash" in report.problems


def test_an_edited_sealed_row_with_a_recomputed_hash_breaks_its_batch(db) -> None:
    _append(5)
    audit.seal(NOW)
    row = _nth(2)
    forged = {**audit._fields(row, with_seq=False), "details": '{"amount":999999}'}
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.update(details=forged["details"], hash=audit.row_hash(forged)).where(
            AuditRecord.seq == row.seq
        ).execute()
    report = audit.verify()
    assert report.problems == ["batch 1: rows were edited or reordered"]


def test_sealed_rows_swapped_are_detected(db) -> None:
    """Reordering: rows 2 and 4 exchange their content (each still matching its hash)."""
    _append(5)
    audit.seal(NOW)
    two, four = _nth(2), _nth(4)
    columns = ("at", "actor_id", "target_id", "request_id", "details", "hash")
    with _without_append_only_guard(db), unit_of_work(db):
        for row, other in ((two, four), (four, two)):
            AuditRecord.update({c: getattr(other, c) for c in columns}).where(
                AuditRecord.seq == row.seq
            ).execute()
    report = audit.verify()
    assert report.problems == ["batch 1: rows were edited or reordered"]


def test_a_deleted_sealed_row_is_detected(db) -> None:
    _append(5)
    audit.seal(NOW)
    middle = _nth(3).seq
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.delete().where(AuditRecord.seq == middle).execute()
    report = audit.verify()
    assert report.problems == ["batch 1: 1 of its 5 rows were removed"]
    assert report.checked == 4


def test_a_deleted_last_sealed_row_is_detected(db) -> None:
    _append(5)
    audit.seal(NOW)
    last = _nth(5).seq
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.delete().where(AuditRecord.seq == last).execute()
    assert audit.verify().problems == ["batch 1: 1 of its 5 rows were removed"]


def test_a_row_inserted_into_a_sealed_batch_is_detected(db) -> None:
    _append(5)
    third = _nth(3)
    with _without_append_only_guard(db), unit_of_work(db):  # a hole in the numbering
        AuditRecord.delete().where(AuditRecord.seq == third.seq).execute()
    audit.seal(NOW)
    assert audit.verify().ok  # a batch of 4 rows, as sealed
    forged = {**audit._fields(third, with_seq=False), "actor_id": "forger"}
    with unit_of_work(db):  # a forged row with a valid hash, slipped into the hole
        AuditRecord.insert(
            seq=third.seq, prev_hash="", hash=audit.row_hash(forged), **forged
        ).execute()
    assert audit.verify().problems == ["batch 1: 1 rows were inserted into it"]


def test_a_removed_or_edited_seal_is_detected(db) -> None:
    _append(6)
    audit.seal(NOW, max_rows=2)  # seals 1, 2 and 3
    with _without_append_only_guard(db, "audit_seal"), unit_of_work(db):
        AuditSeal.update(row_count=1).where(AuditSeal.batch == 3).execute()
        AuditSeal.delete().where(AuditSeal.batch == 1).execute()
    report = audit.verify()
    assert "seals 1..1 are missing" in report.problems
    assert "seal 2: previous-seal link is broken" in report.problems
    assert "seal 3: content does not match its hash" in report.problems


def test_a_missing_seal_zero_is_detected(db) -> None:
    _append(2)
    with _without_append_only_guard(db, "audit_seal"), unit_of_work(db):
        AuditSeal.delete().execute()
    assert "seal 0 is missing: seals were removed" in audit.verify().problems


def test_racing_appends_are_all_kept_and_verify(db) -> None:
    threads = 32
    barrier = threading.Barrier(threads)
    errors: list[Exception] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            with unit_of_work(database):
                audit.append(CASHIER, "RACE", now=NOW, target_id=str(i))
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
    assert len(set(_seqs())) == threads
    assert audit.seal(NOW) == threads
    report = audit.verify()
    assert (report.ok, report.checked, report.pending) == (True, threads, 0)


def test_appends_racing_the_sealer_are_each_sealed_once_and_verify(db) -> None:
    """Writers on several connections while sealers run again and again (two at once, as
    two workers or hosts would): nothing is lost, nothing is sealed twice or skipped (a row
    committing late with a lower number must not fall behind a seal), the log verifies."""
    writers, per_writer = 8, 25
    stop = threading.Event()
    errors: list[Exception] = []

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                with unit_of_work(database):
                    audit.append(CASHIER, "RACE", now=NOW, target_id=f"{w}-{i}")
                    if i % 3 == 0:  # a slow transaction: its row numbered, not committed yet
                        database.execute_sql("SELECT 1")  # sends the pending insert
                        time.sleep(0.005)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            database.close()

    def sealer() -> None:
        try:
            while not stop.is_set():
                audit.seal(NOW, max_rows=7)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            database.close()

    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in sealers + threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    for thread in sealers:
        thread.join(timeout=60)
    assert errors == []
    audit.seal(NOW)
    total = writers * per_writer
    assert AuditRecord.select().count() == total
    seals = list(AuditSeal.select().order_by(AuditSeal.batch))
    assert sum(s.row_count for s in seals) == total
    report = audit.verify()
    assert (report.ok, report.checked, report.pending) == (True, total, 0), report.problems


def _verify_while_appending(verify: Any) -> list[list[str]]:
    """Run `verify` repeatedly while another thread keeps appending and sealing."""
    _append(20)
    stop = threading.Event()

    def appender() -> None:
        try:
            i = 100
            while not stop.is_set():
                _append(1, start=i)
                if i % 5 == 0:
                    audit.seal(NOW)
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


# --- rows written before the seals (migration 12) ---------------------------------------------


def _legacy_append(db: Any, i: int) -> None:
    """How rows were appended before migration 12: one chain, its head row locked."""
    with db.atomic():
        seq, prev = db.execute_sql("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        row = {
            "seq": seq + 1,
            "at": NOW + dt.timedelta(seconds=i),
            "actor_type": "user",
            "actor_id": "cashier-1",
            "action": "TICKET_PAY",
            "target_type": "ticket",
            "target_id": f"t-{i}",
            "result": "ok",
            "request_id": f"req-{i}",
            "details": f'{{"amount":{i}}}',
        }
        row["prev_hash"] = prev
        row["hash"] = audit._digest(prev, audit._fields(row))
        AuditRecord.insert(**row).execute()
        db.execute_sql(
            "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (row["seq"], row["hash"])
        )


def _upgraded(tmp_path: Any, monkeypatch: Any, rows: int) -> Any:
    db = bind(open_database(f"sqlite:///{tmp_path / 'legacy.db'}"))
    before = tuple(m for m in migrations.MIGRATIONS if m.version < 12)
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    migrations.migrate(db)
    for i in range(rows):
        _legacy_append(db, i)
    monkeypatch.undo()
    migrations.migrate(db)
    return db


def test_rows_of_the_old_chain_verify_after_the_migration(tmp_path, monkeypatch) -> None:
    db = _upgraded(tmp_path, monkeypatch, 4)
    seal0 = AuditSeal.get_by_id(0)
    assert (seal0.last_seq, seal0.row_count, seal0.root) == (4, 4, _nth(4).hash)
    _append(3, start=10)  # new rows follow the old chain
    assert audit.seal(NOW) == 3
    assert _seqs() == [1, 2, 3, 4, 5, 6, 7]
    report = audit.verify()
    assert (report.ok, report.checked, report.pending) == (True, 7, 0), report.problems
    db.close()


def test_tampering_with_the_old_chain_is_still_detected(tmp_path, monkeypatch) -> None:
    db = _upgraded(tmp_path, monkeypatch, 4)
    with _without_append_only_guard(db), unit_of_work(db):
        AuditRecord.update(actor_id="someone-else").where(AuditRecord.seq == 2).execute()
        AuditRecord.delete().where(AuditRecord.seq == 4).execute()
    problems = audit.verify().problems
    assert "row 2: content does not match its hash" in problems
    assert "seal 0 says seq 4, rows end at 3: rows were removed" in problems
    db.close()


def test_a_fresh_database_starts_with_an_empty_seal_zero(tmp_path) -> None:
    db = bind(open_database(f"sqlite:///{tmp_path / 'fresh.db'}"))
    migrations.migrate(db)
    seal0 = AuditSeal.get_by_id(0)
    assert (seal0.last_seq, seal0.row_count, seal0.root, seal0.prev_hash) == (
        0,
        0,
        GENESIS,
        GENESIS,
    )
    assert audit.verify().ok
    db.close()
