"""Hand-written SQL for the hot paths (the ledger, the audit chain, idempotency, tickets).

peewee builds SQL anew for every query, which costs more than the query itself on the
paths every money movement takes. Here statements are plain text written once, in
PostgreSQL's `%s` parameter style (turned into `?` for SQLite), cached per database.
Only the core's hot paths use this; everything else uses peewee models. The columns an
insert names are checked once against the model of its table, so hand-written SQL cannot
drift from `models.py` unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from gateway.store.database import OPTIMISTIC as _OPTIMISTIC
from gateway.store.database import Collision, database, is_postgres, write_intent

T = TypeVar("T")


@lru_cache(maxsize=512)
def _sqlite(text: str) -> str:
    return text.replace("%s", "?")


def execute(text: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement on the bound database; returns the DB-API cursor.

    `text` is always a constant of this codebase (identifiers and placeholders only);
    values travel as parameters. On PostgreSQL it runs as a prepared statement of the
    connection (`PipelinedPostgres.execute_prepared`).
    """
    target = database.obj
    if hasattr(target, "execute_prepared"):
        return target.execute_prepared(text, tuple(params))
    sql = text if is_postgres(database) else _sqlite(text)
    return database.execute_sql(sql, tuple(params))


def defer(text: str, params: Sequence[Any] = ()) -> None:
    """A write whose result nobody reads: on PostgreSQL it rides along with the next
    statement (see `PipelinedPostgres`); on SQLite it waits for a lazily begun transaction
    to begin (see `WriterSqlite`), else runs at once."""
    target = database.obj
    if hasattr(target, "defer"):
        target.defer(text, params)
    else:
        execute(text, params)


def for_update() -> str:
    """The row-lock clause. SQLite has none: its writers are serialised, and a transaction
    begun lazily begins here (`write_intent`), before the statement reads what it locks."""
    if is_postgres(database):
        return " FOR UPDATE"
    write_intent(database)
    return ""


@lru_cache(maxsize=64)
def model_columns(table: str) -> frozenset[str]:
    """The column names the peewee model of `table` declares (`ValueError` if none does)."""
    from gateway.store.models import BaseModel  # local: models import this package

    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model is not BaseModel and model._meta.table_name == table:
            return frozenset(f.column_name for f in model._meta.sorted_fields)
    raise ValueError(f"no model has the table {table!r}")


@lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...], rows: int, returning: bool) -> str:
    unknown = sorted(set(columns) - model_columns(table))  # once per shape: the SQL is cached
    if unknown:
        raise ValueError(f"{table} has no column(s) {', '.join(unknown)} in its model")
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # identifiers come from this codebase, values are parameters
    text = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)  # noqa: S608
    return text + (" RETURNING id" if returning else "")


def insert_ignore(table: str, row: Mapping[str, Any]) -> bool:
    """Insert one row unless it violates a unique constraint; True when inserted."""
    text = _insert_sql(table, tuple(row), 1, False) + " ON CONFLICT DO NOTHING"
    return bool(execute(text, list(row.values())).rowcount == 1)


def insert_expected(table: str, row: Mapping[str, Any]) -> bool | None:
    """Insert one row that is new unless the request is a repeat (a once-only claim, a new
    ticket): True when inserted, False when a row with its unique key exists.

    In the first attempt of `optimistically` it is sent later (PostgreSQL: with the next
    statement that needs an answer, or with COMMIT; SQLite: when the transaction begins, at
    its first write) and None is returned: not known yet. A row that exists then fails the
    whole transaction with `Collision`, and `optimistically` runs it again carefully, where
    this answers True or False at once."""
    if _OPTIMISTIC.get() and database.in_transaction():
        database.obj.defer(
            _insert_sql(table, tuple(row), 1, False), list(row.values()), expected=True
        )
        return None
    return insert_ignore(table, row)


def refuse_carefully(refusal: BaseException) -> None:
    """Called where a request or command is refused: in an optimistic attempt whose
    inserts have not reached the database yet (no statement answered since), the refusal
    might be an effect of the repeat they would reveal (a ticket already settled by the
    first request), so the attempt is given up (`Collision`) and the careful run decides.
    Once a statement carried them without a collision, the request is no repeat and its
    refusal stands."""
    if _OPTIMISTIC.get() and database.obj.unconfirmed():
        raise Collision("refused before its inserts were checked") from refusal


def optimistically(
    attempt: Callable[[], T], *, before_retry: Callable[[], None] | None = None
) -> T:
    """Run `attempt`, which opens and commits its own transaction, with `insert_expected`
    saving its round trips (PostgreSQL) or its time in the writers' lock (SQLite: the
    transaction begins at its first write); when one of those rows existed after all
    (`Collision`: a retried or concurrent repeat), run it once more carefully (`before_retry`
    first: undo what the lost attempt did outside the database). Inside a transaction, or inside an
    attempt already, `attempt` just runs: a collision there belongs to the outer attempt.
    An in-memory SQLite database runs it carefully, once."""
    if (
        _OPTIMISTIC.get() is not None
        or not hasattr(database.obj, "defer")
        or database.in_transaction()
    ):
        return attempt()
    token = _OPTIMISTIC.set(True)
    try:
        return attempt()
    except Collision:
        pass  # rolled back: the attempt's transaction ended with the exception
    finally:
        _OPTIMISTIC.reset(token)
    if before_retry is not None:
        before_retry()
    token = _OPTIMISTIC.set(False)
    try:
        return attempt()
    finally:
        _OPTIMISTIC.reset(token)


def insert(table: str, row: Mapping[str, Any], *, returning_id: bool = False) -> int | None:
    """Insert one row; with `returning_id`, the new auto-increment id."""
    columns = tuple(row)
    cursor = execute(
        _insert_sql(table, columns, 1, returning_id and is_postgres(database)), list(row.values())
    )
    if not returning_id:
        return None
    if is_postgres(database):
        return int(cursor.fetchone()[0])
    return int(cursor.lastrowid)


def insert_many(table: str, columns: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> None:
    """Insert rows whose ids nobody needs now (deferred, see `defer`)."""
    rows = list(rows)
    if rows:
        defer(
            _insert_sql(table, columns, len(rows), False), [value for row in rows for value in row]
        )


def insert_later(table: str, row: Mapping[str, Any]) -> None:
    """Insert one row whose id nobody needs now (deferred, see `defer`)."""
    defer(_insert_sql(table, tuple(row), 1, False), list(row.values()))


def insert_model_later(instance: Any) -> None:
    """Insert a new model instance's row whose id is already set (deferred, see `defer`):
    the fields it was given, converted as peewee would store them."""
    meta = instance._meta
    data = instance.__data__
    row = {
        field.column_name: field.db_value(data[field.name])
        for field in meta.sorted_fields
        if field.name in data
    }
    insert_later(meta.table_name, row)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)
