"""The hand-written statements run as prepared statements on PostgreSQL from their second
use on a connection (`PipelinedPostgres.execute_prepared`): the server plans them once per
connection; preparing never adds a round trip inside a transaction (a statement due there
is prepared when its connection goes back to the pool); a statement the server cannot
prepare still runs; nothing about a transaction's outcome changes."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from peewee import IntegrityError

from gateway.store import fastsql
from gateway.store.database import database, is_postgres, unit_of_work
from gateway.store.models import Banca


@pytest.fixture
def pg(db):  # type: ignore[no-untyped-def]
    if not is_postgres(db):
        pytest.skip("prepared statements: PostgreSQL only (SQLite runs in process)")
    return db


def _prepared(db) -> list[str]:  # type: ignore[no-untyped-def]
    """This connection's prepared statements, as `PREPARE … AS <statement>`."""
    rows = db.execute_sql("SELECT statement FROM pg_prepared_statements").fetchall()
    return [r[0] for r in rows]


def _banca(name: str) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "currency": "MXN",
        "created_at": dt.datetime(2026, 12, 1, 12, 0),
    }


def test_a_statement_is_prepared_on_its_second_use_and_answers_as_before(pg) -> None:
    text = "SELECT name FROM banca WHERE id = %s"
    row = _banca("Prepared")
    fastsql.insert_later("banca", row)
    assert fastsql.execute(text, (row["id"],)).fetchone() == ("Prepared",)
    assert not [s for s in _prepared(pg) if "FROM banca" in s]  # once: plain text
    for _ in range(3):
        assert fastsql.execute(text, (row["id"],)).fetchone() == ("Prepared",)
    mine = [s for s in _prepared(pg) if s.endswith(" AS SELECT name FROM banca WHERE id = $1")]
    assert len(mine) == 1


def test_inside_a_transaction_it_waits_for_the_connection_to_go_back_to_the_pool(pg) -> None:
    text = "SELECT COUNT(*) FROM banca WHERE name = %s"
    with unit_of_work(database):
        fastsql.insert_later("banca", _banca("One"))
        assert fastsql.execute(text, ("One",)).fetchone() == (1,)
        assert fastsql.execute(text, ("One",)).fetchone() == (1,)  # due, not prepared here
        assert not [s for s in _prepared(pg) if "FROM banca" in s]
    assert not [s for s in _prepared(pg) if "FROM banca" in s]
    pg.close()  # back to the pool: prepared now
    assert [s for s in _prepared(pg) if s.endswith("FROM banca WHERE name = $1")]
    with unit_of_work(database):
        assert fastsql.execute(text, ("One",)).fetchone() == (1,)


def test_values_travel_as_values_whatever_they_contain(pg) -> None:
    odd = "50%s ' \" ; -- DROP TABLE banca; \u202e\U0001f600"
    for value in (odd, "plain", odd):
        assert fastsql.execute("SELECT %s::text", (value,)).fetchone() == (value,)
    assert [s for s in _prepared(pg) if s.endswith("AS SELECT $1::text")]


def test_an_integer_is_a_bigint_even_where_the_server_would_guess_integer(pg) -> None:
    text = "SELECT CASE WHEN %s THEN %s ELSE 0 END"
    assert fastsql.execute(text, (True, 5)).fetchone() == (5,)
    assert fastsql.execute(text, (True, 2**40)).fetchone() == (2**40,)  # prepared here
    assert fastsql.execute(text, (True, 2**41)).fetchone() == (2**41,)
    assert [s for s in _prepared(pg) if s.endswith("THEN $2 ELSE 0 END")]


def test_a_statement_the_server_cannot_prepare_runs_as_plain_text(pg) -> None:
    # `$1 IS NULL` gives the server no type for $1: it refuses to prepare it
    for _ in range(3):
        assert fastsql.execute("SELECT %s IS NULL", (None,)).fetchone() == (True,)
    first = _banca("In the transaction")
    with unit_of_work(database):
        fastsql.insert_later("banca", first)
        assert fastsql.execute("SELECT %s IS NULL", (None,)).fetchone() == (True,)
    assert Banca.get_by_id(first["id"]).name == "In the transaction"
    assert not [s for s in _prepared(pg) if "IS NULL" in s]


def test_a_deferred_write_that_fails_still_fails_its_transaction(pg) -> None:
    row = _banca("Twice")
    count = "SELECT COUNT(*) FROM banca WHERE name = %s"
    for _ in range(2):  # prepared
        fastsql.insert_later("banca", _banca("Other"))
        assert fastsql.execute(count, ("Twice",)).fetchone() == (0,)
    fastsql.insert_later("banca", row)
    with pytest.raises(IntegrityError), unit_of_work(database):
        fastsql.insert_later("banca", {**row, "name": "Duplicate id"})
        fastsql.execute(count, ("Duplicate id",))  # the failing write travels with it
    assert Banca.get_by_id(row["id"]).name == "Twice"
    with unit_of_work(database):  # the connection is usable again
        assert fastsql.execute(count, ("Twice",)).fetchone() == (1,)
        assert fastsql.execute(count, ("Duplicate id",)).fetchone() == (0,)
