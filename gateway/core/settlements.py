"""Account payments (SPEC 7): a seller, window or banca settles its account for a business day.

A `payment` is the dimension handing money to its parent (a seller to its window, a window to
its banca, a banca to the house) and lowers what it owes; a `collection` is the parent paying
it and raises it. Each is one ledger transaction (`account.payment`) between the two cash
accounts, plus the dimension's row of that day in `DailyActivity`, in one transaction. A
reversal posts the mirror and takes the amounts back from the same day's row.

Checks: the date and time are validated against the business timezone first (a payment may
be back-dated, never future-dated), then the role (sellers never; a banca only by ADMIN),
then the caller's idempotency key, then the dimension (404) and the caller's right to it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from gateway.core import accounts, ledger, network, policy, statements
from gateway.core.commands import Context, Done, IdemKey, Outcome, run
from gateway.core.errors import AlreadyReversed, Invalid, NotFound
from gateway.core.idempotency import fingerprint
from gateway.core.principal import Principal
from gateway.core.results import result
from gateway.core.statements import BANCA, VENDEDOR, VENTANA, Dimension, StatementDay
from gateway.store.database import locked
from gateway.store.models import AccountPayment, LedgerTxn

KIND = "account.payment"
PAYMENT, COLLECTION = "payment", "collection"
TYPES = (PAYMENT, COLLECTION)
METHODS = ("cash", "transfer", "check", "other", "system")


class FutureDate(Invalid):
    code = "future_date"


class FutureTime(Invalid):
    code = "future_time"


class AccountPaymentNotFound(NotFound):
    code = "account_payment_not_found"


class AccountPaymentReversed(AlreadyReversed):
    code = "account_payment_reversed"


@dataclass(frozen=True)
class SettleAccount:
    kind: str  # banca | ventana | vendedor
    dimension_id: str
    day: dt.date
    time: str  # HH:MM, local
    amount: int  # minor units of the banca's currency
    type: str
    method: str
    notes: str | None
    is_final: bool
    idempotency_key: str


@result
@dataclass(frozen=True)
class AccountPaymentView:
    id: str
    kind: str
    dimension_id: str
    day: dt.date
    time: str
    amount: int
    currency: str
    type: str
    method: str
    notes: str | None
    is_final: bool
    is_reversed: bool
    paid_by: str
    reversed_by: str | None
    reason: str | None
    created_at: dt.datetime


@result
@dataclass(frozen=True)
class Settled:
    payment: AccountPaymentView
    statement: StatementDay


def view(p: AccountPayment) -> AccountPaymentView:
    return AccountPaymentView(
        id=p.id,
        kind=p.dimension,
        dimension_id={BANCA: p.banca, VENTANA: p.ventana, VENDEDOR: p.vendedor}[p.dimension],
        day=statements.as_date(p.day),
        time=p.time,
        amount=p.amount,
        currency=p.currency,
        type=p.type,
        method=p.method,
        notes=p.notes,
        is_final=p.is_final,
        is_reversed=p.is_reversed,
        paid_by=p.paid_by,
        reversed_by=p.reversed_by,
        reason=p.reason,
        created_at=p.created_at,
    )


def currency_of(kind: str, ident: str) -> str:
    """The currency the dimension's account is kept in (its banca's), or 404."""
    return statements.dimension(kind, ident).currency


def check_when(now: dt.datetime, day: dt.date, time: str) -> None:
    """Neither a future date nor, today, a future time, in the business timezone."""
    here = statements.local(now)
    if day > here.date():
        raise FutureDate("date is in the future", field="date")
    if day == here.date() and time > here.strftime("%H:%M"):
        raise FutureTime("time is in the future", field="time")


def _legs(d: Dimension, type_: str, amount: int, now: dt.datetime) -> list[ledger.Leg]:
    """The dimension's cash pays its parent's (a payment), or the reverse (a collection)."""
    c = d.currency
    if d.kind == VENDEDOR:
        own = accounts.seller_cash(d.vendedor, c, now)
        parent = accounts.window_cash(d.ventana, c, now)
    elif d.kind == VENTANA:
        own = accounts.window_cash(d.ventana, c, now)
        parent = accounts.banca_cash(d.banca, c, now)
    else:
        own, parent = accounts.banca_cash(d.banca, c, now), accounts.house_cash(c, now)
    sign = 1 if type_ == PAYMENT else -1
    return [ledger.Leg(parent, sign * amount), ledger.Leg(own, -sign * amount)]


def _count(p: AccountPayment, sign: int) -> None:
    d_pos = statements.Position(p.banca, p.ventana, p.vendedor)
    statements.record(
        d_pos,
        statements.as_date(p.day),
        p.currency,
        paid=sign * p.amount if p.type == PAYMENT else 0,
        collected=sign * p.amount if p.type == COLLECTION else 0,
        settlements=sign,
        finals=sign if p.is_final else 0,
    )


def _statement_of(p: AccountPayment) -> StatementDay:
    d = statements.dimension(p.dimension, view(p).dimension_id)
    day = statements.as_date(p.day)
    return statements.compute(d, day, day)[0]


def settle(ctx: Context, principal: Principal, cmd: SettleAccount) -> Outcome:
    """Record an account payment or collection (201), or answer the key's first one."""
    check_when(ctx.now, cmd.day, cmd.time)
    policy.settle_account_kind(principal, cmd.kind)
    idem = IdemKey(
        scope=f"user:{principal.user_id}",
        key=f"ACCOUNT_PAYMENT:{cmd.idempotency_key}",
        fingerprint=fingerprint(
            {
                "kind": cmd.kind,
                "id": cmd.dimension_id,
                "day": cmd.day.isoformat(),
                "time": cmd.time,
                "amount": cmd.amount,
                "type": cmd.type,
                "method": cmd.method,
                "notes": cmd.notes,
                "final": cmd.is_final,
            }
        ),
    )

    def body() -> Done:
        if cmd.amount <= 0:
            raise Invalid("amount must be greater than 0", field="amount")
        who = network.resolve_principal(principal)
        d = statements.dimension(cmd.kind, cmd.dimension_id)
        policy.settle_account(who, d.kind, d.scope)
        txn = ledger.post(
            KIND,
            _legs(d, cmd.type, cmd.amount, ctx.now),
            now=ctx.now,
            reference=d.id,
            actor=ctx.actor.id,
            request_id=ctx.request_id,
            memo=f"{cmd.type} {d.kind} {cmd.day}",
        )
        p = AccountPayment(
            id=str(uuid.uuid4()),
            dimension=d.kind,
            banca=d.banca,
            ventana=d.ventana,
            vendedor=d.vendedor,
            day=cmd.day,
            time=cmd.time,
            amount=cmd.amount,
            currency=d.currency,
            type=cmd.type,
            method=cmd.method,
            notes=cmd.notes,
            is_final=cmd.is_final,
            idempotency_key=cmd.idempotency_key,
            paid_by=principal.user_id,
            txn=txn.id,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        p.save(force_insert=True)
        _count(p, +1)
        return Done(
            Settled(view(p), _statement_of(p)),
            created=True,
            target_id=p.id,
            details={
                "cached": False,
                "dimension": d.kind,
                "dimensionId": d.id,
                "date": cmd.day.isoformat(),
                "type": cmd.type,
                "amount": cmd.amount,
                "isFinal": cmd.is_final,
            },
        )

    return run(ctx, "ACCOUNT_PAYMENT_CREATE", body, target_type="account_payment", idem=idem)


def reverse(ctx: Context, principal: Principal, payment_id: str, reason: str) -> Outcome:
    """Reverse an account payment: the mirror transaction, and its day's statement (and so
    every later day's remaining balance) no longer counts it. Twice is refused."""

    def body() -> Done:
        p = locked(AccountPayment.select().where(AccountPayment.id == payment_id)).first()
        if p is None:
            raise AccountPaymentNotFound("payment not found", paymentId=payment_id)
        who = network.resolve_principal(principal)
        d = statements.dimension(p.dimension, view(p).dimension_id)
        policy.settle_account(who, d.kind, d.scope)
        if p.is_reversed:
            raise AccountPaymentReversed("payment already reversed", paymentId=payment_id)
        mirror = ledger.reverse(
            LedgerTxn.get_by_id(p.txn_id),
            now=ctx.now,
            actor=ctx.actor.id,
            request_id=ctx.request_id,
            memo=reason,
        )
        p.reversal_txn = mirror.id
        p.is_reversed = True
        p.reversed_by = principal.user_id
        p.reason = reason
        p.updated_at = ctx.now
        p.save()
        _count(p, -1)
        return Done(
            Settled(view(p), _statement_of(p)),
            target_id=p.id,
            details={"reason": reason, "amount": p.amount},
        )

    return run(
        ctx, "ACCOUNT_PAYMENT_REVERSE", body, target_type="account_payment", target_id=payment_id
    )
