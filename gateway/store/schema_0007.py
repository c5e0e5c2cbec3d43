"""Migration 7, frozen: account payments and daily statements (SPEC 7).

`banca.currency`: the currency a banca's statements are kept in. `ticket_payment.vendedor_id`:
the seller who paid a prize, when a seller did. `daily_activity`: one row per position of the
sales network and business day with what statements sum (sales, prize payouts, account
payments), written in the same transaction as the money. `account_payment`: payments and
collections that settle a dimension's account, reversed with a mirror transaction.
"""

from __future__ import annotations

DDL = """
ALTER TABLE "banca" ADD COLUMN "currency" VARCHAR(3) NOT NULL DEFAULT 'MXN';
ALTER TABLE "ticket_payment" ADD COLUMN "vendedor_id" VARCHAR(36)
    REFERENCES "vendedor" ("id") ON DELETE RESTRICT;
CREATE INDEX "ticket_payment_vendedor_id" ON "ticket_payment" ("vendedor_id");
CREATE TABLE "daily_activity" ("id" {bigpk},
    "banca" VARCHAR(36) NOT NULL, "ventana" VARCHAR(36) NOT NULL,
    "vendedor" VARCHAR(36) NOT NULL, "day" DATE NOT NULL, "currency" VARCHAR(3) NOT NULL,
    "sales" {big} NOT NULL, "payouts" {big} NOT NULL, "paid" {big} NOT NULL,
    "collected" {big} NOT NULL, "settlements" INTEGER NOT NULL, "finals" INTEGER NOT NULL);
CREATE UNIQUE INDEX "daily_activity_ventana_vendedor_day_currency_banca" ON "daily_activity"
    ("ventana", "vendedor", "day", "currency", "banca");
CREATE INDEX "daily_activity_banca_day" ON "daily_activity" ("banca", "day");
CREATE TABLE "account_payment" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "dimension" VARCHAR(10) NOT NULL, "banca" VARCHAR(36) NOT NULL,
    "ventana" VARCHAR(36) NOT NULL, "vendedor" VARCHAR(36) NOT NULL, "day" DATE NOT NULL,
    "time" VARCHAR(5) NOT NULL, "amount" {big} NOT NULL, "currency" VARCHAR(3) NOT NULL,
    "type" VARCHAR(12) NOT NULL, "method" VARCHAR(20) NOT NULL, "notes" VARCHAR(500),
    "is_final" {bool} NOT NULL, "idempotency_key" VARCHAR(100) NOT NULL,
    "paid_by" VARCHAR(100) NOT NULL, "txn_id" {big}, "is_reversed" {bool} NOT NULL,
    "reversal_txn_id" {big}, "reversed_by" VARCHAR(100), "reason" VARCHAR(300),
    "created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL,
    FOREIGN KEY ("txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("reversal_txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT);
CREATE INDEX "account_payment_txn_id" ON "account_payment" ("txn_id");
CREATE INDEX "account_payment_reversal_txn_id" ON "account_payment" ("reversal_txn_id");
"""
