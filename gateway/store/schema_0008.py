"""Migration 8, frozen: delivering the outbox (SPEC 5: SMS notifications).

- `outbox_message.claim_token`: the claim a dispatcher holds on a `sending` message; an
  outcome is recorded only by the claim that still holds it (a dispatcher whose lease ran
  out cannot overwrite the one that took the message over);
- `outbox_attempt`: one row per delivery attempt (outcome, HTTP status, latency, the
  provider's message id, the error), indexed by message and by provider and time (the
  circuit breaker's window, the lag metric);
- `sms_notification`: the deduplication record of inbound notifications (one row per
  operator and content digest, with the time it was last accepted);
- `rate_bucket`: token buckets shared by every dispatcher (GCRA: the theoretical arrival
  time per key);
- `circuit_breaker`: the breaker state per provider.
"""

from __future__ import annotations

DDL = """
ALTER TABLE "outbox_message" ADD COLUMN "claim_token" VARCHAR(36);
ALTER TABLE "outbox_message" ADD COLUMN "retry_base" INTEGER NOT NULL DEFAULT 0;
CREATE TABLE "outbox_attempt" ("id" {bigpk}, "message_id" VARCHAR(36) NOT NULL,
    "attempt" INTEGER NOT NULL, "provider" VARCHAR(20) NOT NULL,
    "outcome" VARCHAR(10) NOT NULL, "http_status" INTEGER, "latency_ms" INTEGER NOT NULL,
    "lag_ms" {big}, "provider_message_id" VARCHAR(100), "error" TEXT,
    "started_at" {ts} NOT NULL, "finished_at" {ts} NOT NULL);
CREATE INDEX "outbox_attempt_message_id" ON "outbox_attempt" ("message_id");
CREATE INDEX "outbox_attempt_provider_finished_at" ON "outbox_attempt" ("provider",
    "finished_at");
CREATE INDEX "outbox_attempt_finished_at" ON "outbox_attempt" ("finished_at");
CREATE TABLE "sms_notification" ("id" {bigpk}, "operator" VARCHAR(100) NOT NULL,
    "digest" VARCHAR(64) NOT NULL, "message_id" VARCHAR(36) NOT NULL,
    "received_at" {ts} NOT NULL);
CREATE UNIQUE INDEX "sms_notification_operator_digest" ON "sms_notification" ("operator",
    "digest");
CREATE TABLE "rate_bucket" ("key" VARCHAR(100) NOT NULL PRIMARY KEY, "tat" {ts} NOT NULL);
CREATE TABLE "circuit_breaker" ("provider" VARCHAR(20) NOT NULL PRIMARY KEY,
    "state" VARCHAR(10) NOT NULL, "since" {ts} NOT NULL, "retry_at" {ts});
"""
