"""Running a command: one transaction, idempotency, and the audit line, in one place.

`run` opens the unit of work, claims the idempotency key (if any), calls the command body,
stores its result under the key, appends the audit row and commits. A replay returns the
stored result (audited as `replayed`). A refusal (`CoreError`) rolls everything back and
then writes only the audit line of the rejection, in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.core import audit, idempotency
from gateway.core.audit import Actor
from gateway.core.errors import CoreError
from gateway.store.database import database, unit_of_work


@dataclass(frozen=True)
class Context:
    """Who is acting, for which request, at what time."""

    actor: Actor
    now: dt.datetime
    request_id: str | None = None


@dataclass(frozen=True)
class IdemKey:
    scope: str
    key: str
    fingerprint: str


@dataclass
class Done:
    """What a command body returns: an outcome status (201 created, 200 ok) and a
    JSON-able result the adapter renders."""

    status: int
    result: Any
    target_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # False when the command turned out to be a no-op whose answer must not be replayed
    # for this key later (a rollback with nothing to undo: the key names a generation in
    # which a real settlement, and then a real rollback, may still come).
    remember: bool = True


@dataclass(frozen=True)
class Outcome:
    status: int
    result: Any
    replayed: bool = False


def run(
    ctx: Context,
    action: str,
    body: Callable[[], Done],
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    idem: IdemKey | Callable[[], IdemKey] | None = None,
    before_claim: Callable[[], None] | None = None,
) -> Outcome:
    """Execute `body` exactly once per idempotency key; see the module docstring.

    `before_claim` runs inside the transaction before the key is claimed: commands use it
    to take the row lock that orders concurrent requests (e.g. the ticket row). `idem` may
    be a function, called after `before_claim`, when the key depends on the locked row.
    """
    try:
        with unit_of_work(database):
            if before_claim is not None:
                before_claim()
            if callable(idem):
                idem = idem()
            if idem is not None:
                replay = idempotency.claim(idem.scope, idem.key, idem.fingerprint, ctx.now)
                if replay is not None:
                    audit.append(ctx.actor, action, now=ctx.now, result="replayed",
                                 target_type=target_type, target_id=target_id,
                                 request_id=ctx.request_id, details={"cached": True})
                    return Outcome(replay.status, replay.result, replayed=True)
            done = body()
            if idem is not None:
                if done.remember:
                    idempotency.complete(idem.scope, idem.key, done.status, done.result)
                else:
                    idempotency.forget(idem.scope, idem.key)
            audit.append(ctx.actor, action, now=ctx.now, result="ok", target_type=target_type,
                         target_id=done.target_id or target_id, request_id=ctx.request_id,
                         details=done.details)
            return Outcome(done.status, done.result)
    except CoreError as error:
        record_rejection(ctx, action, error.code, target_type=target_type, target_id=target_id,
                         details={"message": error.message})
        raise


def record_rejection(
    ctx: Context,
    action: str,
    reason: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit a refused request in its own transaction (the request itself wrote nothing)."""
    with unit_of_work(database):
        audit.append(ctx.actor, action, now=ctx.now, result=f"rejected:{reason}",
                     target_type=target_type, target_id=target_id, request_id=ctx.request_id,
                     details=details or {})
