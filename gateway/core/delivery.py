"""The dispatcher's steps that touch the database: take a batch, finish it, give back what
was not sent. The dispatcher itself (`adapters/sms/dispatcher.py`) does the sending.

`take`: the provider's circuit breaker decides first (open: nothing is claimed, so no
attempt is spent; half-open: one probe message); then due messages of the provider's kind
(`sms`, or `event` for the operator's endpoint) are claimed (`FOR UPDATE SKIP LOCKED`); then
the token buckets of the provider and, for SMS, of each phone number
(`gateway.core.ratelimit`) decide which may go now; the others are given back, due when
their tokens free up, without spending an attempt. `finish`: the attempts are logged and
the messages moved on (`outbox.record`), then the breaker looks at the window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.core import breaker, outbox, ratelimit, sms
from gateway.core.outbox import Attempt, Message
from gateway.store.database import database, unit_of_work


@dataclass(frozen=True)
class Limits:
    provider: ratelimit.Limit
    phone: ratelimit.Limit | None  # None: messages without a phone number (events)


@dataclass(frozen=True)
class Batch:
    messages: list[Message] = field(default_factory=list)
    probe: bool = False
    # nothing more may go before this (breaker open, or every message waits for tokens)
    wait_until: dt.datetime | None = None
    claimed: int = 0
    # the breaker's window so far (closed circuit): the dispatcher stops a batch that trips it
    window_attempts: int = 0
    window_failures: int = 0


def phone_key(to: str) -> str:
    """The bucket of a phone number, by digest (the number itself is not stored again)."""
    return "phone:" + hashlib.sha256(to.encode()).hexdigest()[:40]


def _to(message: Message) -> str:
    payload = message.payload if isinstance(message.payload, dict) else {}
    return str(payload.get("to", ""))


def _need(provider_key: str, message: Message, limits: Limits) -> ratelimit.Need:
    if limits.phone is None:
        return ratelimit.Need(((provider_key, limits.provider),))
    return ratelimit.Need(
        ((provider_key, limits.provider), (phone_key(_to(message)), limits.phone))
    )


def take(
    provider: str,
    now: dt.datetime,
    *,
    size: int,
    lease: dt.timedelta,
    limits: Limits,
    policy: breaker.Policy,
    kind: str = sms.KIND,
) -> Batch:
    gate = breaker.admit(provider, now, policy, probe_lease=lease)
    if gate.action == "wait":
        return Batch(wait_until=gate.until)
    probe = gate.action == "probe"
    claimed = outbox.claim_due(now, 1 if probe else size, lease=lease, kinds=(kind,))
    if not claimed:
        if probe:
            breaker.release_probe(provider, now)
        return Batch()
    provider_key = "provider:" + provider
    with unit_of_work(database):
        answers = ratelimit.admit([_need(provider_key, m, limits) for m in claimed], now)
        waiting = [(m, t) for m, t in zip(claimed, answers, strict=True) if t is not None]
        outbox.defer(waiting, now)
    ready = [m for m, t in zip(claimed, answers, strict=True) if t is None]
    if probe and not ready:
        breaker.release_probe(provider, now)
    return Batch(
        messages=ready,
        probe=probe and bool(ready),
        wait_until=min((t for _, t in waiting), default=None) if not ready else None,
        claimed=len(claimed),
        window_attempts=gate.attempts,
        window_failures=gate.failures,
    )


def finish(
    provider: str,
    attempts: Sequence[Attempt],
    now: dt.datetime,
    *,
    probe: bool,
    policy: breaker.Policy,
) -> None:
    outbox.record(attempts, now)
    if probe:
        breaker.probed(
            provider, any(a.outcome == outbox.SENT_OUTCOME for a in attempts), now, policy
        )
    elif attempts:
        breaker.observe(provider, now, policy)


def give_back(messages: Sequence[Message], now: dt.datetime) -> int:
    """Claimed messages that were not attempted (the dispatcher is stopping, or the breaker
    tripped mid-batch): due again now, no attempt spent."""
    return outbox.defer([(m, now) for m in messages], now)
