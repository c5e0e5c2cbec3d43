"""Running a command: one transaction, idempotency, and the audit line, in one place.

`run` opens the unit of work, claims the idempotency key (if any), calls the command body,
stores its result under the key, appends the audit row and commits. A replay returns the
stored result (audited as `replayed`). A refusal (`CoreError`) rolls everything back and
then writes only the audit line of the rejection, in a transaction of its own.

When the whole request is one transaction (`request_transaction`: a signed partner request,
whose once-only record is written with what it did), commands inside it join that
transaction instead of opening a savepoint, and hand the audit line of a refusal to the
request, which writes it after rolling back (`write_rejections`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from gateway.core import audit, idempotency
from gateway.core.audit import Actor
from gateway.core.errors import CoreError
from gateway.store import fastsql
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
    """What a command body returns: its result (a registered frozen dataclass, see
    `gateway.core.results`, or None) and whether it created something."""

    result: Any = None
    created: bool = False
    target_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # False when the command turned out to be a no-op whose answer must not be replayed
    # for this key later (a rollback with nothing to undo: the key names a generation in
    # which a real settlement, and then a real rollback, may still come).
    remember: bool = True


@dataclass(frozen=True)
class Outcome:
    result: Any = None
    created: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class Rejection:
    """The audit line of a refused command, written once its transaction has rolled back."""

    ctx: Context
    action: str
    reason: str
    target_type: str | None = None
    target_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Refusal:
    """What a refused request still writes after rolling back: the audit lines of its refused
    commands, and work that must happen even so (`after_refusal`)."""

    rejections: list[Rejection] = field(default_factory=list)
    work: list[Callable[[], None]] = field(default_factory=list)

    def write(self, *, refused: bool = True) -> None:
        """Inside the caller's transaction: the new one after a rollback, or (`refused`
        False: the request answered after all) the request's own, without the work. The
        audit lines go last: the chain's lock is taken after every row lock (no deadlock
        with the expiry sweeper, which locks tickets and then the chain)."""
        for work in self.work if refused else ():
            work()
        for r in self.rejections:
            audit.append(
                r.ctx.actor,
                r.action,
                now=r.ctx.now,
                result=f"rejected:{r.reason}",
                target_type=r.target_type,
                target_id=r.target_id,
                request_id=r.ctx.request_id,
                details=r.details,
            )
        self.rejections.clear()
        self.work.clear()


_REFUSAL: ContextVar[Refusal | None] = ContextVar("pamgate_refusal", default=None)


@contextmanager
def request_transaction() -> Iterator[Refusal]:
    """One transaction for a whole request. Commands inside it join it (no savepoint); when
    one is refused, the caller rolls back and then calls `Refusal.write()` in a new
    transaction."""
    refusal = Refusal()
    token = _REFUSAL.set(refusal)
    try:
        with unit_of_work(database):
            yield refusal
    finally:
        _REFUSAL.reset(token)


def after_refusal(work: Callable[[], None]) -> None:
    """Run `work` (in the transaction that records the refusal) once the current command's
    transaction has rolled back: e.g. a reservation found overdue expires even though the
    request that found it is refused."""
    refusal = _REFUSAL.get()
    if refusal is None:
        raise RuntimeError("after_refusal outside a command")
    refusal.work.append(work)


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
    Inside a request run optimistically (`fastsql.optimistically`: a signed partner request
    on PostgreSQL) the key is claimed as expected to be new, and a repeat gives up that
    attempt for a careful one: `body` may then run in an attempt that is rolled back, as
    it may be by any refusal, so it does nothing outside the database (`after_commit`).
    """
    outer = _REFUSAL.get()
    joined = outer is not None and database.in_transaction()
    refusal = outer if joined and outer is not None else Refusal()
    token = None if joined else _REFUSAL.set(refusal)
    try:
        with nullcontext() if joined else unit_of_work(database):
            if before_claim is not None:
                before_claim()
            if callable(idem):
                idem = idem()
            if idem is not None:
                replay = idempotency.claim(idem.scope, idem.key, idem.fingerprint, ctx.now)
                if replay is not None:
                    audit.append(
                        ctx.actor,
                        action,
                        now=ctx.now,
                        result="replayed",
                        target_type=target_type,
                        target_id=target_id,
                        request_id=ctx.request_id,
                        details={"cached": True},
                    )
                    return Outcome(replay.result, replay.created, replayed=True)
            done = body()
            if idem is not None:
                if done.remember:
                    idempotency.complete(idem.scope, idem.key, done.created, done.result)
                else:
                    idempotency.forget(idem.scope, idem.key)
            audit.append(
                ctx.actor,
                action,
                now=ctx.now,
                result="ok",
                target_type=target_type,
                target_id=done.target_id or target_id,
                request_id=ctx.request_id,
                details=done.details,
            )
            return Outcome(done.result, done.created)
    except CoreError as error:
        fastsql.refuse_carefully(error)
        refusal.rejections.append(
            Rejection(ctx, action, error.code, target_type, target_id, {"message": error.message})
        )
        if not joined:
            with unit_of_work(database):
                refusal.write()
        raise
    finally:
        if token is not None:
            _REFUSAL.reset(token)
