"""Migration 15, frozen: the time indexes only pruning read are dropped.

`signature_use_expires_at` and `idempotency_record_created_at` were read by nothing but
`pamgate prune`, yet every signed request put a key into the first (a page of SQLite's log,
an index insertion on PostgreSQL) and every money movement into the second. Pruning now
walks the two tables by id, the order their rows were written in (`gateway.store.pruning`).
"""

from __future__ import annotations

DDL = """
DROP INDEX "signature_use_expires_at";
DROP INDEX "idempotency_record_created_at"
"""
