"""Migration 6, frozen: payments of winning retail tickets (SPEC 6).

`ticket_payment`: one row per payment at a window, `posted` with its ledger transaction or
`pending` an ADMIN's approval (maker-checker), reversed with the mirror transaction.
"""

from __future__ import annotations

DDL = """
CREATE TABLE "ticket_payment" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "ticket_id" VARCHAR(36) NOT NULL, "ventana_id" VARCHAR(36) NOT NULL,
    "amount" {big} NOT NULL, "currency" VARCHAR(3) NOT NULL, "method" VARCHAR(20) NOT NULL,
    "is_final" {bool} NOT NULL, "notes" VARCHAR(300), "idempotency_key" VARCHAR(100) NOT NULL,
    "paid_by" VARCHAR(100) NOT NULL, "status" VARCHAR(10) NOT NULL,
    "approved_by" VARCHAR(100), "txn_id" {big}, "is_reversed" {bool} NOT NULL,
    "reversal_txn_id" {big}, "reversed_by" VARCHAR(100), "reason" VARCHAR(300),
    "created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL,
    FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("ventana_id") REFERENCES "ventana" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("reversal_txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT);
CREATE INDEX "ticket_payment_ticket_id" ON "ticket_payment" ("ticket_id");
CREATE INDEX "ticket_payment_ventana_id" ON "ticket_payment" ("ventana_id");
CREATE INDEX "ticket_payment_txn_id" ON "ticket_payment" ("txn_id");
CREATE INDEX "ticket_payment_reversal_txn_id" ON "ticket_payment" ("reversal_txn_id");
"""
