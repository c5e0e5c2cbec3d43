"""The outbox as operators see it: messages by state, re-sending one, replaying the dead
letters in bulk, and the figures the metrics publish. The JSON API, the command line and the
console all call these functions.

Views never carry a message's content: an SMS shows its type and the destination masked to
the last 3 digits, never the text (a one-time code is a secret).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gateway.core import outbox, policy
from gateway.core.commands import Context, Done, Outcome, run
from gateway.core.errors import Invalid, NotFound
from gateway.core.outbox import DEAD, PENDING, SENDING, SENT, STATES, OutboxStateError
from gateway.core.principal import Principal
from gateway.core.results import result
from gateway.logs import mask_phone
from gateway.progress import ProgressCallback
from gateway.store import fastsql
from gateway.store.database import database, locked, read_snapshot, unit_of_work
from gateway.store.models import OutboxAttempt, OutboxMessage

MAX_PAGE = 200
REPLAY_BATCH = 500
PRUNE_BATCH = 2000


@result
@dataclass(frozen=True)
class OutboxEntry:
    message_id: str
    kind: str
    type: str | None
    to: str | None  # masked
    state: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    request_id: str | None = None  # the request that queued it
    traceparent: str | None = None  # that request's span (W3C)


@dataclass(frozen=True)
class Page:
    entries: list[OutboxEntry]
    next_before: int | None  # pass as `before` for the next (older) page


def entry(message: outbox.Message) -> OutboxEntry:
    payload: Any = message.payload if isinstance(message.payload, dict) else {}
    to = payload.get("to")
    return OutboxEntry(
        message_id=message.message_id,
        kind=message.kind,
        type=payload.get("type") if isinstance(payload.get("type"), str) else None,
        to=mask_phone(to) if isinstance(to, str) else None,
        state=message.state,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at,
        last_error=message.last_error,
        created_at=message.created_at,
        updated_at=message.updated_at,
        request_id=message.request_id,
        traceparent=message.traceparent,
    )


def list_messages(
    principal: Principal, state: str, *, limit: int = 50, before: int | None = None
) -> Page:
    """Messages in `state`, newest first, `limit` at most (≤ 200); `before`: the cursor
    of the previous page."""
    policy.manage_outbox(principal)
    if state not in STATES:
        raise Invalid(f"state must be one of {', '.join(STATES)}", field="state")
    limit = max(1, min(limit, MAX_PAGE))
    query = OutboxMessage.select().where(OutboxMessage.state == state)
    if before is not None:
        query = query.where(OutboxMessage.id < before)
    rows = list(query.order_by(OutboxMessage.id.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        entries=[entry(outbox._message(r)) for r in rows],
        next_before=rows[-1].id if more and rows else None,
    )


def get_message(principal: Principal, message_id: str) -> OutboxEntry:
    policy.manage_outbox(principal)
    return entry(outbox.get(message_id))


def retry_message(ctx: Context, principal: Principal, message_id: str) -> Outcome:
    """Re-send a dead message now (its retry schedule starts over). Already waiting or
    being sent: nothing changes (a repeated request is harmless). Sent: `OutboxStateError`."""
    policy.manage_outbox(principal)

    def body() -> Done:
        row = locked(OutboxMessage.select().where(OutboxMessage.message_id == message_id)).first()
        if row is None:
            raise NotFound("outbox message not found", message_id=message_id)
        if row.state == SENT:
            raise OutboxStateError(
                "outbox message was sent already", message_id=message_id, state=row.state
            )
        if row.state == DEAD:
            row.state, row.next_attempt_at, row.retry_base = PENDING, ctx.now, row.attempts
            row.updated_at = ctx.now
            row.save()
            return Done(entry(outbox._message(row)), details={"retried": True})
        return Done(entry(outbox._message(row)), details={"retried": False})

    return run(ctx, "OUTBOX_RETRY", body, target_type="outbox_message", target_id=message_id)


def count(state: str) -> int:
    return OutboxMessage.select().where(OutboxMessage.state == state).count()


def replay(
    now: dt.datetime,
    *,
    state: str = DEAD,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> int:
    """Re-send every message in `state` (dead letters) now, in batches; returns how many.
    `dry_run`: only count them. `progress`: (replayed so far, dead letters at the start)."""
    if state != DEAD:
        raise Invalid("only dead messages can be replayed", field="state")
    if dry_run:
        return count(state)
    expected = count(state) if progress is not None else None
    total = 0
    while True:
        with unit_of_work(database):
            rows = list(
                locked(
                    OutboxMessage.select(OutboxMessage.id, OutboxMessage.attempts)
                    .where(OutboxMessage.state == DEAD)
                    .order_by(OutboxMessage.id)
                    .limit(REPLAY_BATCH),
                    skip_locked=True,
                )
            )
            for row in rows:
                OutboxMessage.update(
                    state=PENDING,
                    next_attempt_at=now,
                    retry_base=row.attempts,
                    updated_at=now,
                ).where((OutboxMessage.id == row.id) & (OutboxMessage.state == DEAD)).execute()
        total += len(rows)
        if progress is not None:
            progress(total, max(expected or 0, total))
        if len(rows) < REPLAY_BATCH:
            return total


@dataclass(frozen=True)
class Pruned:
    messages: int
    attempts: int


def prune(
    before: dt.datetime, *, batch: int = PRUNE_BATCH, progress: ProgressCallback | None = None
) -> Pruned:
    """Delete sent messages last changed before `before`, with their attempt log, a batch
    per transaction (oldest first). Pending, sending and dead messages are never deleted.
    `progress`: (messages deleted so far, how many there were to delete)."""
    old = (OutboxMessage.state == SENT) & (OutboxMessage.updated_at < before)
    expected = OutboxMessage.select().where(old).count() if progress is not None else None
    messages = attempts = 0
    while True:
        with unit_of_work(database):
            rows = list(
                OutboxMessage.select(OutboxMessage.id, OutboxMessage.message_id)
                .where(old)
                .order_by(OutboxMessage.id)
                .limit(batch)
            )
            if rows:
                ids = [r.message_id for r in rows]
                attempts += (
                    OutboxAttempt.delete().where(OutboxAttempt.message_id.in_(ids)).execute()
                )
                messages += (
                    OutboxMessage.delete()
                    .where(
                        OutboxMessage.id.in_([r.id for r in rows]) & (OutboxMessage.state == SENT)
                    )
                    .execute()
                )
        if progress is not None:
            progress(messages, max(expected or 0, messages))
        if len(rows) < batch:
            return Pruned(messages, attempts)


@dataclass(frozen=True)
class Figures:
    """What the metrics publish about the outbox."""

    pending: int
    sending: int
    dead: int
    oldest_unsent_age_s: float  # 0 when nothing waits
    lag_p99_s: float | None  # creation → delivery, over `window`; None without deliveries
    failed_attempts: int  # over `window`
    window_s: int


def figures(now: dt.datetime, *, window: dt.timedelta = dt.timedelta(minutes=5)) -> Figures:
    """Depth by state, age of the oldest unsent message, lag p99 and failed attempts over
    the last `window`: one read snapshot, index lookups only."""
    with read_snapshot():
        depth = dict(
            fastsql.execute(
                f"SELECT state, COUNT(*) FROM {OutboxMessage._meta.table_name} "  # noqa: S608
                "WHERE state IN (%s, %s, %s) GROUP BY state",
                (PENDING, SENDING, DEAD),
            ).fetchall()
        )
        oldest = (
            OutboxMessage.select(OutboxMessage.created_at)
            .where(OutboxMessage.state.in_([PENDING, SENDING]))
            .order_by(OutboxMessage.created_at)
            .limit(1)
            .scalar()
        )
        since = now - window
        delivered = OutboxAttempt.select(OutboxAttempt.lag_ms).where(
            (OutboxAttempt.finished_at >= since) & (OutboxAttempt.outcome == outbox.SENT_OUTCOME)
        )
        n = delivered.count()
        p99_ms = (
            delivered.order_by(OutboxAttempt.lag_ms).offset(min(n - 1, int(n * 0.99))).scalar()
            if n
            else None
        )
        failed = (
            OutboxAttempt.select()
            .where(
                (OutboxAttempt.finished_at >= since)
                & (OutboxAttempt.outcome != outbox.SENT_OUTCOME)
            )
            .count()
        )
    p99 = None if p99_ms is None else int(p99_ms) / 1000.0
    return Figures(
        pending=int(depth.get(PENDING, 0)),
        sending=int(depth.get(SENDING, 0)),
        dead=int(depth.get(DEAD, 0)),
        oldest_unsent_age_s=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        lag_p99_s=p99,
        failed_attempts=failed,
        window_s=int(window.total_seconds()),
    )
