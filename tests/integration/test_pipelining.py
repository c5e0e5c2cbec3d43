"""`PipelinedPostgres` (gateway/store/database.py) overrides private methods of peewee's
database classes to hold `BEGIN` and result-less writes back and send them in one round trip
with the next statement that needs an answer. peewee is pinned to the minor version these
tests were written against; they prove the overridden methods are still there with the same
signatures, and that on a real PostgreSQL the batching keeps order, surfaces errors at the
next statement, rolls back whole and forgets what was never sent."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import peewee
import pytest
from playhouse.pool import PooledPostgresqlDatabase

from gateway.store import fastsql
from gateway.store.database import PipelinedPostgres, database, is_postgres, read_snapshot
from tests.round_trips import record_round_trips

# What PipelinedPostgres overrides, and the signature it was written against.
OVERRIDDEN = {
    "_execute_cursor": "(self, sql, params, **cursor_options)",
    "_close": "(self, conn, close_conn=False)",
    "begin": "(self, isolation_level=None)",
    "commit": "(self)",
    "rollback": "(self)",
}


def _inherited(name: str) -> Any:
    """The method PipelinedPostgres would get from peewee without its override."""
    for cls in PooledPostgresqlDatabase.__mro__:
        if name in vars(cls):
            return vars(cls)[name]
    raise AssertionError(f"peewee no longer defines {name}")


def _shape(method: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_the_overridden_peewee_methods_keep_their_signatures(name: str) -> None:
    assert name in vars(PipelinedPostgres)
    assert str(inspect.signature(_inherited(name))) == OVERRIDDEN[name]
    assert _shape(vars(PipelinedPostgres)[name]) == _shape(_inherited(name))


def test_the_peewee_internals_it_relies_on_are_there() -> None:
    source = inspect.getsource(_inherited("begin"))
    assert "self._adapter.isolation_level_str(isolation_level)" in source
    assert "BEGIN TRANSACTION ISOLATION LEVEL" in source
    assert hasattr(peewee, "__exception_wrapper__")
    assert hasattr(peewee.Psycopg2Adapter, "isolation_level_str")
    # the base _execute_cursor runs one statement on self.cursor(), as the override does
    assert "cursor.execute(sql, params or ())" in inspect.getsource(_inherited("_execute_cursor"))


# --- on PostgreSQL ----------------------------------------------------------------------


@pytest.fixture
def pg(db: Any) -> Iterator[PipelinedPostgres]:
    if not is_postgres(db):
        pytest.skip("PostgreSQL only: SQLite has no round trips to save")
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS pipelining_probe (id integer PRIMARY KEY, note text NOT NULL)"
    )
    db.execute_sql("TRUNCATE pipelining_probe")
    yield db
    db.execute_sql("DROP TABLE IF EXISTS pipelining_probe")


@pytest.fixture
def sent(pg: PipelinedPostgres, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each round trip this thread makes from now on, as the text it sent."""
    pg.connect(reuse_if_open=True)
    return record_round_trips(pg, monkeypatch)


def _insert(row_id: int, note: str = "n") -> None:
    fastsql.defer("INSERT INTO pipelining_probe (id, note) VALUES (%s, %s)", (row_id, note))


def _rows() -> list[tuple[int, str]]:
    return [
        tuple(r)
        for r in database.execute_sql(
            "SELECT id, note FROM pipelining_probe ORDER BY id"
        ).fetchall()
    ]


def test_deferred_writes_travel_with_the_next_statement_that_needs_an_answer(pg, sent):
    with pg.atomic():
        _insert(1)
        _insert(2)
        assert sent == []  # nothing has left yet, not even BEGIN
        count = fastsql.execute("SELECT count(*) FROM pipelining_probe").fetchone()[0]
        assert count == 2  # the answer already sees the writes sent before it
        assert sent == [
            "BEGIN;INSERT INTO pipelining_probe (id, note) VALUES (1, 'n');"
            "INSERT INTO pipelining_probe (id, note) VALUES (2, 'n');"
            "SELECT count(*) FROM pipelining_probe"
        ]
        _insert(3)
    assert sent[1:] == ["INSERT INTO pipelining_probe (id, note) VALUES (3, 'n');COMMIT"]
    assert len(sent) == 2  # five statements and a commit: two round trips
    assert _rows() == [(1, "n"), (2, "n"), (3, "n")]


def test_a_transaction_of_deferred_writes_only_is_one_round_trip(pg, sent):
    with pg.atomic():
        _insert(1, "a")
        _insert(2, "b")
    assert len(sent) == 1
    assert sent[0].startswith("BEGIN;") and sent[0].endswith(";COMMIT")
    assert _rows() == [(1, "a"), (2, "b")]


def test_outside_a_transaction_a_deferred_write_runs_at_once(pg, sent):
    _insert(7)
    assert sent == ["INSERT INTO pipelining_probe (id, note) VALUES (%s, %s)"]
    assert _rows() == [(7, "n")]


def test_an_error_in_a_deferred_write_surfaces_at_the_next_statement(pg, sent):
    _insert(1, "before")
    with pytest.raises(peewee.IntegrityError), pg.atomic():
        _insert(2, "mine")
        _insert(1, "duplicate")  # fails on the server, not here
        fastsql.execute("SELECT 1")  # the error arrives with this statement's round trip
        pytest.fail("the statement after a failed write must not run")
    assert sent[-2].endswith(";SELECT 1") and sent[-1] == "ROLLBACK"
    assert _rows() == [(1, "before")]  # the whole transaction rolled back


def test_an_error_in_a_deferred_write_surfaces_at_commit(pg, sent):
    _insert(1, "before")
    with pytest.raises(peewee.IntegrityError), pg.atomic():
        _insert(2, "mine")
        _insert(1, "duplicate")
    assert sent[-2].endswith(";COMMIT") and sent[-1] == "ROLLBACK"
    assert _rows() == [(1, "before")]
    with pg.atomic():  # the connection is clean for the next transaction
        _insert(3)
    assert _rows() == [(1, "before"), (3, "n")]


def test_a_rollback_drops_what_was_never_sent(pg, sent):
    with pytest.raises(RuntimeError), pg.atomic():
        _insert(1)
        raise RuntimeError("the command changed its mind")
    assert sent == []  # neither BEGIN, the insert nor a ROLLBACK reached the server
    assert not pg.in_transaction()
    assert _rows() == []


def test_a_rollback_after_a_round_trip_rolls_back_on_the_server(pg, sent):
    with pytest.raises(RuntimeError), pg.atomic():
        _insert(1)
        fastsql.execute("SELECT 1")
        _insert(2)
        raise RuntimeError("the command changed its mind")
    assert sent[-1] == "ROLLBACK" and len(sent) == 2  # the pending insert 2 was dropped
    assert _rows() == []


def test_a_savepoint_keeps_the_order_of_deferred_writes(pg, sent):
    with pg.atomic():
        _insert(1, "outer")
        with pytest.raises(RuntimeError), pg.atomic():
            _insert(2, "inner")
            raise RuntimeError("undo the inner block only")
        _insert(3, "outer again")
    assert _rows() == [(1, "outer"), (3, "outer again")]


def test_a_connection_given_back_to_the_pool_forgets_pending_statements(pg, sent):
    pg.begin()  # held back, as inside a transaction
    pg.close()  # back to the pool before it was sent
    with pg.atomic():
        fastsql.execute("SELECT 1")
    assert sent == ["BEGIN;SELECT 1", "COMMIT"]  # one BEGIN: the forgotten one never left


@pytest.mark.parametrize("level", ["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"])
def test_begin_carries_the_isolation_level(pg, sent, level):
    with pg.atomic(isolation_level=level):
        shown = fastsql.execute("SHOW transaction_isolation").fetchone()[0]
    assert shown == level.lower()
    assert sent[0] == f"BEGIN TRANSACTION ISOLATION LEVEL {level};SHOW transaction_isolation"


def test_a_plain_begin_uses_the_server_default(pg, sent):
    with pg.atomic():
        assert fastsql.execute("SHOW transaction_isolation").fetchone()[0] == "read committed"
    assert sent[0] == "BEGIN;SHOW transaction_isolation"


def test_a_read_snapshot_is_repeatable_read_and_read_only(pg, sent):
    with read_snapshot():
        assert fastsql.execute("SHOW transaction_isolation").fetchone()[0] == "repeatable read"
        assert fastsql.execute("SHOW transaction_read_only").fetchone()[0] == "on"
    assert sent[0] == (
        "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ;SET TRANSACTION READ ONLY"
    )
