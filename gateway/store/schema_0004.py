"""Migration 4, frozen: the lottery (SPEC 9).

`lottery_draw`: a payee's draws (prices, board limits, prize tables as JSON, the numbers
once recorded); the draw number is unique across pamgate and (`payee_id`, `status`,
`closes_at`) finds a payee's active draw. `lottery_ticket`: what a lottery sale adds to its
`ticket` row (same id); (`payee_id`, `payer_reference`) is unique, and so are the receipt's
reference, serial and transaction numbers.
"""

from __future__ import annotations

DDL = """
CREATE TABLE "lottery_draw" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "payee_id" VARCHAR(36) NOT NULL, "draw_number" VARCHAR(40) NOT NULL,
    "draw_date" DATE NOT NULL, "closes_at" {ts} NOT NULL, "timezone" VARCHAR(64) NOT NULL,
    "currency" VARCHAR(3) NOT NULL, "base_price" {big} NOT NULL,
    "rematch_price" {big} NOT NULL, "second_rematch_price" {big} NOT NULL,
    "min_boards" INTEGER NOT NULL, "max_boards" INTEGER NOT NULL, "prizes" TEXT NOT NULL,
    "status" VARCHAR(10) NOT NULL, "numbers" VARCHAR(40), "winners" INTEGER NOT NULL,
    "payout_total" {big} NOT NULL, "liability_txn_id" {big}, "created_at" {ts} NOT NULL,
    "resulted_at" {ts},
    FOREIGN KEY ("payee_id") REFERENCES "banca" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("liability_txn_id") REFERENCES "ledger_txn" ("id") ON DELETE RESTRICT);
CREATE INDEX "lottery_draw_payee_id" ON "lottery_draw" ("payee_id");
CREATE UNIQUE INDEX "lottery_draw_draw_number" ON "lottery_draw" ("draw_number");
CREATE INDEX "lottery_draw_liability_txn_id" ON "lottery_draw" ("liability_txn_id");
CREATE INDEX "lottery_draw_payee_id_status_closes_at" ON "lottery_draw" ("payee_id",
    "status", "closes_at");
CREATE TABLE "lottery_ticket" ("ticket_id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "draw_id" VARCHAR(36) NOT NULL, "payee_id" VARCHAR(36) NOT NULL,
    "payer_reference" VARCHAR(100) NOT NULL, "boards" VARCHAR(120) NOT NULL,
    "combination_count" INTEGER NOT NULL, "rematch" {bool} NOT NULL,
    "second_rematch" {bool} NOT NULL, "total" {big} NOT NULL,
    "reference_number" VARCHAR(40) NOT NULL, "serial_number" VARCHAR(40) NOT NULL,
    "transaction_number" VARCHAR(20) NOT NULL, "session_id" VARCHAR(20) NOT NULL,
    "payment_id" VARCHAR(36) NOT NULL, "security_number" VARCHAR(120) NOT NULL,
    "created_at" {ts} NOT NULL,
    FOREIGN KEY ("ticket_id") REFERENCES "ticket" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("draw_id") REFERENCES "lottery_draw" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("payee_id") REFERENCES "banca" ("id") ON DELETE RESTRICT);
CREATE INDEX "lottery_ticket_draw_id" ON "lottery_ticket" ("draw_id");
CREATE INDEX "lottery_ticket_payee_id" ON "lottery_ticket" ("payee_id");
CREATE UNIQUE INDEX "lottery_ticket_reference_number" ON "lottery_ticket"
    ("reference_number");
CREATE UNIQUE INDEX "lottery_ticket_serial_number" ON "lottery_ticket" ("serial_number");
CREATE UNIQUE INDEX "lottery_ticket_transaction_number" ON "lottery_ticket"
    ("transaction_number");
CREATE UNIQUE INDEX "lottery_ticket_payee_id_payer_reference" ON "lottery_ticket"
    ("payee_id", "payer_reference");
"""
