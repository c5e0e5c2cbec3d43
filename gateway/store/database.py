"""Database setup: SQLite (WAL) by default, pooled PostgreSQL in production.

Models bind to `database` (a `DatabaseProxy`); `open_database(url)` builds the real database
and `bind(db)` points the proxy at it. `unit_of_work(db)` is the one way a service opens a
transaction, and `locked(query)` the one way it takes row locks, so the same service code
is correct on both engines: PostgreSQL gets `SELECT … FOR UPDATE`, SQLite gets
`BEGIN IMMEDIATE`, which already serialises writers. Nothing here connects at import time.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import itertools
import os
import struct
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlparse
from weakref import WeakKeyDictionary

from peewee import (
    Database,
    DatabaseProxy,
    IntegrityError,
    ModelSelect,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
    __exception_wrapper__,
)
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

database = DatabaseProxy()

# Inside `fastsql.optimistically`: True in its first attempt, False in the careful one.
OPTIMISTIC: ContextVar[bool | None] = ContextVar("pamgate_optimistic", default=None)


class Collision(Exception):
    """A row inserted as expected to be new (`PipelinedPostgres.defer(..., expected=True)`)
    met one that exists: the transaction is lost (rolled back by its owner) and must be run
    again, carefully (`fastsql.optimistically`). Not an `IntegrityError`, so that no code
    which handles a conflict of its own statement mistakes it for one and goes on."""


_UNIQUE_VIOLATION = "23505"


class _Pending(threading.local):
    def __init__(self) -> None:
        self.statements: list[bytes] = []
        self.began = False  # BEGIN is among the pending statements
        # this transaction (or the one just rolled back) deferred an insert expected to be
        # new that no successful round trip has carried yet: while statements are pending,
        # it is among them (a rollback drops both; only `begin` queues anew)
        self.unconfirmed = False


_NAMES = itertools.count(1)
_UNPREPARABLE = ""  # a statement the server refused to prepare: sent as plain text
_SEEN = "?"  # run once on this connection: prepared the second time
MAX_PREPARED = 512  # per connection: the hand-written statements have far fewer shapes


def _param_type(value: Any) -> str:
    """A prepared statement's parameter type, from the first value it is given: the types
    PostgreSQL could infer too narrowly (an `int` next to `ELSE 0` would become `integer`),
    declared; anything else (`unknown`) inferred from the statement, as plain text is."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, dt.datetime):
        return "timestamp" if value.tzinfo is None else "timestamptz"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, Decimal):
        return "numeric"
    return "unknown"


def _numbered(text: str, count: int) -> str | None:
    """`%s` placeholders as `$1`, `$2`…; None when the text does not take `count` of them."""
    parts = text.split("%s")
    if "%" in "".join(parts) or len(parts) != count + 1:
        return None
    return "".join(part + (f"${i}" if i <= count else "") for i, part in enumerate(parts, 1))


class PipelinedPostgres(PooledPostgresqlDatabase):
    """Pooled PostgreSQL that saves round trips inside a transaction, and the server's
    parsing and planning of the hot statements.

    `BEGIN` and the writes whose results nobody reads (`defer`) are held back and sent in
    one round trip together with the next statement that needs an answer, or with
    `COMMIT`. Order is kept, errors surface at that next statement (the transaction then
    rolls back as usual), and a `ROLLBACK` drops what was never sent. An insert deferred as
    `expected` (a row expected to be new: `fastsql.insert_expected`) that meets an existing
    row fails its batch with `Collision` instead of `IntegrityError`.

    The hand-written statements (`gateway.store.fastsql`) are prepared on each connection
    from their second use (`PREPARE`) and then sent as `EXECUTE` with their values: the
    server parses and plans them once per connection, not per call. Preparing never adds a
    round trip inside a transaction: a statement due there is prepared when its connection
    goes back to the pool (outside a transaction, at once). A statement the server cannot
    prepare is remembered and always sent as plain text on that connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = _Pending()
        self._prepared: WeakKeyDictionary[Any, dict[str, str]] = WeakKeyDictionary()
        self._wanted: WeakKeyDictionary[Any, dict[str, tuple[Any, ...]]] = WeakKeyDictionary()

    def execute_prepared(self, text: str, params: Sequence[Any]) -> Any:
        """Run a hand-written statement (`%s` placeholders), as this connection's prepared
        statement once it has one; the DB-API cursor."""
        statement = self._statement(text, params)
        if statement is None:
            return self.execute_sql(text, params)
        return self._send(statement)

    def _statement(self, text: str, params: Sequence[Any]) -> bytes | None:
        """`EXECUTE name (values)` for `text` if this connection has it prepared (preparing
        it now when due and outside a transaction); None: send the plain text."""
        if self.is_closed():
            self.connect()
        conn = self.connection()
        known = self._prepared.setdefault(conn, {})
        execute = known.get(text)
        if execute is None:  # the first time: plain text (a statement run once is not worth it)
            if len(known) < 2 * MAX_PREPARED:
                known[text] = _SEEN
            return None
        if execute == _SEEN:
            if self.in_transaction():  # no round trip of its own here: when it is back
                self._wanted.setdefault(conn, {})[text] = tuple(params)
                return None
            execute = self._prepare(conn, known, text, params)
        if not execute:
            return None
        if not params:
            return execute.encode()
        return conn.cursor().mogrify(execute, tuple(params))

    def _prepare(self, conn: Any, known: dict[str, str], text: str, params: Sequence[Any]) -> str:
        """PREPARE `text` on `conn` (outside a transaction: a refusal aborts nothing)."""
        import psycopg2  # only PostgreSQL deployments load the driver

        numbered = _numbered(text, len(params))
        prepared = sum(1 for n in known.values() if n not in (_SEEN, _UNPREPARABLE))
        if numbered is None or prepared >= MAX_PREPARED:
            known[text] = _UNPREPARABLE
            return _UNPREPARABLE
        name = f"pamgate_{next(_NAMES)}"
        types = f" ({', '.join(_param_type(v) for v in params)})" if params else ""
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"PREPARE {name}{types} AS {numbered}")
        except psycopg2.Error:
            known[text] = _UNPREPARABLE
            return _UNPREPARABLE
        marks = f" ({', '.join(['%s'] * len(params))})" if params else ""
        known[text] = execute = f"EXECUTE {name}{marks}"  # the values are filled in per call
        return execute

    def _prepare_wanted(self, conn: Any) -> None:
        """Prepare what transactions on `conn` found due, now that it is idle."""
        import psycopg2.extensions

        wanted = self._wanted.pop(conn, None)
        if not wanted or conn.closed:
            return
        if conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            return
        known = self._prepared.setdefault(conn, {})
        for text, params in wanted.items():
            if known.get(text) == _SEEN:
                self._prepare(conn, known, text, params)

    def begin(self, isolation_level: Any = None) -> None:
        if self.is_closed():  # connecting resets peewee's transaction state: do it now
            self.connect()
        level = isolation_level or self._isolation_level
        statement = "BEGIN"
        if level:
            statement += " TRANSACTION ISOLATION LEVEL " + self._adapter.isolation_level_str(level)
        self._pending.statements.append(statement.encode())
        self._pending.began = True
        self._pending.unconfirmed = False

    def defer(self, sql: str, params: Sequence[Any], *, expected: bool = False) -> None:
        """Queue a hand-written statement whose result is not needed (inside a transaction
        only; outside one it runs at once). `expected`: an insert of a row expected to be
        new, whose unique violation, wherever it surfaces, is raised as `Collision`."""
        if not self.in_transaction():
            self.execute_prepared(sql, params)
            return
        statement = self._statement(sql, params)
        if statement is None:
            statement = self.connection().cursor().mogrify(sql, tuple(params))
        self._pending.statements.append(statement)
        if expected:
            self._pending.unconfirmed = True

    def unconfirmed(self) -> bool:
        """Whether an insert expected to be new, deferred in the current transaction (or
        the one just rolled back), was never carried by a round trip that succeeded."""
        return bool(self._pending.unconfirmed)

    def _send(self, final: bytes | None) -> Any:
        pending = self._pending
        batch = b";".join([*pending.statements, *([final] if final is not None else [])])
        expected = pending.unconfirmed and bool(pending.statements)  # carried by this batch
        pending.statements.clear()
        pending.began = False
        try:
            with __exception_wrapper__:
                cursor = self.cursor()
                cursor.execute(batch)
        except IntegrityError as exc:
            driver_error = getattr(exc, "orig", None)  # psycopg2's, which peewee wraps
            if expected and getattr(driver_error, "pgcode", None) == _UNIQUE_VIOLATION:
                raise Collision(str(exc)) from exc
            raise
        if expected:
            pending.unconfirmed = False  # they met no existing row
        return cursor

    def _execute_cursor(self, sql: str, params: Any, **cursor_options: Any) -> Any:
        if not self._pending.statements:
            return super()._execute_cursor(sql, params, **cursor_options)
        final = self.connection().cursor().mogrify(sql, tuple(params)) if params else sql.encode()
        return self._send(final)

    def commit(self) -> None:
        if self._pending.statements:
            self._send(b"COMMIT")
            return
        super().commit()

    def rollback(self) -> None:
        began = self._pending.began
        self._pending.statements.clear()
        self._pending.began = False
        if not began:  # BEGIN reached the server: roll it back there
            super().rollback()

    def _is_closed(self, conn: Any) -> bool:
        """A pooled connection is reused without a `SELECT 1` round trip on every checkout:
        libpq knows when the socket closed; a connection that broke silently fails its
        first statement (that request fails once) and is not put back in the pool."""
        if conn.closed:
            return True
        adapter = self._adapter
        status = adapter.txn_status(conn)
        if status == adapter.txn_unknown:
            return True
        if status != adapter.txn_idle:
            try:
                adapter.rollback(conn)
            except Exception:
                return True
        return False

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        self._pending.statements.clear()
        self._pending.began = False
        if not close_conn:  # back to the pool: prepare what its transactions found due
            self._prepare_wanted(conn)
        super()._close(conn, close_conn)


class _Lazily(threading.local):
    def __init__(self) -> None:
        self.opening = False  # the next `begin` opens a transaction lazily (set by _sqlite_write)
        self.lazy = False  # the open transaction is lazy: it begins at its first write
        self.began = False  # ... and has begun: BEGIN IMMEDIATE ran, the writers' lock is held
        self.statements: list[tuple[str, tuple[Any, ...], bool]] = []  # queued until then
        # an insert expected to be new was queued in this transaction (or the one just rolled
        # back) and has not run yet: the PostgreSQL meaning of `unconfirmed`
        self.unconfirmed = False
        self.wrote = False  # the last lazy transaction committed writes


def _is_read(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


def _table_of(statement: str) -> str:
    """The table a queued `INSERT INTO t …` / `UPDATE t …` writes (lowercase)."""
    words = statement.split(None, 3)
    name = words[2] if words[0].upper() == "INSERT" else words[1]
    return name.strip('"').lower()


class WriterSqlite(PooledSqliteDatabase):
    """Pooled SQLite on a file whose write transactions can begin at their first write.

    Writers to one SQLite file run one at a time (`_FileLock`, then `BEGIN IMMEDIATE`), so
    the time a transaction holds the writers' lock bounds the whole gateway's write rate.
    A request run optimistically (`fastsql.optimistically`: a signed partner request's
    first attempt) opens its transaction lazily: its reads run at once outside any
    transaction (each sees the latest commit, as PostgreSQL's READ COMMITTED does), its
    inserts of rows expected to be new and its writes whose results nobody reads (`defer`)
    are queued, and the lock is taken and `BEGIN IMMEDIATE` run only at the first other
    write, the first row lock (`locked`, `fastsql.for_update`: what PostgreSQL would lock,
    SQLite serialises from there on) or COMMIT; the queue runs first. Validation, the
    once-only and idempotency claims, the player lookup and the new ticket's row are then
    outside the critical section. A queued insert that meets an existing row, or a
    `BEGIN IMMEDIATE` refused because the connection still read an older snapshot, raises
    `Collision`: the attempt is rolled back and run again carefully, as on PostgreSQL.
    A transaction that wrote nothing never begins and never takes the lock.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazily = _Lazily()

    def open_lazily(self) -> None:
        """The next transaction begins at its first write (see the class doc)."""
        self._lazily.opening = True

    def wrote(self) -> bool:
        """Whether the last lazy transaction committed writes (its log needs the flush)."""
        return self._lazily.wrote

    def begin(self, lock_type: str | None = None) -> None:
        state = self._lazily
        state.unconfirmed = False
        if state.opening:
            state.opening = False
            if self.is_closed():  # connecting resets peewee's transaction state: do it now
                self.connect()
            state.lazy, state.began, state.wrote = True, False, False
            state.statements.clear()
            return
        super().begin(lock_type)

    def _begin_now(self) -> None:
        state = self._lazily
        lock = _file(self.database).lock
        lock.acquire()
        try:
            with __exception_wrapper__:
                self.cursor().execute("BEGIN IMMEDIATE")
        except OperationalError as exc:  # an older snapshot still open: the careful way
            lock.release()
            raise Collision(f"could not begin the write transaction: {exc}") from exc
        except BaseException:
            lock.release()
            raise
        state.began = True
        queued, state.statements = state.statements, []
        for sql, params, expected in queued:
            self._run(sql, params, expected)
        state.unconfirmed = False

    def write_intent(self) -> None:
        """Begin now if the transaction is lazy: what follows reads rows it will change."""
        state = self._lazily
        if state.lazy and not state.began:
            self._begin_now()

    def _run(self, sql: str, params: Sequence[Any], expected: bool) -> None:
        try:
            super()._execute_cursor(sql, params)
        except IntegrityError as exc:
            if expected and "UNIQUE constraint failed" in str(exc):
                raise Collision(str(exc)) from exc
            raise

    def defer(self, sql: str, params: Sequence[Any], *, expected: bool = False) -> None:
        """A hand-written write (`%s` placeholders) whose result nobody reads: queued while
        a lazy transaction has not begun, else run at once. `expected`: an insert of a row
        expected to be new, whose unique violation raises `Collision`."""
        statement = sql.replace("%s", "?")
        state = self._lazily
        if state.lazy and not state.began:
            state.statements.append((statement, tuple(params), expected))
            state.unconfirmed = state.unconfirmed or expected
            return
        self._run(statement, params, expected)

    def unconfirmed(self) -> bool:
        """Whether an insert expected to be new, queued in the current transaction (or the
        one just rolled back), has not run."""
        return self._lazily.unconfirmed

    def _execute_cursor(self, sql: str, params: Any, **cursor_options: Any) -> Any:
        state = self._lazily
        if state.lazy and not state.began and not self._reads_around_queue(sql):
            self._begin_now()
        return super()._execute_cursor(sql, params, **cursor_options)

    def _reads_around_queue(self, sql: str) -> bool:
        """A read that may run before the transaction begins: it names none of the tables
        the queue writes (a read of a queued row must see it, so it begins first)."""
        if not _is_read(sql):
            return False
        queued = self._lazily.statements
        if not queued:
            return True
        lowered = sql.lower()
        return not any(_table_of(statement) in lowered for statement, _, _ in queued)

    def commit(self) -> None:
        state = self._lazily
        if not state.lazy:
            super().commit()
            return
        if not state.began:
            if not state.statements:  # read only: never began
                self._end()
                return
            self._begin_now()
        super().commit()  # a failure here is rolled back (and the lock released) by peewee
        state.wrote = True
        self._end()

    def rollback(self) -> None:
        state = self._lazily
        if not state.lazy:
            super().rollback()
            return
        try:
            if state.began:
                super().rollback()
        finally:
            self._end()

    def _end(self) -> None:
        state = self._lazily
        began = state.began
        state.lazy = state.began = False
        state.statements.clear()
        if began:
            _file(self.database).lock.release()


# Durability: every write transaction's WAL frames are on disk before its request is answered
# (`_WalSync` flushes them after COMMIT, outside the writer lock, so concurrent commits share
# one flush). `synchronous=normal` keeps SQLite's own syncs of the WAL header at a restart and
# around checkpoints; with the flush after each commit that is what `full` guarantees.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 15000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -16000,
}


def open_database(url: str, *, pool_size: int = 10, connect_timeout: int | None = None) -> Database:
    """Build (but do not connect) the database named by `url`.

    `connect_timeout` (seconds, PostgreSQL only) bounds each new connection; the command
    line sets a short one so an unreachable server is one line, not a long wait."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :] or ":memory:"
        if path == ":memory:":
            return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=15)
        return WriterSqlite(
            path,
            pragmas={**SQLITE_PRAGMAS, "wal_autocheckpoint": 0},  # see _Checkpointer
            max_connections=None,
            stale_timeout=None,
            check_same_thread=False,
        )
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"unsupported database url scheme {parsed.scheme!r}")
    kwargs: dict[str, Any] = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
        "connect_timeout": connect_timeout,
    }
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    name = unquote(parsed.path.lstrip("/")) or "postgres"
    return PipelinedPostgres(
        name,
        max_connections=pool_size,
        stale_timeout=300,
        timeout=10,
        autoconnect=True,
        **kwargs,
    )


def bind(db: Database) -> Database:
    database.initialize(db)
    return db


def is_postgres(db: Database | DatabaseProxy) -> bool:
    target = db.obj if isinstance(db, DatabaseProxy) else db
    return isinstance(target, PostgresqlDatabase)


class _FileLock:
    """Writers to one SQLite file queue here: a mutex among this process's threads, then
    an exclusive `flock` on `<database>.lock` among processes (one descriptor per process).

    SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5, 10 …
    100 ms), which turns two busy gunicorn workers into long tail latencies. Queuing the
    writers on a kernel file lock first wakes the next one the moment the previous commits.
    Works across processes on one host, which is all SQLite serves.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        self._mutex.acquire()
        try:
            if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


class _OpenFile:
    """A read-only descriptor of one of a SQLite database's side files (`-wal`, `-shm`), kept
    per process and reopened when the file was replaced (deleted after the last connection
    closed, then created again); None while the file does not exist."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._key: tuple[int, int, int] | None = None  # (pid, device, inode) of _fd
        self._mutex = threading.Lock()

    def descriptor(self) -> int | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        key = (os.getpid(), st.st_dev, st.st_ino)
        with self._mutex:
            if self._key != key:
                if self._fd is not None and self._key is not None and self._key[0] == key[0]:
                    os.close(self._fd)
                self._fd = os.open(self.path, os.O_RDONLY)
                self._key = key
            return self._fd


class _WalSync:
    """`fdatasync` of a SQLite database's write-ahead log, called after each write transaction
    commits and before its caller goes on (and so before the request is answered).

    COMMIT has written the transaction's frames, commit marker included, to `<db>-wal`;
    flushing that file makes them survive a power loss, which is what `synchronous=full`
    does inside COMMIT. Done here, after the writer lock is released, the next writer
    commits while this one waits for the disk, and one flush covers every frame written
    before it began (group commit): a caller that finds a flush running waits for the next
    one, which the first caller to find none running starts, for all who wait. No log file:
    checkpointed into the database file (which SQLite synced) and removed. Under gevent the
    flush runs in the hub's thread pool so the worker's other requests go on, and waiting
    for another's flush costs no thread hand-off.
    """

    def __init__(self, path: str) -> None:
        self._log = _OpenFile(path + "-wal")
        self._turn = threading.Condition()
        self._running = False  # a flush is under way
        self._started = 0  # flushes begun, numbered from 1
        self._finished = 0  # the number of the last flush that ended
        self._failed: dict[int, BaseException] = {}  # recent flushes that failed

    def flush(self) -> None:
        """Return once a flush that began after this call has ended; raise if it failed."""
        with self._turn:
            wanted = self._started + 1  # the first flush to begin from now on
            while self._finished < wanted and self._running:
                self._turn.wait()
            if self._finished >= wanted:
                failure = self._failed.get(wanted)
                if failure is not None:
                    raise OSError(f"the log's flush failed: {failure}") from failure
                return
            self._running = True
            self._started = number = wanted  # nobody flushing: this caller flushes for all
        failure = None
        try:
            fd = self._log.descriptor()
            if fd is not None:
                _blocking(os.fdatasync, fd)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            with self._turn:
                self._running = False
                self._finished = number
                if failure is not None:
                    self._failed[number] = failure
                    for old in [n for n in self._failed if n < number - 64]:
                        del self._failed[old]
                self._turn.notify_all()


def _blocking(call: Any, *args: Any) -> Any:
    """`call(*args)`, in the gevent hub's thread pool when this process runs under gevent
    (so the worker's other requests go on), else directly."""
    pool = _gevent_pool()
    return call(*args) if pool is None else pool.apply(call, args)


# The log is copied into the database file (checkpointed) once it holds this many frames
# not yet copied (SQLite's own default for its automatic checkpoint).
CHECKPOINT_FRAMES = 1000


class _Checkpointer:
    """Checkpoints a SQLite database's write-ahead log outside the writers' critical section.

    SQLite's own automatic checkpoint runs inside the COMMIT that crosses 1,000 frames of
    log, so one writer in ~30 held the writers' lock for 5-20 ms while the others queued
    behind it (half of all COMMIT time, in a lock every write waits for). The gateway's
    connections turn it off (`wal_autocheckpoint=0`), and the writer that finds the log
    past `CHECKPOINT_FRAMES`, once committed, flushed and out of the lock, checkpoints it in
    two passes: first without the lock (writers go on while the bulk of the log is copied
    and the database file synced), then, under the writers' lock, the frames committed
    meanwhile, so that the next writer finds the log fully copied and starts it again from
    the top instead of letting it grow. A checkpoint already running (in this process or
    another) is left to finish: `PASSIVE` never waits.

    How much of the log is not yet copied is read from the header of its index (`-shm`,
    whose layout SQLite documents): `mxFrame` (frames in the log) less `nBackfill` (frames
    copied), native byte order. A racy read, good enough to decide when to checkpoint.
    """

    def __init__(self, path: str) -> None:
        self._index = _OpenFile(path + "-shm")
        self._running = threading.Lock()

    def pending_frames(self) -> int:
        fd = self._index.descriptor()
        if fd is None:
            return 0
        header = os.pread(fd, 100, 0)
        if len(header) < 100:
            return 0
        (frames,) = struct.unpack_from("=I", header, 16)
        (copied,) = struct.unpack_from("=I", header, 96)
        return max(0, frames - copied)

    def maybe(self, target: SqliteDatabase, lock: _FileLock) -> None:
        if self.pending_frames() < CHECKPOINT_FRAMES:
            return
        if not self._running.acquire(blocking=False):
            return
        try:
            conn = target.connection()
            _blocking(_passive_checkpoint, conn)
            lock.acquire()
            try:
                _passive_checkpoint(conn)
            finally:
                lock.release()
        finally:
            self._running.release()


def _passive_checkpoint(conn: Any) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _gevent_pool() -> Any:
    """The gevent hub's thread pool when this process runs under gevent, else None."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return None
    import gevent

    return gevent.get_hub().threadpool


class _SqliteFile:
    """What the writers to one SQLite file share in a process: the writers' lock, the log's
    flush and its checkpointer."""

    def __init__(self, path: str) -> None:
        self.lock = _FileLock(path + ".lock")
        self.sync = _WalSync(path)
        self.checkpointer = _Checkpointer(path)


_FILES: dict[str, _SqliteFile] = {}


def _file(path: str) -> _SqliteFile:
    found = _FILES.get(path)
    if found is None:
        found = _FILES.setdefault(path, _SqliteFile(path))
    return found


@contextmanager
def _sqlite_write(target: SqliteDatabase) -> Iterator[Any]:
    path = target.database
    if path == ":memory:":
        with target.atomic(lock_type="IMMEDIATE") as txn:
            yield txn
        return
    file = _file(path)
    if OPTIMISTIC.get() and isinstance(target, WriterSqlite):
        target.open_lazily()  # the lock is taken at the first write (WriterSqlite)
        with target.atomic(lock_type="IMMEDIATE") as txn:
            yield txn
        if not target.wrote():
            return
    else:
        file.lock.acquire()
        try:
            with target.atomic(lock_type="IMMEDIATE") as txn:
                yield txn
        finally:
            file.lock.release()
    # only reached when the transaction committed (an exception skips both)
    file.sync.flush()
    file.checkpointer.maybe(target, file.lock)


def unit_of_work(db: Database | DatabaseProxy) -> AbstractContextManager[Any]:
    """Open the command's transaction (a savepoint when already inside one)."""
    target = db.obj if isinstance(db, DatabaseProxy) else db
    if isinstance(target, SqliteDatabase) and target.transaction_depth() == 0:
        return _sqlite_write(target)
    return target.atomic()


def locked(query: ModelSelect, *, nowait: bool = False, skip_locked: bool = False) -> ModelSelect:
    """Row-lock the selected rows until commit (PostgreSQL). SQLite serialises writers: a
    transaction begun lazily (`WriterSqlite`) begins here, before the rows are read."""
    db = query.model._meta.database
    if is_postgres(db):
        return query.for_update(nowait=nowait or None, skip_locked=skip_locked or None)
    write_intent(db)
    return query


def write_intent(db: Database | DatabaseProxy) -> None:
    """What follows reads rows it will change: a lazy SQLite transaction begins now (takes
    the writers' lock), as PostgreSQL would lock the rows."""
    target = db.obj if isinstance(db, DatabaseProxy) else db
    if isinstance(target, WriterSqlite):
        target.write_intent()


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
