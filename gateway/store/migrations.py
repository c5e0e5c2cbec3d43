"""Versioned schema migrations, applied by `pamgate migrate` (idempotent, safe on every start).

Each migration runs in its own transaction; on PostgreSQL an advisory lock makes concurrent
`migrate` runs from several hosts wait for each other instead of racing. Every migration is
explicit DDL frozen on the day it was written (`schema_000N.py`), never `create_tables` of
today's models, so a later migration that changes a table cannot break fresh databases;
`tests/integration/test_migrations.py` proves a fresh `migrate` gives exactly the columns
and indexes of `models.py`. Changes are new migrations, never edits of an applied one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from peewee import Database, OperationalError, ProgrammingError

from gateway.store import (
    models,
    schema_0001,
    schema_0002,
    schema_0003,
    schema_0004,
    schema_0005,
    schema_0006,
    schema_0007,
    schema_0008,
    schema_0009,
    schema_0010,
    schema_0012,
    schema_0013,
    schema_0014,
    schema_0015,
)
from gateway.store.database import is_postgres

ADVISORY_LOCK_ID = 0x70616D67  # "pamg"

APPEND_ONLY_TABLES = ("entry", "ledger_txn", "audit_record")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Database], None]


def _append_only_triggers(db: Database, tables: tuple[str, ...] = APPEND_ONLY_TABLES) -> None:
    """Refuse UPDATE and DELETE on ledger entries, transactions and the audit chain."""
    for table in tables:
        if is_postgres(db):
            db.execute_sql(
                "CREATE OR REPLACE FUNCTION pamgate_append_only() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'table %% is append-only', TG_TABLE_NAME; END; "
                "$$ LANGUAGE plpgsql"
            )
            db.execute_sql(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION pamgate_append_only()"
            )
        else:
            for op in ("UPDATE", "DELETE"):
                db.execute_sql(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END"
                )


def _run_ddl(db: Database, ddl: str) -> None:
    for statement in schema_0001.statements("postgres" if is_postgres(db) else "sqlite", ddl):
        db.execute_sql(statement)


def _initial(db: Database) -> None:
    _run_ddl(db, schema_0001.DDL)
    _append_only_triggers(db)
    db.execute_sql("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")


def _hardening(db: Database) -> None:
    _run_ddl(db, schema_0002.DDL)


def _outbox(db: Database) -> None:
    _run_ddl(db, schema_0003.DDL)


def _lottery(db: Database) -> None:
    _run_ddl(db, schema_0004.DDL)


def _users(db: Database) -> None:
    _run_ddl(db, schema_0005.DDL)


def _ticket_payments(db: Database) -> None:
    _run_ddl(db, schema_0006.DDL)


def _statements(db: Database) -> None:
    _run_ddl(db, schema_0007.DDL)


def _outbox_delivery(db: Database) -> None:
    _run_ddl(db, schema_0008.DDL)


def _outbox_traces(db: Database) -> None:
    _run_ddl(db, schema_0010.DDL)


def _payments_registry(db: Database) -> None:
    _run_ddl(db, schema_0009.DDL)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    schema_0009.seed(lambda sql, params: db.execute_sql(sql.replace("%s", db.param), params), now)


def _sealed_audit(db: Database) -> None:
    """Seals instead of the chain head: seal 0 closes the rows chained so far (its root the
    head's hash), new rows are numbered by a sequence on PostgreSQL, the head is dropped."""
    _run_ddl(db, schema_0012.DDL)
    _append_only_triggers(db, ("audit_seal",))
    head = db.execute_sql("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    head_seq, head_hash = (int(head[0]), str(head[1])) if head else (0, "0" * 64)
    count, top = db.execute_sql(
        "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM audit_record WHERE seq <= %s".replace(
            "%s", db.param
        ),
        (head_seq,),
    ).fetchone()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    fields = {
        "batch": 0,
        "first_seq": 1,
        "last_seq": head_seq,
        "row_count": int(count),
        "root": head_hash,
        "sealed_at": now.isoformat(),
    }
    seal_hash = schema_0012.seal_hash("0" * 64, fields)
    db.execute_sql(
        "INSERT INTO audit_seal (batch, first_seq, last_seq, row_count, root, prev_hash, hash, "
        "sealed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)".replace("%s", db.param),
        (0, 1, head_seq, int(count), head_hash, "0" * 64, seal_hash, now),
    )
    if is_postgres(db):
        newest = db.execute_sql("SELECT COALESCE(MAX(seq), 0) FROM audit_record").fetchone()[0]
        db.execute_sql(schema_0012.POSTGRES_SEQUENCE % (max(int(newest), head_seq, int(top)) + 1))
        db.execute_sql(schema_0012.OWN_SEQUENCE)
    db.execute_sql(schema_0012.DROP_HEAD)


def _partial_indexes(db: Database) -> None:
    _run_ddl(db, schema_0013.DDL)


def _unread_indexes(db: Database) -> None:
    _run_ddl(db, schema_0014.DDL)


def _pruning_indexes(db: Database) -> None:
    _run_ddl(db, schema_0015.DDL)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _initial),
    Migration(2, "operator tenancy, once-only signatures, rejection tallies", _hardening),
    Migration(3, "outbox", _outbox),
    Migration(4, "lottery draws and tickets", _lottery),
    Migration(5, "back-office users and refresh tokens", _users),
    Migration(6, "ticket payments", _ticket_payments),
    Migration(7, "account payments and daily statements", _statements),
    Migration(
        8, "outbox delivery: attempts, sms dedup, rate buckets, circuit breakers", _outbox_delivery
    ),
    Migration(
        9, "payments registry: methods, currencies, payments, ticket links", _payments_registry
    ),
    Migration(10, "outbox traces: request id and traceparent, attempt trace ids", _outbox_traces),
    Migration(12, "audit log sealed in batches (no chain head to lock)", _sealed_audit),
    Migration(
        13, "indexes of mostly-empty columns hold only the rows with a value", _partial_indexes
    ),
    Migration(14, "three indexes no query reads are dropped", _unread_indexes),
    Migration(15, "the time indexes only pruning read are dropped", _pruning_indexes),
)

# Versions are reserved per piece of work and may land out of order: the latest is the highest.
LATEST = max(m.version for m in MIGRATIONS)


def applied_version(db: Database) -> int:
    """How far the schema is current: the highest migration up to which every migration is
    applied (numbers landed out of order, so a database may hold 9 without 7: that one is at
    6 until `migrate` runs). 0 for an empty database; raises if unreachable."""
    try:
        with db.atomic():
            applied = {
                row.version for row in models.SchemaMigration.select(models.SchemaMigration.version)
            }
    except (OperationalError, ProgrammingError) as exc:
        if "schema_migration" in str(exc) or "no such table" in str(exc):
            return 0
        raise
    current = 0
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version not in applied:
            break
        current = migration.version
    return current


def migrate(db: Database, *, now: Callable[[], dt.datetime] | None = None) -> list[Migration]:
    """Apply every pending migration; returns the ones applied (empty when current)."""
    clock = now or (lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    postgres = is_postgres(db)
    if postgres:
        db.execute_sql("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_ID,))
    try:
        return _apply_pending(db, clock)
    finally:
        if postgres:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_ID,))


def _apply_pending(db: Database, clock: Callable[[], dt.datetime]) -> list[Migration]:
    db.create_tables([models.SchemaMigration], safe=True)
    applied: list[Migration] = []
    for migration in MIGRATIONS:
        with db.atomic():
            exists = models.SchemaMigration.get_or_none(
                models.SchemaMigration.version == migration.version
            )
            if exists is not None:
                continue
            migration.apply(db)
            models.SchemaMigration.create(
                version=migration.version, name=migration.name, applied_at=clock()
            )
            applied.append(migration)
    return applied
