"""Migration 1, frozen: the schema as it stood when pamgate first shipped, as explicit DDL.

Never edit this text: a fresh database must get exactly what an old one got, and later
migrations change it step by step. `{ts}`, `{big}`, `{bigpk}` and `{bool}` are the only
differences between the engines (SQLite's affinities, PostgreSQL's 64-bit types).
"""

from __future__ import annotations

DDL = """
CREATE TABLE "banca" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "name" VARCHAR(200) NOT NULL,
    "created_at" {ts} NOT NULL);
CREATE TABLE "ventana" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "banca_id" VARCHAR(36) NOT NULL, "name" VARCHAR(200) NOT NULL,
    "commission_bps" INTEGER NOT NULL, "created_at" {ts} NOT NULL,
    FOREIGN KEY ("banca_id") REFERENCES "banca" ("id") ON DELETE RESTRICT);
CREATE INDEX "ventana_banca_id" ON "ventana" ("banca_id");
CREATE TABLE "vendedor" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "ventana_id" VARCHAR(36) NOT NULL, "name" VARCHAR(200) NOT NULL,
    "commission_bps" INTEGER NOT NULL, "created_at" {ts} NOT NULL,
    FOREIGN KEY ("ventana_id") REFERENCES "ventana" ("id") ON DELETE RESTRICT);
CREATE INDEX "vendedor_ventana_id" ON "vendedor" ("ventana_id");
CREATE TABLE "player" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "external_id" VARCHAR(100),
    "msisdn" VARCHAR(32) NOT NULL, "lang" VARCHAR(8) NOT NULL,
    "currency" VARCHAR(3) NOT NULL, "blocked" {bool} NOT NULL, "ventana_id" VARCHAR(36),
    "created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL,
    FOREIGN KEY ("ventana_id") REFERENCES "ventana" ("id") ON DELETE RESTRICT);
CREATE UNIQUE INDEX "player_external_id" ON "player" ("external_id");
CREATE INDEX "player_ventana_id" ON "player" ("ventana_id");
CREATE TABLE "player_token" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "player_id" VARCHAR(36) NOT NULL, "token_hash" VARCHAR(64) NOT NULL,
    "expires_at" {ts} NOT NULL, "revoked_at" {ts}, "created_by" VARCHAR(100) NOT NULL,
    "created_at" {ts} NOT NULL,
    FOREIGN KEY ("player_id") REFERENCES "player" ("id") ON DELETE RESTRICT);
CREATE INDEX "player_token_player_id" ON "player_token" ("player_id");
CREATE UNIQUE INDEX "player_token_token_hash" ON "player_token" ("token_hash");
CREATE TABLE "account" ("id" {bigpk}, "code" VARCHAR(200) NOT NULL,
    "kind" VARCHAR(40) NOT NULL, "currency" VARCHAR(3) NOT NULL,
    "normal_side" VARCHAR(6) NOT NULL, "floor" {big}, "caches_balance" {bool} NOT NULL,
    "balance" {big} NOT NULL, "held" {big} NOT NULL, "owner_type" VARCHAR(20),
    "owner_id" VARCHAR(100), "created_at" {ts} NOT NULL);
CREATE UNIQUE INDEX "account_code" ON "account" ("code");
CREATE INDEX "account_kind" ON "account" ("kind");
CREATE TABLE "ledger_txn" ("id" {bigpk}, "kind" VARCHAR(60) NOT NULL,
    "reference" VARCHAR(200), "reverses_id" {big}, "actor" VARCHAR(120),
    "request_id" VARCHAR(64), "memo" VARCHAR(300), "created_at" {ts} NOT NULL,
    FOREIGN KEY ("reverses_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT);
CREATE INDEX "ledger_txn_reference" ON "ledger_txn" ("reference");
CREATE UNIQUE INDEX "ledger_txn_reverses_id" ON "ledger_txn" ("reverses_id");
CREATE INDEX "ledger_txn_created_at" ON "ledger_txn" ("created_at");
CREATE TABLE "entry" ("id" {bigpk}, "txn_id" {big} NOT NULL, "account_id" {big} NOT NULL,
    "amount" {big} NOT NULL, "currency" VARCHAR(3) NOT NULL,
    FOREIGN KEY ("txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("account_id") REFERENCES "account" ("id") ON DELETE RESTRICT);
CREATE INDEX "entry_txn_id" ON "entry" ("txn_id");
CREATE INDEX "entry_account_id" ON "entry" ("account_id");
CREATE TABLE "hold" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "account_id" {big} NOT NULL,
    "amount" {big} NOT NULL, "status" VARCHAR(10) NOT NULL, "reference" VARCHAR(200),
    "expires_at" {ts}, "posted_amount" {big} NOT NULL, "posted_txn_id" {big},
    "created_at" {ts} NOT NULL, "closed_at" {ts},
    FOREIGN KEY ("account_id") REFERENCES "account" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("posted_txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT);
CREATE INDEX "hold_account_id" ON "hold" ("account_id");
CREATE INDEX "hold_status" ON "hold" ("status");
CREATE INDEX "hold_reference" ON "hold" ("reference");
CREATE INDEX "hold_expires_at" ON "hold" ("expires_at");
CREATE INDEX "hold_posted_txn_id" ON "hold" ("posted_txn_id");
CREATE TABLE "idempotency_record" ("id" {bigpk}, "scope" VARCHAR(120) NOT NULL,
    "key" VARCHAR(200) NOT NULL, "fingerprint" VARCHAR(64) NOT NULL,
    "status_code" INTEGER NOT NULL, "response_body" TEXT NOT NULL,
    "created_at" {ts} NOT NULL);
CREATE INDEX "idempotency_record_created_at" ON "idempotency_record" ("created_at");
CREATE UNIQUE INDEX "idempotency_record_scope_key" ON "idempotency_record" ("scope", "key");
CREATE TABLE "audit_record" ("seq" {big} NOT NULL PRIMARY KEY, "at" {ts} NOT NULL,
    "actor_type" VARCHAR(20) NOT NULL, "actor_id" VARCHAR(120),
    "action" VARCHAR(60) NOT NULL, "target_type" VARCHAR(40), "target_id" VARCHAR(120),
    "result" VARCHAR(40) NOT NULL, "request_id" VARCHAR(64), "details" TEXT NOT NULL,
    "prev_hash" VARCHAR(64) NOT NULL, "hash" VARCHAR(64) NOT NULL);
CREATE INDEX "audit_record_action" ON "audit_record" ("action");
CREATE TABLE "audit_head" ("id" INTEGER NOT NULL PRIMARY KEY, "seq" {big} NOT NULL,
    "hash" VARCHAR(64) NOT NULL);
CREATE TABLE "ticket" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "channel" VARCHAR(20) NOT NULL, "operator" VARCHAR(100) NOT NULL,
    "external_id" VARCHAR(100) NOT NULL, "code" VARCHAR(40), "player_id" VARCHAR(36),
    "banca_id" VARCHAR(36), "ventana_id" VARCHAR(36), "vendedor_id" VARCHAR(36),
    "type" VARCHAR(30), "currency" VARCHAR(3) NOT NULL, "status" VARCHAR(12) NOT NULL,
    "result" VARCHAR(8) NOT NULL, "price" {big} NOT NULL, "stake" {big} NOT NULL,
    "gross_payout" {big} NOT NULL, "net_payout" {big} NOT NULL,
    "wht_amount" {big} NOT NULL, "wht" VARCHAR(20), "ext_amount" {big} NOT NULL,
    "ext" VARCHAR(20), "ext_type" VARCHAR(20), "psp" VARCHAR(40), "atag" VARCHAR(200),
    "rtag" VARCHAR(200), "payout" {big} NOT NULL, "paid_amount" {big} NOT NULL,
    "generation" INTEGER NOT NULL, "hold_id" VARCHAR(36), "expires_at" {ts},
    "tombstone" {bool} NOT NULL, "fingerprint" VARCHAR(64), "raw" TEXT NOT NULL,
    "created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL,
    FOREIGN KEY ("player_id") REFERENCES "player" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("banca_id") REFERENCES "banca" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("ventana_id") REFERENCES "ventana" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("vendedor_id") REFERENCES "vendedor" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("hold_id") REFERENCES "hold" ("id") ON DELETE RESTRICT);
CREATE INDEX "ticket_code" ON "ticket" ("code");
CREATE INDEX "ticket_player_id" ON "ticket" ("player_id");
CREATE INDEX "ticket_banca_id" ON "ticket" ("banca_id");
CREATE INDEX "ticket_ventana_id" ON "ticket" ("ventana_id");
CREATE INDEX "ticket_vendedor_id" ON "ticket" ("vendedor_id");
CREATE INDEX "ticket_status" ON "ticket" ("status");
CREATE INDEX "ticket_hold_id" ON "ticket" ("hold_id");
CREATE INDEX "ticket_expires_at" ON "ticket" ("expires_at");
CREATE INDEX "ticket_created_at" ON "ticket" ("created_at");
CREATE UNIQUE INDEX "ticket_channel_operator_external_id" ON "ticket" ("channel",
    "operator", "external_id");
CREATE TABLE "settlement" ("id" {bigpk}, "ticket_id" VARCHAR(36) NOT NULL,
    "generation" INTEGER NOT NULL, "action" VARCHAR(30) NOT NULL, "txn_id" {big},
    "reversed_by_id" {big}, "prev_status" VARCHAR(12) NOT NULL,
    "prev_result" VARCHAR(8) NOT NULL, "created_at" {ts} NOT NULL,
    FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("reversed_by_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT);
CREATE INDEX "settlement_ticket_id" ON "settlement" ("ticket_id");
CREATE INDEX "settlement_txn_id" ON "settlement" ("txn_id");
CREATE INDEX "settlement_reversed_by_id" ON "settlement" ("reversed_by_id");
"""

TYPES = {
    "sqlite": {
        "ts": "DATETIME",
        "big": "INTEGER",
        "bigpk": "INTEGER NOT NULL PRIMARY KEY",
        "bool": "INTEGER",
    },
    "postgres": {
        "ts": "TIMESTAMP",
        "big": "BIGINT",
        "bigpk": "BIGSERIAL NOT NULL PRIMARY KEY",
        "bool": "BOOLEAN",
    },
}


def statements(engine: str, ddl: str = DDL) -> list[str]:
    """The DDL for `engine` ("sqlite" or "postgres"), one statement per item."""
    text = ddl.format(**TYPES[engine])
    return [s.strip() for s in text.split(";") if s.strip()]
