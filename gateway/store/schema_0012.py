"""Migration 12, frozen: the audit log sealed in batches instead of one locked chain head.

`audit_seal`: one row per sealed batch of audit rows, `first_seq`..`last_seq`, how many rows
it holds, the Merkle root of their hashes, and the seal's own hash chained to the previous
seal's. Batch 0 stands for the rows written before this migration (one hash chain, as they
were written): its root is that chain's last hash. `audit_head`, the row every appending
transaction locked, is dropped. On PostgreSQL new rows take their `seq` from the sequence
`audit_record_seq`, started after the last existing row.
"""

from __future__ import annotations

import hashlib
import json

DDL = """
CREATE TABLE "audit_seal" ("batch" {big} NOT NULL PRIMARY KEY,
    "first_seq" {big} NOT NULL, "last_seq" {big} NOT NULL, "row_count" {big} NOT NULL,
    "root" VARCHAR(64) NOT NULL, "prev_hash" VARCHAR(64) NOT NULL,
    "hash" VARCHAR(64) NOT NULL, "sealed_at" {ts} NOT NULL);
CREATE UNIQUE INDEX "audit_seal_last_seq" ON "audit_seal" ("last_seq")
"""

POSTGRES_SEQUENCE = "CREATE SEQUENCE audit_record_seq AS BIGINT START WITH %s"

OWN_SEQUENCE = "ALTER SEQUENCE audit_record_seq OWNED BY audit_record.seq"

DROP_HEAD = 'DROP TABLE "audit_head"'


def seal_hash(prev_hash: str, fields: dict[str, object]) -> str:
    """A seal's hash: SHA-256 of the previous seal's hash and the seal's canonical content
    (`batch`, `first_seq`, `last_seq`, `row_count`, `root`, `sealed_at` as ISO text)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()
