"""The outbox: messages a command emits in the same transaction as its money (SPEC 5).

`emit` writes a `pending` row inside the caller's transaction, so the message exists if and
only if the command committed. A dispatcher (the SMS issue adds delivery) then:
`claim_due` moves due rows to `sending` (rows locked with `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several dispatchers never claim one message; a claim lasts `lease`, after
which a message left in `sending` by a crashed dispatcher is due again), delivers each,
and records the outcome with `mark_sent`, or `mark_failed` (back to `pending` at the time
it names, or `dead` when there are no retries left). `retry` sends a dead message again.

This module decides nothing about delivery (providers, backoff, templates), and nothing
here sends anything.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.core.errors import Conflict, NotFound
from gateway.store.database import database, locked, unit_of_work
from gateway.store.models import OutboxMessage

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATES = (PENDING, SENDING, SENT, DEAD)
LEASE = dt.timedelta(minutes=5)
ERROR_CHARS = 1000  # last_error keeps the start of long errors


class OutboxStateError(Conflict):
    """The message is not in the state this step needs (e.g. `mark_sent` of a dead one)."""

    code = "outbox_state"


@dataclass(frozen=True)
class Message:
    id: int
    message_id: str
    kind: str
    payload: Any
    state: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def _message(row: OutboxMessage) -> Message:
    return Message(
        id=row.id,
        message_id=row.message_id,
        kind=row.kind,
        payload=json.loads(row.payload),
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def emit(
    kind: str,
    payload: Any,
    now: dt.datetime,
    *,
    message_id: str | None = None,
    deliver_at: dt.datetime | None = None,
) -> Message:
    """Write a `pending` message in the caller's transaction (refused outside one)."""
    if not database.in_transaction():
        raise RuntimeError("outbox.emit must run inside the command's unit_of_work()")
    row = OutboxMessage.create(
        message_id=message_id or str(uuid.uuid4()),
        kind=kind,
        payload=json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str),
        state=PENDING,
        attempts=0,
        next_attempt_at=deliver_at or now,
        last_error=None,
        created_at=now,
        updated_at=now,
    )
    return _message(row)


def claim_due(now: dt.datetime, limit: int = 50, *, lease: dt.timedelta = LEASE) -> list[Message]:
    """Claim up to `limit` due messages (oldest due first) for delivery, in a transaction of
    their own: `pending` (or `sending` whose claim ran out) and due → `sending`, one more
    attempt, claimed until `now + lease`."""
    with unit_of_work(database):
        rows = list(
            locked(
                OutboxMessage.select()
                .where(
                    OutboxMessage.state.in_([PENDING, SENDING])
                    & (OutboxMessage.next_attempt_at <= now)
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit),
                skip_locked=True,
            )
        )
        if rows:
            OutboxMessage.update(
                state=SENDING,
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + lease,
                updated_at=now,
            ).where(OutboxMessage.id.in_([r.id for r in rows])).execute()
        for row in rows:
            row.state, row.attempts = SENDING, row.attempts + 1
            row.next_attempt_at, row.updated_at = now + lease, now
        return [_message(r) for r in rows]


def _transition(
    message_id: str, allowed: Iterable[str], now: dt.datetime, **changes: Any
) -> Message:
    with unit_of_work(database):
        row = locked(OutboxMessage.select().where(OutboxMessage.message_id == message_id)).first()
        if row is None:
            raise NotFound("outbox message not found", message_id=message_id)
        if row.state not in allowed:
            raise OutboxStateError(
                f"outbox message is {row.state}", message_id=message_id, state=row.state
            )
        for name, value in {**changes, "updated_at": now}.items():
            setattr(row, name, value)
        row.save()
        return _message(row)


def mark_sent(message_id: str, now: dt.datetime) -> Message:
    """The provider accepted the message: `sending` → `sent`."""
    return _transition(message_id, (SENDING,), now, state=SENT, last_error=None)


def mark_failed(
    message_id: str, error: str, retry_at: dt.datetime | None, now: dt.datetime
) -> Message:
    """A delivery failed: `sending` → `pending`, due again at `retry_at`, or → `dead` when
    `retry_at` is None (no retries left, or a final refusal)."""
    if retry_at is None:
        return _transition(message_id, (SENDING,), now, state=DEAD, last_error=error[:ERROR_CHARS])
    return _transition(
        message_id,
        (SENDING,),
        now,
        state=PENDING,
        next_attempt_at=retry_at,
        last_error=error[:ERROR_CHARS],
    )


def retry(message_id: str, now: dt.datetime) -> Message:
    """Send a dead message again: `dead` → `pending`, due now (its attempts are kept)."""
    return _transition(message_id, (DEAD,), now, state=PENDING, next_attempt_at=now)


def get(message_id: str) -> Message:
    row = OutboxMessage.get_or_none(OutboxMessage.message_id == message_id)
    if row is None:
        raise NotFound("outbox message not found", message_id=message_id)
    return _message(row)


def in_state(state: str, *, limit: int = 100) -> list[Message]:
    """Messages in `state`, oldest first (e.g. the dead letters an operator re-sends)."""
    return [
        _message(r)
        for r in OutboxMessage.select()
        .where(OutboxMessage.state == state)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)
    ]
