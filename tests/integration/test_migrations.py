"""Migrations are history: a fresh `migrate` gives exactly the tables, columns and indexes
that `models.py` declares, on SQLite and PostgreSQL, so a later migration that changes a
table cannot leave fresh databases (built from frozen DDL) different from upgraded ones."""

from __future__ import annotations

import uuid

from peewee import SqliteDatabase

from gateway.store import models
from gateway.store.database import bind, is_postgres, open_database
from gateway.store.migrations import LATEST, MIGRATIONS, applied_version, migrate


def _shape(db, schema: str | None = None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    tables = {}
    for model in models.MODELS:
        name = model._meta.table_name
        kwargs = {"schema": schema} if schema else {}
        columns = sorted(
            (c.name, c.data_type.lower(), c.null, c.primary_key)
            for c in db.get_columns(name, **kwargs)
        )
        indexes = sorted(
            (i.name, tuple(i.columns), i.unique, " WHERE " in (i.sql or "").upper())  # partial
            for i in db.get_indexes(name, **kwargs)
            if not i.name.endswith("_pkey") and not i.name.startswith("sqlite_")
        )
        tables[name] = {"columns": columns, "indexes": indexes}
    return tables


def _from_models(db) -> None:  # type: ignore[no-untyped-def]
    with db.bind_ctx(models.MODELS):
        db.create_tables(models.MODELS)


def test_fresh_migrate_equals_the_models_on_sqlite(tmp_path) -> None:
    migrated = bind(open_database(f"sqlite:///{tmp_path / 'migrated.db'}"))
    migrate(migrated)
    assert applied_version(migrated) == LATEST
    got = _shape(migrated)
    reference = SqliteDatabase(str(tmp_path / "models.db"))
    _from_models(reference)
    assert got == _shape(reference)


def test_fresh_migrate_equals_the_models_on_postgres(db) -> None:  # type: ignore[no-untyped-def]
    """`db` is the test session's migrated database; the models are built in a scratch
    schema of it and compared column by column, index by index."""
    if not is_postgres(db):
        migrated = db
        reference = SqliteDatabase(":memory:")
        _from_models(reference)
        assert _shape(migrated) == _shape(reference)
        return
    schema = f"models_{uuid.uuid4().hex[:8]}"
    db.execute_sql(f'CREATE SCHEMA "{schema}"')
    try:
        db.execute_sql(f'SET search_path TO "{schema}"')
        _from_models(db)
        reference = _shape(db, schema)
        db.execute_sql("SET search_path TO public")
        assert _shape(db, "public") == reference
    finally:
        db.execute_sql("SET search_path TO public")
        db.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')


def test_migrate_twice_is_a_no_op(tmp_path) -> None:
    db = bind(open_database(f"sqlite:///{tmp_path / 'twice.db'}"))
    versions = [m.version for m in migrate(db)]
    assert versions == [m.version for m in MIGRATIONS]  # reserved numbers may leave gaps
    assert versions == sorted(set(versions)) and versions[-1] == LATEST
    assert migrate(db) == []


def test_a_database_missing_an_earlier_migration_is_not_current(db) -> None:
    """Migrations land out of order: one applied later than a higher number still counts."""
    from gateway.store.migrations import LATEST, applied_version
    from gateway.store.models import SchemaMigration

    assert applied_version(db) == LATEST
    seven = SchemaMigration.get_by_id(7)
    SchemaMigration.delete().where(SchemaMigration.version == 7).execute()
    try:
        assert applied_version(db) == 6
    finally:  # the PostgreSQL test database is shared by the session's tests
        SchemaMigration.create(version=7, name=seven.name, applied_at=seven.applied_at)
    assert applied_version(db) == LATEST
