"""Migration 3, frozen: the outbox (SPEC 5).

`outbox_message`: messages a command emitted in its own transaction, delivered after commit
by the dispatcher; `message_id` is the stable id every delivery carries, and the index on
(`state`, `next_attempt_at`) serves the dispatcher's query for what is due.
"""

from __future__ import annotations

DDL = """
CREATE TABLE "outbox_message" ("id" {bigpk}, "message_id" VARCHAR(36) NOT NULL,
    "kind" VARCHAR(60) NOT NULL, "payload" TEXT NOT NULL, "state" VARCHAR(8) NOT NULL,
    "attempts" INTEGER NOT NULL, "next_attempt_at" {ts} NOT NULL, "last_error" TEXT,
    "created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL);
CREATE UNIQUE INDEX "outbox_message_message_id" ON "outbox_message" ("message_id");
CREATE INDEX "outbox_message_state_next_attempt_at" ON "outbox_message" ("state",
    "next_attempt_at");
"""
