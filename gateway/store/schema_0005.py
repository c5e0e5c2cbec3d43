"""Migration 5, frozen: back-office users and sessions (SPEC 2).

`app_user`: a login with its Argon2id hash, role, the records it acts for, and its failed-login
count and lock. `refresh_token`: refresh tokens by SHA-256 only (unique), grouped in
families (one per login) so a reused token revokes its whole family.
"""

from __future__ import annotations

DDL = """
CREATE TABLE "app_user" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "username" VARCHAR(100) NOT NULL, "password_hash" VARCHAR(200) NOT NULL,
    "role" VARCHAR(10) NOT NULL, "banca_id" VARCHAR(36), "ventana_id" VARCHAR(36),
    "vendedor_id" VARCHAR(36), "permissions" VARCHAR(500) NOT NULL,
    "failed_logins" INTEGER NOT NULL, "failures_since" {ts}, "locked_until" {ts},
    "created_at" {ts} NOT NULL,
    FOREIGN KEY ("banca_id") REFERENCES "banca" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("ventana_id") REFERENCES "ventana" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("vendedor_id") REFERENCES "vendedor" ("id") ON DELETE RESTRICT);
CREATE UNIQUE INDEX "app_user_username" ON "app_user" ("username");
CREATE INDEX "app_user_banca_id" ON "app_user" ("banca_id");
CREATE INDEX "app_user_ventana_id" ON "app_user" ("ventana_id");
CREATE INDEX "app_user_vendedor_id" ON "app_user" ("vendedor_id");
CREATE TABLE "refresh_token" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "user_id" VARCHAR(36) NOT NULL, "family_id" VARCHAR(36) NOT NULL,
    "token_hash" VARCHAR(64) NOT NULL, "created_at" {ts} NOT NULL,
    "expires_at" {ts} NOT NULL, "used_at" {ts}, "revoked_at" {ts},
    FOREIGN KEY ("user_id") REFERENCES "app_user" ("id") ON DELETE RESTRICT);
CREATE INDEX "refresh_token_user_id" ON "refresh_token" ("user_id");
CREATE INDEX "refresh_token_family_id" ON "refresh_token" ("family_id");
CREATE UNIQUE INDEX "refresh_token_token_hash" ON "refresh_token" ("token_hash");
"""
