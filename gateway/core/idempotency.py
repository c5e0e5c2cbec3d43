"""The idempotency store shared by every protocol.

A command claims `(scope, key)` inside its own transaction, before any effect. The unique
index decides duplicates: on PostgreSQL a concurrent duplicate blocks on the index until
the first commits, then sees its stored result (or proceeds, if the first rolled back);
on SQLite the immediate write transaction serialises them. So a key can never produce a
second effect, and the stored result is written in the same transaction as the effects.
Failed commands store nothing: a retry after a refusal runs again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError

from gateway.core.errors import IdempotencyConflict
from gateway.store.database import database
from gateway.store.models import IdempotencyRecord

PENDING = 0


@dataclass(frozen=True)
class Replay:
    status: int
    result: Any


def fingerprint(payload: Any) -> str:
    """SHA-256 of the canonical JSON of what makes two requests "the same"."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(record: IdempotencyRecord, fp: str) -> Replay:
    if record.fingerprint != fp:
        raise IdempotencyConflict("idempotency key reused with a different request")
    if record.status_code == PENDING:  # cannot be seen committed; defensive
        raise IdempotencyConflict("request with this idempotency key is still running")
    return Replay(status=record.status_code, result=json.loads(record.response_body))


def claim(scope: str, key: str, fp: str, now: dt.datetime) -> Replay | None:
    """None: the caller owns the key and must `complete` it; else the stored result."""
    existing = IdempotencyRecord.get_or_none(
        (IdempotencyRecord.scope == scope) & (IdempotencyRecord.key == key)
    )
    if existing is not None:
        return _replay(existing, fp)
    try:
        with database.atomic():
            IdempotencyRecord.insert(
                scope=scope, key=key, fingerprint=fp, status_code=PENDING, response_body="null",
                created_at=now,
            ).execute()
    except IntegrityError:
        record = IdempotencyRecord.get(
            (IdempotencyRecord.scope == scope) & (IdempotencyRecord.key == key)
        )
        return _replay(record, fp)
    return None


def complete(scope: str, key: str, status: int, result: Any) -> None:
    IdempotencyRecord.update(
        status_code=status, response_body=json.dumps(result, separators=(",", ":"), default=str)
    ).where((IdempotencyRecord.scope == scope) & (IdempotencyRecord.key == key)).execute()


def prune(before: dt.datetime) -> int:
    """Delete records created before `before` (kept at least 120 days by configuration)."""
    return IdempotencyRecord.delete().where(IdempotencyRecord.created_at < before).execute()
