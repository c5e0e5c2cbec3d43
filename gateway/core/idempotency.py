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

from gateway.core import results
from gateway.core.errors import IdempotencyConflict
from gateway.store import fastsql
from gateway.store.models import IdempotencyRecord
from gateway.store.pruning import delete_in_id_order

# `status_code` of a record: the command is running, done, or done and created something.
PENDING, DONE, CREATED = 0, 1, 2


@dataclass(frozen=True)
class Replay:
    created: bool
    result: Any


def fingerprint(payload: Any) -> str:
    """SHA-256 of the canonical JSON of what makes two requests "the same"."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(stored_fp: str, status: int, body: str, fp: str) -> Replay:
    if stored_fp != fp:
        raise IdempotencyConflict("idempotency key reused with a different request")
    if status == PENDING:  # cannot be seen committed; defensive
        raise IdempotencyConflict("request with this idempotency key is still running")
    return Replay(created=status == CREATED, result=results.load(body))


def claim(scope: str, key: str, fp: str, now: dt.datetime) -> Replay | None:
    """None: the caller owns the key and must `complete` it; else the stored result.

    The record is inserted as expected to be new (`fastsql.insert_expected`); when it is
    checked at once, a concurrent insert of the same key on PostgreSQL makes it wait for
    that one to commit or roll back, then insert or find the stored result."""
    row = {
        "scope": scope,
        "key": key,
        "fingerprint": fp,
        "status_code": PENDING,
        "response_body": "null",
        "created_at": now,
    }
    if fastsql.insert_expected("idempotency_record", row) is not False:
        return None
    fingerprint_, status, body = fastsql.execute(
        "SELECT fingerprint, status_code, response_body FROM idempotency_record "
        'WHERE scope = %s AND "key" = %s',
        (scope, key),
    ).fetchone()
    return _replay(fingerprint_, status, body, fp)


def complete(scope: str, key: str, created: bool, result: Any) -> None:
    """Store the command's result, versioned (`gateway.core.results`), under its key."""
    fastsql.defer(
        "UPDATE idempotency_record SET status_code = %s, response_body = %s "
        'WHERE scope = %s AND "key" = %s',
        (CREATED if created else DONE, results.dump(result), scope, key),
    )


def forget(scope: str, key: str) -> None:
    """Drop a key claimed in this transaction (its command turned out to be a no-op)."""
    fastsql.defer('DELETE FROM idempotency_record WHERE scope = %s AND "key" = %s', (scope, key))


def prune(before: dt.datetime) -> int:
    """Delete records created before `before` (kept at least 120 days by configuration), a
    batch per transaction, walking the table by id (`gateway.store.pruning`)."""
    return delete_in_id_order(IdempotencyRecord, IdempotencyRecord.created_at < before)
