"""Commands on an existing bet-engine ticket: update amounts, settle (won, lost, void),
refund, discard, roll back, close.

Each command locks the ticket row first (ordering concurrent callbacks of one ticket), then
claims its idempotency key `(origin scope, origin action, ticket, settlement generation)`,
then moves money through the ledger and the ticket through the state machine. A repeat
returns the stored result and moves nothing; the same action with other amounts is
`DuplicateTicket` (via the idempotency store).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from gateway.core import accounts, ledger, tickets
from gateway.core import events as core_events
from gateway.core.betengine.expiry import CHANNEL
from gateway.core.betengine.messages import (
    CLOSE,
    DISCARD,
    REFUND,
    ROLLBACK,
    SETTLE_LOST,
    SETTLE_VOID,
    SETTLE_WON,
    UPDATE_AMOUNTS,
    TicketEvent,
)
from gateway.core.betengine.postings import (
    paid_from_wallet,
    payer,
    refund,
    release,
    wallet,
)
from gateway.core.commands import Context, Done, IdemKey, Outcome, run
from gateway.core.errors import CurrencyMismatch, Invalid, InvalidTransition, TicketClosed
from gateway.core.tickets import settlements
from gateway.store.models import Ticket


def handle(ctx: Context, event: TicketEvent) -> Outcome:
    """Every command after place/reserve. Unknown ticket → TicketNotFound (the bet engine
    retries), except `DISCARD`, which leaves a tombstone."""
    if event.amounts is not None:
        event.amounts.check()
    handler = _HANDLERS.get(event.command)
    if handler is None:
        raise Invalid(f"unknown command {event.command}")
    state: dict[str, Any] = {}

    def lock() -> None:
        ticket = tickets.lock_external(CHANNEL, event.operator, event.ticket_id)
        if ticket is None and event.command == DISCARD:
            ticket = _tombstone(ctx, event)
        if ticket is None or (ticket.tombstone and event.command != DISCARD):
            # a tombstone only answers discards; for everything else the ticket is unknown
            raise tickets.not_found(event.ticket_id, ticket=event.ticket_id)
        state["ticket"] = ticket
        state["generation"] = ticket.generation

    def body() -> Done:
        ticket: Ticket = state["ticket"]
        if ticket.status == tickets.CLOSED:
            raise TicketClosed("ticket closed")
        if event.currency and event.currency != ticket.currency and not ticket.tombstone:
            raise CurrencyMismatch("currency mismatch")
        changed = handler(ctx, ticket, event)
        return Done(
            details={"ticket_uuid": ticket.id, "generation": state["generation"]},
            remember=changed is not False,
        )

    def key() -> IdemKey:
        # the key names the settlement generation, known once the ticket row is locked
        return IdemKey(
            event.origin.scope,
            f"{event.origin.action}:{event.ticket_id}:{state['generation']}",
            event.money_fingerprint(),
        )

    return run(
        ctx,
        event.origin.action,
        body,
        target_type="ticket",
        target_id=event.ticket_id,
        idem=key,
        before_claim=lock,
    )


def _tombstone(ctx: Context, event: TicketEvent) -> Ticket:
    ticket = Ticket(
        id=str(uuid.uuid4()),
        channel=CHANNEL,
        operator=event.operator,
        external_id=event.ticket_id,
        currency=event.currency or "",
        status=tickets.CANCELLED,
        result=tickets.PENDING,
        tombstone=True,
        raw=json.dumps(event.raw, separators=(",", ":"), default=str),
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    if tickets.insert_tombstone(ticket) is not None:
        return ticket
    found = tickets.lock_external(CHANNEL, event.operator, event.ticket_id)
    assert found is not None  # the ticket was created meanwhile: discard that one
    return found


def _require(ticket: Ticket, *statuses: str) -> None:
    if ticket.status not in statuses:
        raise InvalidTransition(f"ticket is {ticket.status}", ticket=ticket.id)


def _update_amounts(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    if (ticket.type or "").lower() != "jackpot":
        raise InvalidTransition("only jackpot tickets can be updated")
    _require(ticket, tickets.OPEN, tickets.RESERVED)
    new = event.amounts
    if new is None:
        raise Invalid("updating a ticket needs the new amounts")
    d_price, d_stake, d_ext = (
        new.price - ticket.price,
        new.stake - ticket.stake,
        new.ext_amount - ticket.ext_amount,
    )
    if ticket.status == tickets.RESERVED and paid_from_wallet(ticket):
        if ticket.hold_id:
            release(ticket, ctx.now)
        if new.price > 0:
            hold = ledger.place_hold(
                wallet(ticket, ctx.now),
                new.price,
                now=ctx.now,
                expires_at=ticket.expires_at,
                reference=ticket.id,
            )
            ticket.hold = hold.id
        else:
            ticket.hold = None
    elif ticket.status == tickets.OPEN and (d_price or d_stake or d_ext):
        txn = ledger.post(
            "bet.stake.adjust",
            [
                ledger.Leg(payer(ticket, ctx.now), d_price),
                ledger.Leg(accounts.stakes(ticket.operator, ticket.currency, ctx.now), -d_stake),
                ledger.Leg(accounts.excise_tax(ticket.currency, ctx.now), -d_ext),
            ],
            now=ctx.now,
            reference=ticket.id,
            actor=ctx.actor.id,
            request_id=ctx.request_id,
        )
        tickets.record_settlement(
            ticket, settlements.AMOUNTS_UPDATED, txn, ticket.status, ticket.result, ctx.now
        )
    for name, value in new.fields().items():
        setattr(ticket, name, value)
    tickets.save(ticket, ctx.now)


def _settle_won(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    _require(ticket, tickets.OPEN)
    prev_status, prev_result = ticket.status, ticket.result
    net, wht = ticket.net_payout, ticket.wht_amount
    txn = None
    if net or wht:
        txn = ledger.post(
            "bet.win",
            [
                ledger.Leg(accounts.payouts(ticket.operator, ticket.currency, ctx.now), net + wht),
                ledger.Leg(wallet(ticket, ctx.now), -net),
                ledger.Leg(accounts.withholding_tax(ticket.currency, ctx.now), -wht),
            ],
            now=ctx.now,
            reference=ticket.id,
            actor=ctx.actor.id,
            request_id=ctx.request_id,
        )
    ticket.result = tickets.WON
    ticket.payout = net
    ticket.paid_amount = net
    tickets.move(ticket, tickets.PAID)  # paid at once to the wallet (method `system`)
    tickets.save(ticket, ctx.now)
    core_events.ticket_paid(ctx, ticket, method="wallet")
    tickets.record_settlement(ticket, settlements.WON, txn, prev_status, prev_result, ctx.now)


def _settle_lost(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    _require(ticket, tickets.OPEN)
    prev_status, prev_result = ticket.status, ticket.result
    ticket.result = tickets.LOST
    tickets.move(ticket, tickets.EVALUATED)
    tickets.save(ticket, ctx.now)
    tickets.record_settlement(ticket, settlements.LOST, None, prev_status, prev_result, ctx.now)


def _settle_void(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    _require(ticket, tickets.OPEN)
    prev_status, prev_result = ticket.status, ticket.result
    amount = event.refund if event.refund and event.refund > 0 else ticket.price
    if amount > ticket.price:  # a void refunds at most what was paid
        raise Invalid("net_payout must not exceed what the player paid", field="net_payout")
    txn = refund(ctx, ticket, amount, "bet.void")
    ticket.result = tickets.VOID
    tickets.move(ticket, tickets.EVALUATED)
    tickets.save(ticket, ctx.now)
    tickets.record_settlement(ticket, settlements.VOIDED, txn, prev_status, prev_result, ctx.now)


def _refund(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    prev_status, prev_result = ticket.status, ticket.result
    if ticket.status == tickets.RESERVED:
        release(ticket, ctx.now)
        txn = None
    else:
        if not (
            ticket.status == tickets.OPEN
            or (ticket.status == tickets.EVALUATED and ticket.result == tickets.LOST)
        ):
            raise InvalidTransition(f"ticket is {ticket.status}/{ticket.result}")
        txn = refund(ctx, ticket, ticket.price, "bet.refund")
    tickets.move(ticket, tickets.CANCELLED)
    tickets.save(ticket, ctx.now)
    tickets.record_settlement(ticket, settlements.REFUNDED, txn, prev_status, prev_result, ctx.now)


def _discard(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    if ticket.tombstone or ticket.status == tickets.EXPIRED:
        return  # nothing held any more: answer 200 so the bet engine stops retrying
    if ticket.status == tickets.RESERVED:
        release(ticket, ctx.now)
    elif ticket.status == tickets.OPEN:
        for settlement in settlements.unreversed_with_money(ticket):
            reversal = ledger.reverse(
                settlement.txn, now=ctx.now, actor=ctx.actor.id, request_id=ctx.request_id
            )
            settlements.mark_reversed(settlement, reversal.id)
    else:
        raise InvalidTransition(f"ticket is {ticket.status}")
    tickets.move(ticket, tickets.CANCELLED)
    tickets.save(ticket, ctx.now)


def _rollback(ctx: Context, ticket: Ticket, event: TicketEvent) -> bool:
    """Undo the last settlement of this generation; False when there is nothing to undo
    (answered 200, and not remembered: a later real rollback in this generation must run).
    A refunded *reservation* never took money, so there is nothing to reopen."""
    last = settlements.last_undoable(ticket)
    if last is None or last.prev_status == tickets.RESERVED:
        return False
    reversal = None
    if last.txn_id is not None:
        player_wallet = wallet(ticket, ctx.now)
        reversal = ledger.reverse(
            last.txn,
            now=ctx.now,
            actor=ctx.actor.id,
            request_id=ctx.request_id,
            allow_overdraft=[player_wallet.id],
        )
    # a lost ticket moved no money: its settlement is marked undone instead
    settlements.mark_reversed(last, reversal.id if reversal is not None else None)
    tickets.move(ticket, tickets.OPEN)
    ticket.result = tickets.PENDING
    ticket.payout = 0
    ticket.paid_amount = 0
    ticket.generation += 1
    tickets.save(ticket, ctx.now)
    return True


def _close(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    if ticket.status == tickets.RESERVED:
        raise InvalidTransition("a reserved ticket cannot be closed")
    tickets.move(ticket, tickets.CLOSED)
    tickets.save(ticket, ctx.now)


_HANDLERS: dict[str, Callable[[Context, Ticket, TicketEvent], bool | None]] = {
    UPDATE_AMOUNTS: _update_amounts,
    SETTLE_WON: _settle_won,
    SETTLE_LOST: _settle_lost,
    SETTLE_VOID: _settle_void,
    REFUND: _refund,
    DISCARD: _discard,
    ROLLBACK: _rollback,
    CLOSE: _close,
}
