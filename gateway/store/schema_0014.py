"""Migration 14, frozen: three indexes no query reads are dropped.

`ledger_txn_created_at`, `settlement_txn_id` and `audit_record_action` were declared with
their tables and never used: transactions are found by id, reference and reversal,
settlements by ticket, audit rows by sequence. Each cost every `ticket_create` a page of
SQLite's log (3 of the ~31 it wrote) and PostgreSQL an index insertion. A settlement's
`txn_id` keeps its foreign key (a transaction is never deleted: its table is append-only,
so the key never needs its children found).
"""

from __future__ import annotations

DDL = """
DROP INDEX "ledger_txn_created_at";
DROP INDEX "settlement_txn_id";
DROP INDEX "audit_record_action"
"""
