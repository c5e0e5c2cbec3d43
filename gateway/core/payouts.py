"""Paying winning retail tickets at a window (SPEC 6): pay, finalise, reverse, approve, history.

Checks run in SPEC 6's order inside the command's transaction: the caller's idempotency key
is claimed first (`commands.run`), so a replay answers even after the ticket became `PAID`;
then the ticket (404), the caller's right to it (403), its result (409) and status (400),
the ticket row locked NOWAIT on PostgreSQL (409 when another payment of it is being written),
and the amount against what remains (400). Money moves only through the ledger: the prize
liability of the ticket's operator is debited and the paying window's cash credited
(`ticket.payment`); a reversal posts the mirror. `Ticket.paid_amount` is the sum of the
payments not reversed (pending approvals included, so they cannot be overpaid either).

A payment waiting for approval queues a `ticket_payment.pending_approval` event and a ticket
becoming PAID a `ticket.paid` event (`gateway.core.events`), in the payment's transaction.

This module never renders wire names or statuses; adapters do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from gateway.core import accounts, events, ledger, network, policy, statements, tickets
from gateway.core.commands import Context, Done, IdemKey, Outcome, run
from gateway.core.errors import AlreadyReversed, Conflict, Invalid, NotFound
from gateway.core.idempotency import fingerprint
from gateway.core.principal import VENDEDOR, Principal, Scope
from gateway.core.results import result
from gateway.store import fastsql
from gateway.store.database import database, is_postgres, locked
from gateway.store.models import LedgerTxn, Ticket, TicketPayment, Ventana

KIND = "ticket.payment"
POSTED, PENDING = "posted", "pending"
METHODS = ("cash", "check", "transfer", "system")


class PaymentTicketNotFound(NotFound):
    code = "ticket_not_found"


class NotAWinner(Conflict):
    code = "ticket_not_winner"


class NotPayable(Invalid):
    code = "ticket_not_payable"


class PaymentInProgress(Conflict):
    code = "ticket_payment_in_progress"


class ExceedsRemaining(Invalid):
    code = "amount_exceeds_remaining"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class PaymentReversed(Conflict):
    code = "payment_reversed"


class NotPending(Conflict):
    code = "payment_not_pending"


@dataclass(frozen=True)
class PayTicket:
    ticket_id: str
    amount: int  # minor units
    method: str
    is_final: bool
    notes: str | None
    idempotency_key: str
    ventana_id: str | None


@result
@dataclass(frozen=True)
class PaymentView:
    id: str
    ticket_id: str
    amount: int
    currency: str
    method: str
    is_final: bool
    is_reversed: bool
    pending_approval: bool
    notes: str | None
    paid_by: str
    ventana_id: str
    approved_by: str | None
    reversed_by: str | None
    reason: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class PaymentHistory:
    ticket_id: str
    status: str
    currency: str
    total_payout: int
    total_paid: int
    remaining: int
    payments: list[PaymentView]


def view(p: TicketPayment) -> PaymentView:
    return PaymentView(
        id=p.id,
        ticket_id=p.ticket_id,
        amount=p.amount,
        currency=p.currency,
        method=p.method,
        is_final=p.is_final,
        is_reversed=p.is_reversed,
        pending_approval=p.status == PENDING and not p.is_reversed,
        notes=p.notes,
        paid_by=p.paid_by,
        ventana_id=p.ventana_id,
        approved_by=p.approved_by,
        reversed_by=p.reversed_by,
        reason=p.reason,
        created_at=p.created_at,
    )


def currency_of(ticket_id: str) -> str:
    """The currency of a ticket (the wire amount is in its units), or 404."""
    row = fastsql.execute(_CURRENCY_SQL, (ticket_id,)).fetchone()
    if row is None:
        raise PaymentTicketNotFound("ticket not found", ticket=ticket_id)
    return str(row[0])


def _scope(t: Ticket) -> Scope:
    return Scope(banca_id=t.banca_id, ventana_id=t.ventana_id, vendedor_id=t.vendedor_id)


def _ticket(ticket_id: str) -> Ticket:
    t = Ticket.get_or_none((Ticket.id == ticket_id) & (Ticket.tombstone == False))  # noqa: E712
    if t is None:
        raise PaymentTicketNotFound("ticket not found", ticket=ticket_id)
    return t


def _check_payable(t: Ticket) -> None:
    if t.result != tickets.WON or t.payout <= 0:
        raise NotAWinner("ticket is not a winner", ticket=t.id)
    if t.status != tickets.EVALUATED:
        raise NotPayable(f"ticket is {t.status}, not EVALUATED", ticket=t.id)


# What paying reads of a ticket, written once (peewee would rebuild the SQL every time).
_READ_FIELDS = (
    "id",
    "channel",
    "operator",
    "external_id",
    "code",
    "currency",
    "status",
    "result",
    "payout",
    "paid_amount",
    "banca",
    "ventana",
    "vendedor",
)
_T = Ticket._meta
_CURRENCY_SQL = (
    f"SELECT {_T.fields['currency'].column_name} FROM {_T.table_name} "  # noqa: S608
    f"WHERE {_T.fields['id'].column_name} = %s"
)
_READ_SQL = (
    f"SELECT {', '.join(_T.fields[f].column_name for f in _READ_FIELDS)} "  # noqa: S608
    f"FROM {_T.table_name} WHERE {_T.fields['id'].column_name} = %s "
    f"AND {_T.fields['tombstone'].column_name} = %s"
)


def _read_ticket(ticket_id: str, *, lock: bool) -> Ticket | None:
    """The live ticket's paying fields; with `lock`, only if its row could be locked at once
    (PostgreSQL `SKIP LOCKED`: a row another payment holds reads as None)."""
    sql = _READ_SQL + (" FOR UPDATE SKIP LOCKED" if lock and is_postgres(database) else "")
    row = fastsql.execute(sql, (ticket_id, False)).fetchone()
    if row is None:
        return None
    return Ticket(**dict(zip(_READ_FIELDS, row, strict=True)))


def _lock_ticket(ticket_id: str, who: Principal) -> Ticket:
    """The ticket row, locked without waiting, after the checks of SPEC 6's order (404, 403,
    409 not a winner, 400 not payable) and then 409 when another payment of it is being
    written: one statement when the row is free."""
    t = _read_ticket(ticket_id, lock=True)
    busy = t is None
    if t is None:
        t = _read_ticket(ticket_id, lock=False)
        if t is None:
            raise PaymentTicketNotFound("ticket not found", ticket=ticket_id)
    policy.pay_ticket(who, _scope(t))
    _check_payable(t)
    if busy:
        raise PaymentInProgress("another payment of this ticket is being written", ticket=t.id)
    return t


def _post(ctx: Context, t: Ticket, payment: TicketPayment, banca: str | None = None) -> None:
    liability = accounts.prize_liability(t.operator, t.currency, ctx.now)
    cash = accounts.window_cash(payment.ventana_id, t.currency, ctx.now)
    # liability is credit-normal: debiting it (positive) lowers what is owed.
    txn = ledger.post(
        KIND,
        [ledger.Leg(liability, payment.amount), ledger.Leg(cash, -payment.amount)],
        now=ctx.now,
        reference=t.id,
        actor=ctx.actor.id,
        request_id=ctx.request_id,
        memo=payment.method,
    )
    payment.txn = txn.id
    payment.status = POSTED
    _count_payout(payment, +1, banca)


def _count_payout(payment: TicketPayment, sign: int, banca: str | None = None) -> None:
    """The paying position's day (the day it was made) counts the prize, or no longer does."""
    if banca is None:
        banca = Ventana.select(Ventana.banca).where(Ventana.id == payment.ventana_id).scalar()
    statements.record_payout(
        banca,
        payment.ventana_id,
        payment.vendedor_id,
        payment.created_at,
        payment.currency,
        sign * payment.amount,
    )


def _settle_status(ctx: Context, t: Ticket, is_final: bool, payment: TicketPayment) -> None:
    if t.status == tickets.EVALUATED and (is_final or t.paid_amount >= t.payout):
        tickets.move(t, tickets.PAID)
        events.ticket_paid(
            ctx, t, method=payment.method, payment_id=payment.id, ventana_id=payment.ventana_id
        )
    tickets.save_payment_state(t, ctx.now)


def pay(
    ctx: Context, principal: Principal, cmd: PayTicket, *, approval_threshold: int = 0
) -> Outcome:
    """Pay a winning ticket (201), or answer the key's stored payment (replay)."""
    policy.pay_ticket_window(principal, cmd.ventana_id)
    idem = IdemKey(
        scope=f"user:{principal.user_id}",
        key=f"TICKET_PAY:{cmd.idempotency_key}",
        fingerprint=fingerprint(
            {
                "ticket": cmd.ticket_id,
                "amount": cmd.amount,
                "method": cmd.method,
                "final": cmd.is_final,
                "notes": cmd.notes,
                "ventana": cmd.ventana_id,
            }
        ),
    )

    def body() -> Done:
        if cmd.amount <= 0:
            raise Invalid("amountPaid must be greater than 0", field="amountPaid")
        who = network.resolve_principal(principal)
        t = _lock_ticket(cmd.ticket_id, who)
        remaining = t.payout - t.paid_amount
        if cmd.amount > remaining:
            raise ExceedsRemaining(
                "amountPaid exceeds what remains to pay", field="amountPaid", remaining=remaining
            )
        window = policy.paying_window(who, cmd.ventana_id, t.ventana_id)
        banca = who.banca_id if window == who.ventana_id else None
        if banca is None:
            banca = Ventana.select(Ventana.banca).where(Ventana.id == window).scalar()
        if banca is None:
            raise Invalid("ventanaId names no sales window", field="ventanaId")
        payment = TicketPayment(
            id=str(uuid.uuid4()),
            ticket=t.id,
            ventana=window,
            vendedor=who.vendedor_id if who.role == VENDEDOR else None,
            amount=cmd.amount,
            currency=t.currency,
            method=cmd.method,
            is_final=cmd.is_final,
            notes=cmd.notes,
            idempotency_key=cmd.idempotency_key,
            paid_by=principal.user_id,
            status=PENDING,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        pending = bool(approval_threshold) and cmd.amount > approval_threshold
        if not pending:
            _post(ctx, t, payment, banca)
        fastsql.insert_model_later(payment)
        t.paid_amount += cmd.amount
        if pending:
            tickets.save_payment_state(t, ctx.now)
            events.payment_pending_approval(ctx, t, payment)
        else:
            _settle_status(ctx, t, cmd.is_final, payment)
        return Done(
            view(payment),
            created=True,
            target_id=t.id,
            details={
                "created": True,
                "cached": False,
                "payment": payment.id,
                "amount": cmd.amount,
                "pending_approval": pending,
            },
        )

    return run(ctx, "TICKET_PAY", body, target_type="ticket", target_id=cmd.ticket_id, idem=idem)


def _payment(payment_id: str, *, lock: bool = False) -> TicketPayment:
    query = TicketPayment.select().where(TicketPayment.id == payment_id)
    row = (locked(query) if lock else query).first()
    if row is None:
        raise PaymentNotFound("payment not found", payment=payment_id)
    return row


def _lock_payment_and_ticket(payment_id: str) -> tuple[TicketPayment, Ticket]:
    """The ticket row first (the order `pay` takes), then the payment."""
    row = TicketPayment.select(TicketPayment.ticket).where(TicketPayment.id == payment_id).first()
    if row is None:
        raise PaymentNotFound("payment not found", payment=payment_id)
    t = locked(Ticket.select().where(Ticket.id == row.ticket_id)).get()
    return _payment(payment_id, lock=True), t


def update(
    ctx: Context,
    principal: Principal,
    payment_id: str,
    *,
    is_final: bool | None,
    notes: str | None,
) -> Outcome:
    """`PATCH`: mark a payment final (the ticket becomes PAID) and/or change its notes."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        payment, t = _lock_payment_and_ticket(payment_id)
        policy.pay_ticket(who, _scope(t))
        if payment.is_reversed:
            raise PaymentReversed("payment is reversed", payment=payment_id)
        if notes is not None:
            payment.notes = notes
        if is_final is not None:
            payment.is_final = is_final
        payment.updated_at = ctx.now
        payment.save()
        if payment.is_final and payment.status == POSTED:
            _settle_status(ctx, t, True, payment)
        return Done(view(payment), target_id=payment.id, details={"is_final": payment.is_final})

    return run(ctx, "TICKET_PAY_FINALIZE", body, target_type="ticket_payment", target_id=payment_id)


def reverse(ctx: Context, principal: Principal, payment_id: str, reason: str) -> Outcome:
    """Reverse a payment: the mirror ledger transaction, the amount owed again, a PAID ticket
    back to EVALUATED. Twice is `AlreadyReversed`."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        payment, t = _lock_payment_and_ticket(payment_id)
        policy.reverse_ticket_payment(who, payment.ventana_id)
        if payment.is_reversed:
            raise AlreadyReversed("payment already reversed", payment=payment_id)
        if payment.txn_id is not None:
            original = LedgerTxn.get_by_id(payment.txn_id)
            mirror = ledger.reverse(
                original, now=ctx.now, actor=ctx.actor.id, request_id=ctx.request_id, memo=reason
            )
            payment.reversal_txn = mirror.id
            _count_payout(payment, -1)
        payment.is_reversed = True
        payment.reversed_by = principal.user_id
        payment.reason = reason
        payment.updated_at = ctx.now
        payment.save()
        t.paid_amount -= payment.amount
        if t.status == tickets.PAID:
            tickets.move(t, tickets.EVALUATED)
        tickets.save_payment_state(t, ctx.now)
        return Done(view(payment), target_id=payment.id, details={"reason": reason})

    return run(
        ctx, "TICKET_PAYMENT_REVERSE", body, target_type="ticket_payment", target_id=payment_id
    )


def approve(ctx: Context, principal: Principal, payment_id: str) -> Outcome:
    """Maker-checker: an ADMIN other than the maker posts a pending payment's money."""

    def body() -> Done:
        payment, t = _lock_payment_and_ticket(payment_id)
        policy.approve_ticket_payment(principal, payment.paid_by)
        if payment.is_reversed:
            raise PaymentReversed("payment is reversed", payment=payment_id)
        if payment.status != PENDING:
            raise NotPending("payment is not pending approval", payment=payment_id)
        if t.status != tickets.EVALUATED:
            raise NotPayable(f"ticket is {t.status}, not EVALUATED", ticket=t.id)
        _post(ctx, t, payment)
        payment.approved_by = principal.user_id
        payment.updated_at = ctx.now
        payment.save()
        _settle_status(ctx, t, payment.is_final, payment)
        return Done(view(payment), target_id=payment.id, details={"amount": payment.amount})

    return run(
        ctx, "TICKET_PAYMENT_APPROVE", body, target_type="ticket_payment", target_id=payment_id
    )


def history(principal: Principal, ticket_id: str) -> PaymentHistory:
    """A ticket's payments, oldest first; `total_paid` counts the posted ones not reversed,
    `remaining` what may still be paid (pending approvals reserve their amount)."""
    who = network.resolve_principal(principal)
    t = _ticket(ticket_id)
    policy.pay_ticket(who, _scope(t))
    rows = list(
        TicketPayment.select()
        .where(TicketPayment.ticket == t.id)
        .order_by(TicketPayment.created_at, TicketPayment.id)
    )
    paid = sum(p.amount for p in rows if p.status == POSTED and not p.is_reversed)
    return PaymentHistory(
        ticket_id=t.id,
        status=t.status,
        currency=t.currency,
        total_payout=t.payout,
        total_paid=paid,
        remaining=t.payout - t.paid_amount,
        payments=[view(p) for p in rows],
    )


# --- reading tickets and approvals (the operator console) --------------------------------------

MAX_FOUND = 20


@dataclass(frozen=True)
class TicketSummary:
    """What a cashier sees of a ticket before paying it (read-only)."""

    id: str
    code: str | None
    channel: str
    status: str
    result: str
    currency: str
    payout: int
    paid: int  # payments not reversed, pending approvals included
    remaining: int
    ventana_id: str | None
    vendedor_id: str | None
    created_at: dt.datetime


def summary(t: Ticket) -> TicketSummary:
    return TicketSummary(
        id=t.id,
        code=t.code,
        channel=t.channel,
        status=t.status,
        result=t.result,
        currency=t.currency,
        payout=t.payout,
        paid=t.paid_amount,
        remaining=t.payout - t.paid_amount,
        ventana_id=t.ventana_id,
        vendedor_id=t.vendedor_id,
        created_at=t.created_at,
    )


def find_tickets(principal: Principal, query: str) -> list[TicketSummary]:
    """Tickets whose id or code is `query` (codes ignore case and outer spaces) that the
    caller may pay, newest first. `Forbidden` when every match belongs to another window
    or seller (as paying it would be), an empty list when nothing matches."""
    text = query.strip()
    if not text or len(text) > 100:
        return []
    who = network.resolve_principal(principal)
    live = Ticket.tombstone == False  # noqa: E712
    rows = list(
        Ticket.select()
        .where(live & ((Ticket.id == text.lower()) | (Ticket.code == text.upper())))
        .order_by(Ticket.created_at.desc(), Ticket.id)
        .limit(MAX_FOUND)
    )
    mine = [t for t in rows if policy.may_act_on(who, _scope(t))]
    if rows and not mine:
        policy.pay_ticket(who, _scope(rows[0]))
    return [summary(t) for t in mine]


def ticket_summary(principal: Principal, ticket_id: str) -> TicketSummary:
    """One ticket as `find_tickets` shows it: 404 unknown, 403 another window's."""
    who = network.resolve_principal(principal)
    t = _ticket(ticket_id)
    policy.pay_ticket(who, _scope(t))
    return summary(t)


def pending_approvals(principal: Principal, *, limit: int = 100) -> list[PaymentView]:
    """Payments waiting for a second user's approval, oldest first (ADMIN)."""
    policy.review_approvals(principal)
    rows = (
        TicketPayment.select()
        .where(
            (TicketPayment.status == PENDING) & (TicketPayment.is_reversed == False)  # noqa: E712
        )
        .order_by(TicketPayment.created_at, TicketPayment.id)
        .limit(limit)
    )
    return [view(p) for p in rows]
