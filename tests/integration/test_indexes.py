"""What a money movement pays for in indexes, on both databases. Indexes of mostly-empty
columns hold only the rows where the column is set (a Betstack ticket has no banca, window,
seller, hold or expiry; a retail ticket no player; almost no transaction reverses another),
yet every query on those columns still finds its index, and a transaction is still
reversed at most once. Indexes no query reads are not kept."""

from __future__ import annotations

import datetime as dt

import pytest
from peewee import IntegrityError

from gateway.store.database import is_postgres
from gateway.store.models import LedgerTxn, Settlement, Ticket

PARTIAL = {
    ("ticket", "ticket_player_id", False),
    ("ticket", "ticket_banca_id", False),
    ("ticket", "ticket_ventana_id", False),
    ("ticket", "ticket_vendedor_id", False),
    ("ticket", "ticket_hold_id", False),
    ("ticket", "ticket_expires_at", False),
    ("ledger_txn", "ledger_txn_reverses_id", True),
    ("settlement", "settlement_reversed_by_id", False),
}


def test_the_mostly_empty_columns_are_indexed_only_where_set(db) -> None:  # type: ignore[no-untyped-def]
    found = set()
    for table in {t for t, _, _ in PARTIAL}:
        for index in db.get_indexes(table):
            column = index.columns[0] if len(index.columns) == 1 else ""
            partial = f"{column} IS NOT NULL".upper() in (index.sql or "").upper().replace('"', "")
            if partial:
                found.add((table, index.name, index.unique))
    assert found == PARTIAL


def _plan(db, query) -> str:  # type: ignore[no-untyped-def]
    sql, params = query.sql()
    if is_postgres(db):
        with db.atomic():
            db.execute_sql("SET LOCAL enable_seqscan = off")  # tiny tables: force the choice
            rows = db.execute_sql("EXPLAIN " + sql, params).fetchall()
        return "\n".join(r[0] for r in rows)
    return "\n".join(str(r[-1]) for r in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))


@pytest.mark.parametrize(
    ("index", "query"),
    [
        ("ticket_player_id", lambda: Ticket.select(Ticket.id).where(Ticket.player == "p-1")),
        ("ticket_banca_id", lambda: Ticket.select(Ticket.id).where(Ticket.banca == "b-1")),
        ("ticket_ventana_id", lambda: Ticket.select(Ticket.id).where(Ticket.ventana << ["v-1"])),
        ("ticket_vendedor_id", lambda: Ticket.select(Ticket.id).where(Ticket.vendedor == "s-1")),
        ("ticket_hold_id", lambda: Ticket.select(Ticket.id).where(Ticket.hold.is_null(False))),
        (
            "ticket_expires_at",
            lambda: Ticket.select(Ticket.id).where(Ticket.expires_at <= dt.datetime(2026, 1, 1)),
        ),
        ("ledger_txn_reverses_id", lambda: LedgerTxn.select().where(LedgerTxn.reverses == 7)),
        (
            "settlement_reversed_by_id",
            lambda: Settlement.select(Settlement.id).where(Settlement.reversed_by == 7),
        ),
    ],
)
def test_queries_on_those_columns_still_use_their_index(db, index, query) -> None:  # type: ignore[no-untyped-def]
    assert index in _plan(db, query())


def _txn(reverses: int | None) -> int:
    now = dt.datetime(2026, 12, 6, 12, 0)
    return int(
        LedgerTxn.insert(kind="test", reference="r", reverses=reverses, created_at=now).execute()
    )


def test_a_transaction_is_still_reversed_at_most_once(db) -> None:  # type: ignore[no-untyped-def]
    with db.atomic():
        original = _txn(None)
        _txn(None)  # rows reversing nothing never collide
        _txn(original)
        with pytest.raises(IntegrityError), db.atomic():
            _txn(original)
        assert LedgerTxn.select().where(LedgerTxn.reverses == original).count() == 1


def test_the_indexes_no_query_reads_are_not_kept(db) -> None:  # type: ignore[no-untyped-def]
    """Each cost every ticket a page of SQLite's log and PostgreSQL an index insertion;
    transactions are found by id, reference and reversal, settlements by ticket, audit rows
    by sequence."""
    kept = {
        (table, index.name)
        for table in ("ledger_txn", "settlement", "audit_record")
        for index in db.get_indexes(table)
    }
    unread = {
        ("ledger_txn", "ledger_txn_created_at"),
        ("settlement", "settlement_txn_id"),
        ("audit_record", "audit_record_action"),
    }
    assert kept & unread == set()
    assert ("settlement", "settlement_ticket_id") in kept  # the ones read are still there
    assert ("ledger_txn", "ledger_txn_reference") in kept
