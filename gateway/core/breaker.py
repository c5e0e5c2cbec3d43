"""A circuit breaker per SMS provider, shared by every dispatcher through the database.

Closed: messages are sent. When, over the last `window` (30 s; only attempts since the
circuit last closed count), at least `min_attempts` (10) attempts were made and at least
half failed (`failed`: a timeout, a 5xx, a 408/429, a refused connection; a final 4xx says
the message was wrong, not the provider, and does not count), it opens. Open: nothing is
claimed, so no attempt is spent, until `retry_at` (`cooldown` later). Then one dispatcher
wins the half-open probe (a conditional update: only one can) and sends a single message;
success closes the circuit, failure opens it for another cooldown. A probe whose
dispatcher died is taken over once its `retry_at` (the probe's lease) passes.

The attempt log (`outbox_attempt`) is the evidence; this module only keeps the state row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.store import fastsql
from gateway.store.database import database, unit_of_work
from gateway.store.models import CircuitBreaker, OutboxAttempt

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
FAILED = "failed"  # the attempt-log outcome that counts against a provider

_TABLE = CircuitBreaker._meta.table_name
_ATTEMPTS = OutboxAttempt._meta.table_name


@dataclass(frozen=True)
class Policy:
    window: dt.timedelta = dt.timedelta(seconds=30)
    min_attempts: int = 10
    failure_ratio: float = 0.5
    cooldown: dt.timedelta = dt.timedelta(seconds=30)

    def trips(self, attempts: int, failures: int) -> bool:
        return attempts >= self.min_attempts and failures >= self.failure_ratio * attempts


@dataclass(frozen=True)
class Gate:
    """What a dispatcher may do now: `send` (closed), `probe` (send one message), or
    `wait` until `until`. `attempts`/`failures`: the window's tally when closed."""

    action: str
    until: dt.datetime | None = None
    attempts: int = 0
    failures: int = 0


def _row(provider: str) -> CircuitBreaker | None:
    return CircuitBreaker.get_or_none(CircuitBreaker.provider == provider)


def tally(provider: str, since: dt.datetime) -> tuple[int, int]:
    """(attempts, failed attempts) of `provider` that ended at or after `since`."""
    total, failed = fastsql.execute(
        f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN outcome = %s THEN 1 ELSE 0 END), 0) "  # noqa: S608
        f"FROM {_ATTEMPTS} WHERE provider = %s AND finished_at >= %s",
        (FAILED, provider, since),
    ).fetchone()
    return int(total), int(failed)


def _window_start(row: CircuitBreaker | None, now: dt.datetime, policy: Policy) -> dt.datetime:
    start = now - policy.window
    if row is not None and row.since > start:
        start = row.since
    return start


def admit(provider: str, now: dt.datetime, policy: Policy, *, probe_lease: dt.timedelta) -> Gate:
    """May a dispatcher send for `provider` now? See the module docstring."""
    row = _row(provider)
    if row is None or row.state == CLOSED:
        attempts, failures = tally(provider, _window_start(row, now, policy))
        return Gate("send", attempts=attempts, failures=failures)
    if row.retry_at is not None and row.retry_at > now:
        return Gate("wait", until=row.retry_at)
    with unit_of_work(database):  # open past its cooldown, or a probe whose lease ran out
        won = fastsql.execute(
            f"UPDATE {_TABLE} SET state = %s, since = %s, retry_at = %s "  # noqa: S608
            "WHERE provider = %s AND state = %s AND retry_at = %s",
            (HALF_OPEN, now, now + probe_lease, provider, row.state, row.retry_at),
        ).rowcount
    if won == 1:
        return Gate("probe")
    return Gate("wait", until=now + dt.timedelta(seconds=1))


def _ensure(provider: str, now: dt.datetime) -> None:
    fastsql.execute(
        f"INSERT INTO {_TABLE} (provider, state, since, retry_at) "  # noqa: S608
        "VALUES (%s, %s, %s, NULL) ON CONFLICT (provider) DO NOTHING",
        (provider, CLOSED, now),
    )


def probed(provider: str, ok: bool, now: dt.datetime, policy: Policy) -> None:
    """The half-open probe's outcome: close the circuit, or open it for a cooldown."""
    with unit_of_work(database):
        if ok:
            fastsql.execute(
                f"UPDATE {_TABLE} SET state = %s, since = %s, retry_at = NULL "  # noqa: S608
                "WHERE provider = %s AND state = %s",
                (CLOSED, now, provider, HALF_OPEN),
            )
        else:
            fastsql.execute(
                f"UPDATE {_TABLE} SET state = %s, since = %s, retry_at = %s "  # noqa: S608
                "WHERE provider = %s AND state = %s",
                (OPEN, now, now + policy.cooldown, provider, HALF_OPEN),
            )


def observe(provider: str, now: dt.datetime, policy: Policy) -> bool:
    """After attempts were logged: open a closed circuit whose window trips. True when the
    circuit is (now) open."""
    row = _row(provider)
    if row is not None and row.state != CLOSED:
        return True
    attempts, failures = tally(provider, _window_start(row, now, policy))
    if not policy.trips(attempts, failures):
        return False
    with unit_of_work(database):
        _ensure(provider, now)
        fastsql.execute(
            f"UPDATE {_TABLE} SET state = %s, since = %s, retry_at = %s "  # noqa: S608
            "WHERE provider = %s AND state = %s",
            (OPEN, now, now + policy.cooldown, provider, CLOSED),
        )
    return True


def state(provider: str) -> str:
    row = _row(provider)
    return CLOSED if row is None else str(row.state)


def release_probe(provider: str, now: dt.datetime) -> None:
    """A probe that found nothing to send: the circuit is open again, probe-able at once."""
    with unit_of_work(database):
        fastsql.execute(
            f"UPDATE {_TABLE} SET state = %s, retry_at = %s "  # noqa: S608
            "WHERE provider = %s AND state = %s",
            (OPEN, now, provider, HALF_OPEN),
        )
