"""Acknowledged money is on disk: on SQLite every write transaction's log is flushed
(`fdatasync` of `<db>-wal`) after its COMMIT and before the caller goes on; on PostgreSQL
the server's own `synchronous_commit` does it. A flush that fails fails the caller."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import pytest

from gateway.store.database import bind, open_database, unit_of_work
from gateway.store.migrations import migrate
from gateway.store.models import Account


def _account(code: str) -> dict[str, Any]:
    return dict(
        code=code,
        kind="player_wallet",
        currency="USD",
        normal_side="credit",
        caches_balance=True,
        balance=0,
        held=0,
        created_at="2026-11-21 12:00:00",
    )


def test_a_sqlite_commit_is_flushed_to_disk_before_unit_of_work_returns(
    tmp_path, monkeypatch
) -> None:
    path = tmp_path / "durable.db"
    db = bind(open_database(f"sqlite:///{path}"))
    migrate(db)
    flushed: list[tuple[int, bool]] = []
    real = os.fdatasync

    def spy(fd: int) -> None:
        # What is on the descriptor, and whether the new row is already committed (another
        # connection sees it) when the flush runs.
        other = sqlite3.connect(str(path))
        committed = other.execute("SELECT count(*) FROM account WHERE code = 'w1'").fetchone()[0]
        other.close()
        flushed.append((os.fstat(fd).st_ino, committed == 1))
        real(fd)

    monkeypatch.setattr(os, "fdatasync", spy)
    with unit_of_work(db):
        Account.create(**_account("w1"))
        assert flushed == []  # nothing flushed while the transaction is open
    wal = os.stat(f"{path}-wal").st_ino
    assert flushed == [(wal, True)]
    db.close()


def test_a_failed_flush_fails_the_caller(tmp_path, monkeypatch) -> None:
    db = bind(open_database(f"sqlite:///{tmp_path / 'broken.db'}"))
    migrate(db)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with pytest.raises(OSError, match="Input/output"), unit_of_work(db):
        Account.create(**_account("w2"))
    db.close()


def test_a_refused_transaction_is_not_flushed(tmp_path, monkeypatch) -> None:
    db = bind(open_database(f"sqlite:///{tmp_path / 'refused.db'}"))
    migrate(db)
    calls: list[int] = []
    monkeypatch.setattr(os, "fdatasync", calls.append)
    with pytest.raises(RuntimeError), unit_of_work(db):
        Account.create(**_account("w3"))
        raise RuntimeError("refused")
    assert calls == []
    assert Account.select().where(Account.code == "w3").count() == 0
    db.close()


def test_sqlite_checkpoints_outside_the_writers_lock_and_the_log_stays_bounded(
    tmp_path, monkeypatch
) -> None:
    """SQLite's automatic checkpoint (inside the COMMIT that crosses the threshold, with every
    other writer queued behind it) is off; the writer that finds the log past the threshold
    copies it after its commit, first without the writers' lock, then, under it, what was
    committed meanwhile, so the log starts again from the top instead of growing."""
    import fcntl

    import gateway.store.database as store

    path = tmp_path / "checkpoint.db"
    db = bind(open_database(f"sqlite:///{path}"))
    migrate(db)
    assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the migrations' log: start empty
    monkeypatch.setattr(store, "CHECKPOINT_FRAMES", 30)
    lock_path = f"{path}.lock"
    held: list[bool] = []
    real = store._passive_checkpoint

    def spy(conn: Any) -> None:
        probe = os.open(lock_path, os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(probe, fcntl.LOCK_UN)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(probe)
        real(conn)

    monkeypatch.setattr(store, "_passive_checkpoint", spy)
    checkpointer = store._file(str(path)).checkpointer
    sizes = []
    for i in range(300):
        with unit_of_work(db):
            Account.create(**{**_account(f"c{i}"), "code": f"c{i}-" + "x" * 150})
        assert checkpointer.pending_frames() < 30 + 10  # copied once past the threshold
        sizes.append(os.path.getsize(f"{path}-wal"))
    assert held[:2] == [False, True]  # the bulk without the lock, the rest under it
    assert held == [False, True] * (len(held) // 2) and len(held) >= 6
    assert max(sizes) < 60 * (4096 + 24)  # restarted from the top, not grown
    assert Account.select().where(Account.code.startswith("c")).count() == 300
    db.close()


def test_concurrent_commits_share_a_flush_that_began_after_each_of_them(
    tmp_path, monkeypatch
) -> None:
    """Group commit: a caller that finds a flush running waits for the next one (which began
    after its commit), and that one flush serves every caller waiting for it."""
    import threading
    import time

    import gateway.store.database as store

    path = tmp_path / "group.db"
    db = bind(open_database(f"sqlite:///{path}"))
    migrate(db)
    with unit_of_work(db):
        Account.create(**_account("g0"))  # the log exists
    flushes: list[tuple[float, float]] = []

    def slow(fd: int) -> None:
        began = time.perf_counter()
        time.sleep(0.05)
        flushes.append((began, time.perf_counter()))

    monkeypatch.setattr(os, "fdatasync", slow)
    sync = store._file(str(path)).sync
    calls: list[tuple[float, float]] = []
    barrier = threading.Barrier(8)

    def caller() -> None:
        barrier.wait()
        called = time.perf_counter()
        sync.flush()
        calls.append((called, time.perf_counter()))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 8
    assert len(flushes) <= 3  # not one each
    for called, returned in calls:  # each covered by a flush that began after its call
        assert any(called <= began and ended <= returned for began, ended in flushes)
    db.close()


def test_every_caller_waiting_on_a_failed_flush_fails(tmp_path, monkeypatch) -> None:
    import threading
    import time

    import gateway.store.database as store

    path = tmp_path / "failed.db"
    db = bind(open_database(f"sqlite:///{path}"))
    migrate(db)
    with unit_of_work(db):
        Account.create(**_account("f0"))
    sync = store._file(str(path)).sync
    first_running = threading.Event()
    count: list[int] = []

    def flaky(fd: int) -> None:
        count.append(fd)
        time.sleep(0.05)  # the others arrive meanwhile and wait for the next flush
        if len(count) == 1:
            return
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", flaky)
    outcomes: list[str] = []

    def caller(name: str, after: threading.Event | None) -> None:
        if after is not None:
            after.wait()
            time.sleep(0.01)
        else:
            first_running.set()
        try:
            sync.flush()
            outcomes.append(f"{name} ok")
        except OSError:
            outcomes.append(f"{name} failed")

    threads = [threading.Thread(target=caller, args=("first", None))] + [
        threading.Thread(target=caller, args=(name, first_running)) for name in ("b", "c")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["b failed", "c failed", "first ok"]
    assert len(count) == 2  # b and c shared the second flush, which failed for both
    db.close()
