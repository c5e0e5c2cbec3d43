"""The outbox: messages a command emits in the same transaction as its money (SPEC 5).

`emit` writes a `pending` row inside the caller's transaction, so the message exists if and
only if the command committed. A dispatcher (the SMS issue adds delivery) then:
`claim_due` moves due rows to `sending` (rows locked with `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several dispatchers never claim one message; a claim lasts `lease`, after
which a message left in `sending` by a crashed dispatcher is due again), delivers each,
and records the outcome with `mark_sent`, or `mark_failed` (back to `pending` at the time
it names, or `dead` when there are no retries left). `retry` sends a dead message again.

Every claim carries a token (`Message.claim_token`): outcomes passed with it are recorded
only while that claim still holds the message, so a dispatcher whose lease ran out cannot
overwrite the one that took the message over. `record` writes a batch of delivery outcomes
and their attempt-log rows in one transaction; `defer` puts claimed messages back without
spending an attempt (a rate limit said "later"). Reads for operators and the console:
`page` (by state, newest first), `retry_message` (ADMIN, audited), `replay` (bulk).

Each message keeps the request that queued it (`request_id`, as on its audit rows) and that
request's span (`traceparent`); each logged attempt keeps the trace and span it was sent
under, so one ticket can be followed from the partner's call to the provider.

This module decides nothing about delivery (providers, backoff, templates), and nothing
here sends anything.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway import tracing
from gateway.core.errors import Conflict, NotFound
from gateway.store.database import database, locked, unit_of_work
from gateway.store.models import OutboxAttempt, OutboxMessage

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
    claim_token: str | None = None
    retry_base: int = 0
    request_id: str | None = None
    traceparent: str | None = None

    @property
    def tries_since_retry(self) -> int:
        """Attempts since the message was created or an operator last re-sent it."""
        return self.attempts - self.retry_base


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
        claim_token=row.claim_token,
        retry_base=row.retry_base,
        request_id=row.request_id,
        traceparent=row.traceparent,
    )


def emit(
    kind: str,
    payload: Any,
    now: dt.datetime,
    *,
    message_id: str | None = None,
    deliver_at: dt.datetime | None = None,
    request_id: str | None = None,
) -> Message:
    """Write a `pending` message in the caller's transaction (refused outside one), with
    the request that queued it and the span of the request in progress, if any."""
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
        claim_token=None,
        retry_base=0,
        request_id=request_id[:64] if request_id else None,
        traceparent=span.traceparent if (span := tracing.current()) is not None else None,
    )
    return _message(row)


def claim_due(
    now: dt.datetime,
    limit: int = 50,
    *,
    lease: dt.timedelta = LEASE,
    kinds: Sequence[str] | None = None,
) -> list[Message]:
    """Claim up to `limit` due messages (oldest due first) for delivery, in a transaction of
    their own: `pending` (or `sending` whose claim ran out) and due → `sending`, one more
    attempt, claimed until `now + lease` under one new claim token. `kinds`: only these."""
    token = str(uuid.uuid4())
    with unit_of_work(database):
        due = OutboxMessage.state.in_([PENDING, SENDING]) & (OutboxMessage.next_attempt_at <= now)
        if kinds is not None:
            due &= OutboxMessage.kind.in_(list(kinds))
        rows = list(
            locked(
                OutboxMessage.select()
                .where(due)
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
                claim_token=token,
            ).where(OutboxMessage.id.in_([r.id for r in rows])).execute()
        for row in rows:
            row.state, row.attempts = SENDING, row.attempts + 1
            row.next_attempt_at, row.updated_at, row.claim_token = now + lease, now, token
        return [_message(r) for r in rows]


def _transition(
    message_id: str,
    allowed: Iterable[str],
    now: dt.datetime,
    *,
    claim: str | None = None,
    **changes: Any,
) -> Message:
    with unit_of_work(database):
        row = locked(OutboxMessage.select().where(OutboxMessage.message_id == message_id)).first()
        if row is None:
            raise NotFound("outbox message not found", message_id=message_id)
        if row.state not in allowed:
            raise OutboxStateError(
                f"outbox message is {row.state}", message_id=message_id, state=row.state
            )
        if claim is not None and row.claim_token != claim:
            raise OutboxStateError(
                "outbox message was claimed again", message_id=message_id, state=row.state
            )
        for name, value in {**changes, "updated_at": now}.items():
            setattr(row, name, value(row) if callable(value) else value)
        row.save()
        return _message(row)


def mark_sent(message_id: str, now: dt.datetime, *, claim: str | None = None) -> Message:
    """The provider accepted the message: `sending` → `sent` (only by the holder of `claim`,
    when given)."""
    return _transition(
        message_id, (SENDING,), now, claim=claim, state=SENT, last_error=None, claim_token=None
    )


def mark_failed(
    message_id: str,
    error: str,
    retry_at: dt.datetime | None,
    now: dt.datetime,
    *,
    claim: str | None = None,
) -> Message:
    """A delivery failed: `sending` → `pending`, due again at `retry_at`, or → `dead` when
    `retry_at` is None (no retries left, or a final refusal)."""
    if retry_at is None:
        return _transition(
            message_id,
            (SENDING,),
            now,
            claim=claim,
            state=DEAD,
            last_error=error[:ERROR_CHARS],
            claim_token=None,
        )
    return _transition(
        message_id,
        (SENDING,),
        now,
        claim=claim,
        state=PENDING,
        next_attempt_at=retry_at,
        last_error=error[:ERROR_CHARS],
        claim_token=None,
    )


def retry(message_id: str, now: dt.datetime) -> Message:
    """Send a dead message again: `dead` → `pending`, due now (its attempts are kept; the
    retry schedule starts over from them)."""
    return _transition(
        message_id,
        (DEAD,),
        now,
        state=PENDING,
        next_attempt_at=now,
        retry_base=lambda row: row.attempts,
    )


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


# --- delivery outcomes (the dispatcher) ------------------------------------------------------

SENT_OUTCOME, FAILED_OUTCOME, REFUSED_OUTCOME = "sent", "failed", "refused"


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a claimed message, as the dispatcher saw it. `outcome`:
    `sent`, `failed` (worth retrying: `retry_at`, or None when out of retries) or `refused`
    (final). `error` must already be free of phone numbers and codes."""

    message: Message
    provider: str
    outcome: str
    started_at: dt.datetime
    finished_at: dt.datetime
    http_status: int | None = None
    provider_message_id: str | None = None
    error: str | None = None
    retry_at: dt.datetime | None = None
    span: tracing.SpanContext | None = None  # the span the attempt was sent under


def _ms(delta: dt.timedelta) -> int:
    return max(int(delta.total_seconds() * 1000), 0)


def record(attempts: Sequence[Attempt], now: dt.datetime) -> int:
    """Log the attempts and move their messages on, in one transaction: `sent`, `pending`
    again at `retry_at`, or `dead`. A message whose claim was taken over meanwhile (its
    lease ran out) keeps the newer claim's state; its attempt is logged all the same.
    Returns how many messages changed state."""
    if not attempts:
        return 0
    changed = 0
    with unit_of_work(database):
        sent: dict[str, list[str]] = {}
        for attempt in attempts:
            if attempt.outcome == SENT_OUTCOME:
                token = attempt.message.claim_token or ""
                sent.setdefault(token, []).append(attempt.message.message_id)
                continue
            dead = attempt.outcome == REFUSED_OUTCOME or attempt.retry_at is None
            changes: dict[Any, Any] = {
                OutboxMessage.state: DEAD if dead else PENDING,
                OutboxMessage.last_error: (attempt.error or attempt.outcome)[:ERROR_CHARS],
                OutboxMessage.claim_token: None,
                OutboxMessage.updated_at: now,
            }
            if not dead:
                changes[OutboxMessage.next_attempt_at] = attempt.retry_at
            changed += (
                OutboxMessage.update(changes)
                .where(
                    (OutboxMessage.message_id == attempt.message.message_id)
                    & (OutboxMessage.state == SENDING)
                    & (OutboxMessage.claim_token == attempt.message.claim_token)
                )
                .execute()
            )
        for token, ids in sent.items():
            changed += (
                OutboxMessage.update(state=SENT, last_error=None, claim_token=None, updated_at=now)
                .where(
                    (OutboxMessage.message_id.in_(ids))
                    & (OutboxMessage.state == SENDING)
                    & (OutboxMessage.claim_token == token)
                )
                .execute()
            )
        OutboxAttempt.insert_many(
            [
                {
                    "message_id": a.message.message_id,
                    "attempt": a.message.attempts,
                    "provider": a.provider,
                    "outcome": a.outcome,
                    "http_status": a.http_status,
                    "latency_ms": _ms(a.finished_at - a.started_at),
                    "lag_ms": _ms(a.finished_at - a.message.created_at),
                    "provider_message_id": (a.provider_message_id or None)
                    and a.provider_message_id[:100],
                    "error": a.error[:ERROR_CHARS] if a.error else None,
                    "started_at": a.started_at,
                    "finished_at": a.finished_at,
                    "trace_id": a.span.trace_id if a.span else None,
                    "span_id": a.span.span_id if a.span else None,
                }
                for a in attempts
            ]
        ).execute()
    return changed


def defer(messages: Sequence[tuple[Message, dt.datetime]], now: dt.datetime) -> int:
    """Give claimed messages back without spending an attempt, due again at the time given
    (a rate limit or the breaker said "later", or the dispatcher is stopping)."""
    if not messages:
        return 0
    changed = 0
    with unit_of_work(database):
        for message, until in messages:
            changed += (
                OutboxMessage.update(
                    state=PENDING,
                    attempts=OutboxMessage.attempts - 1,
                    next_attempt_at=until,
                    claim_token=None,
                    updated_at=now,
                )
                .where(
                    (OutboxMessage.message_id == message.message_id)
                    & (OutboxMessage.state == SENDING)
                    & (OutboxMessage.claim_token == message.claim_token)
                )
                .execute()
            )
    return changed


def attempts_of(message_id: str) -> list[dict[str, Any]]:
    """The attempt log of one message, oldest first."""
    return list(
        OutboxAttempt.select()
        .where(OutboxAttempt.message_id == message_id)
        .order_by(OutboxAttempt.id)
        .dicts()
    )
