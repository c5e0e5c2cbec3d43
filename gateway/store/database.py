"""Database setup: SQLite (WAL) by default, pooled PostgreSQL in production.

Models bind to `database` (a `DatabaseProxy`); `open_database(url)` builds the real database
and `bind(db)` points the proxy at it. `unit_of_work(db)` is the one way a service opens a
transaction, and `locked(query)` the one way it takes row locks, so the same service code
is correct on both engines: PostgreSQL gets `SELECT … FOR UPDATE`, SQLite gets
`BEGIN IMMEDIATE`, which already serialises writers. Nothing here connects at import time.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

from peewee import Database, DatabaseProxy, ModelSelect, PostgresqlDatabase, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 15000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -16000,
}


def open_database(url: str, *, pool_size: int = 10) -> Database:
    """Build (but do not connect) the database named by `url`."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :] or ":memory:"
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=15)
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"unsupported database url scheme {parsed.scheme!r}")
    kwargs: dict[str, Any] = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
    }
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    name = unquote(parsed.path.lstrip("/")) or "postgres"
    return PooledPostgresqlDatabase(
        name, max_connections=pool_size, stale_timeout=300, timeout=10,
        autoconnect=True, **kwargs,
    )


def bind(db: Database) -> Database:
    database.initialize(db)
    return db


def is_postgres(db: Database | DatabaseProxy) -> bool:
    target = db.obj if isinstance(db, DatabaseProxy) else db
    return isinstance(target, PostgresqlDatabase)


class _FileLock(threading.local):
    """An exclusive `flock` on `<database>.lock`, one open file per thread.

    SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5, 10 …
    100 ms), which turns two busy gunicorn workers into long tail latencies. Queuing the
    writers on a kernel file lock first wakes the next one the moment the previous commits.
    Works across processes on one host, which is all SQLite serves.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


_LOCKS: dict[str, _FileLock] = {}


@contextmanager
def _sqlite_write(target: SqliteDatabase) -> Iterator[Any]:
    path = target.database
    if path == ":memory:":
        with target.atomic(lock_type="IMMEDIATE") as txn:
            yield txn
        return
    lock = _LOCKS.setdefault(path, _FileLock(path + ".lock"))
    lock.acquire()
    try:
        with target.atomic(lock_type="IMMEDIATE") as txn:
            yield txn
    finally:
        lock.release()


def unit_of_work(db: Database | DatabaseProxy) -> AbstractContextManager[Any]:
    """Open the command's transaction (a savepoint when already inside one)."""
    target = db.obj if isinstance(db, DatabaseProxy) else db
    if isinstance(target, SqliteDatabase) and target.transaction_depth() == 0:
        return _sqlite_write(target)
    return target.atomic()


def locked(query: ModelSelect, *, nowait: bool = False, skip_locked: bool = False) -> ModelSelect:
    """Row-lock the selected rows until commit (PostgreSQL); SQLite is already serialised."""
    if is_postgres(query.model._meta.database):
        return query.for_update(nowait=nowait or None, skip_locked=skip_locked or None)
    return query


@contextmanager
def read_snapshot() -> Iterator[None]:
    """One consistent, read-only view of the database for several queries (reports and
    verifications): PostgreSQL `REPEATABLE READ READ ONLY`, a deferred read transaction on
    SQLite WAL. Inside an existing transaction the caller's view is used as it is."""
    if database.in_transaction():
        yield
        return
    if is_postgres(database):
        with database.atomic(isolation_level="REPEATABLE READ"):
            database.execute_sql("SET TRANSACTION READ ONLY")
            yield
        return
    with database.atomic():
        yield
