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
