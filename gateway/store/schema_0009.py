"""Migration 9, frozen: the payments registry.

`payment_method` and `payment_currency`: the catalogue, seeded here (Cash, Credit Card,
Bitcoin Lightning; EUR, USD, BTC, MXN, CRC) with ids derived from their names, so every
installation gives them the same UUIDs. `registry_payment`: one row per recorded payment, its
amount in the currency's minor units; `live_transaction_id` holds `transaction_id` while the
payment is live and NULL once it is voided, and is unique (NULLs never collide), so a live
`transaction_id` is taken once and a voided one may be recorded again. `payment_ticket_link`:
which of the caller's tickets a payment pays, once per pair.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

DDL = """
CREATE TABLE "payment_method" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL, "code" VARCHAR(40) NOT NULL, "created_at" {ts} NOT NULL);
CREATE UNIQUE INDEX "payment_method_name" ON "payment_method" ("name");
CREATE UNIQUE INDEX "payment_method_code" ON "payment_method" ("code");
CREATE TABLE "payment_currency" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "acronym" VARCHAR(3) NOT NULL, "created_at" {ts} NOT NULL);
CREATE UNIQUE INDEX "payment_currency_acronym" ON "payment_currency" ("acronym");
CREATE TABLE "registry_payment" ("id" VARCHAR(36) NOT NULL PRIMARY KEY,
    "method_id" VARCHAR(36) NOT NULL, "currency_id" VARCHAR(36) NOT NULL,
    "transaction_id" VARCHAR(100) NOT NULL, "live_transaction_id" VARCHAR(100),
    "amount" {big} NOT NULL, "ventana_id" VARCHAR(36), "created_by" VARCHAR(100) NOT NULL,
    "voided" {bool} NOT NULL, "voided_by" VARCHAR(100), "voided_at" {ts},
    "created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL,
    FOREIGN KEY ("method_id") REFERENCES "payment_method" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("currency_id") REFERENCES "payment_currency" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("ventana_id") REFERENCES "ventana" ("id") ON DELETE RESTRICT);
CREATE INDEX "registry_payment_method_id" ON "registry_payment" ("method_id");
CREATE INDEX "registry_payment_currency_id" ON "registry_payment" ("currency_id");
CREATE INDEX "registry_payment_transaction_id" ON "registry_payment" ("transaction_id");
CREATE UNIQUE INDEX "registry_payment_live_transaction_id" ON "registry_payment"
    ("live_transaction_id");
CREATE INDEX "registry_payment_ventana_id" ON "registry_payment" ("ventana_id");
CREATE INDEX "registry_payment_created_at" ON "registry_payment" ("created_at");
CREATE TABLE "payment_ticket_link" ("id" {bigpk}, "payment_id" VARCHAR(36) NOT NULL,
    "ticket_id" VARCHAR(100) NOT NULL, "created_by" VARCHAR(100) NOT NULL,
    "created_at" {ts} NOT NULL,
    FOREIGN KEY ("payment_id") REFERENCES "registry_payment" ("id") ON DELETE RESTRICT);
CREATE INDEX "payment_ticket_link_payment_id" ON "payment_ticket_link" ("payment_id");
CREATE INDEX "payment_ticket_link_ticket_id" ON "payment_ticket_link" ("ticket_id");
CREATE UNIQUE INDEX "payment_ticket_link_payment_id_ticket_id" ON "payment_ticket_link"
    ("payment_id", "ticket_id")
"""

# The catalogue as shipped: (name, code) of each method, the acronym of each currency.
METHODS = (("Cash", "cash"), ("Credit Card", "credit_card"), ("Bitcoin Lightning", "lightning"))
CURRENCIES = ("EUR", "USD", "BTC", "MXN", "CRC")

# Ids are UUIDs derived from the names in this namespace: the same on every installation.
NAMESPACE = uuid.UUID("5d6c2f3e-9a51-4f0b-8d7e-2b1c0a9e8f71")


def method_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"payment_method:{name}"))


def currency_id(acronym: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"payment_currency:{acronym}"))


def seed(execute: Callable[[str, tuple[Any, ...]], Any], now: dt.datetime) -> None:
    """Insert the catalogue rows (`execute(sql, params)`, `%s` placeholders); `created_at`
    one microsecond apart, so listing by it gives the order above."""
    for i, (name, code) in enumerate(METHODS):
        execute(
            'INSERT INTO "payment_method" ("id", "name", "code", "created_at") '
            "VALUES (%s, %s, %s, %s)",
            (method_id(name), name, code, now + dt.timedelta(microseconds=i)),
        )
    for i, acronym in enumerate(CURRENCIES):
        execute(
            'INSERT INTO "payment_currency" ("id", "acronym", "created_at") VALUES (%s, %s, %s)',
            (currency_id(acronym), acronym, now + dt.timedelta(microseconds=i)),
        )
