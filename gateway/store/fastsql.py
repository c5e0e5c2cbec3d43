"""Hand-written SQL for the hot paths (the ledger, the audit chain, idempotency, tickets).

peewee builds SQL anew for every query, which costs more than the query itself on the
paths every money movement takes. Here statements are plain text written once, in
PostgreSQL's `%s` parameter style (turned into `?` for SQLite), cached per database.
Only the core's hot paths use this; everything else uses peewee models. The columns an
insert names are checked once against the model of its table, so hand-written SQL cannot
drift from `models.py` unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from gateway.store.database import database, is_postgres


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
    statement (see `PipelinedPostgres`); on SQLite, where a statement costs no round trip,
    it runs at once."""
    target = database.obj
    if hasattr(target, "defer"):
        target.defer(text, params)
    else:
        execute(text, params)


def for_update() -> str:
    """The row-lock clause (SQLite's immediate transaction already serialises writers)."""
    return " FOR UPDATE" if is_postgres(database) else ""


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
