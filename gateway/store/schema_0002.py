"""Migration 2, frozen: what hardening against a hostile partner network needed.

- players belong to one operator (`operator`, and `externalId` unique per operator);
- `signature_use`: every accepted partner signature (or Standard Webhooks message id),
  remembered with the response it got, so a signed message is accepted once;
- `rejection_tally`: refused unauthenticated requests counted per partner, reason and
  minute (summarised into the audit log once the minute is over, never a row per request).
"""

from __future__ import annotations

DDL = """
ALTER TABLE "player" ADD COLUMN "operator" VARCHAR(100) NOT NULL DEFAULT '';
DROP INDEX "player_external_id";
CREATE UNIQUE INDEX "player_operator_external_id" ON "player" ("operator", "external_id");
CREATE TABLE "signature_use" ("id" {bigpk}, "partner" VARCHAR(100) NOT NULL,
    "signature" VARCHAR(200) NOT NULL, "method" VARCHAR(10) NOT NULL,
    "request_hash" VARCHAR(64) NOT NULL, "status_code" INTEGER NOT NULL,
    "response" TEXT NOT NULL, "created_at" {ts} NOT NULL, "expires_at" {ts} NOT NULL);
CREATE UNIQUE INDEX "signature_use_partner_signature" ON "signature_use" ("partner",
    "signature");
CREATE INDEX "signature_use_expires_at" ON "signature_use" ("expires_at");
CREATE TABLE "rejection_tally" ("id" {bigpk}, "partner" VARCHAR(100) NOT NULL,
    "reason" VARCHAR(40) NOT NULL, "minute" {ts} NOT NULL, "count" {big} NOT NULL);
CREATE UNIQUE INDEX "rejection_tally_partner_reason_minute" ON "rejection_tally" ("partner",
    "reason", "minute");
"""
