"""Placing a bet-engine ticket (taken now, or reserved) and paying a reservation."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from gateway.core import accounts, ledger, tickets
from gateway.core.betengine import reading
from gateway.core.betengine.expiry import CHANNEL, expire_if_due
from gateway.core.betengine.messages import PlaceTicket
from gateway.core.betengine.postings import paid_from_wallet, stake_legs
from gateway.core.commands import Context, Done, IdemKey, Outcome, after_refusal, run
from gateway.core.errors import CurrencyMismatch, DuplicateTicket, NotReserved, PlayerBlocked
from gateway.core.idempotency import fingerprint
from gateway.core.players import resolve_player
from gateway.core.tickets import settlements
from gateway.store.models import Hold, Ticket

NOT_RESERVED = "Ticket has to have `reserved` status in order to do this action"


def _without_token(raw: dict[str, Any], player: Any) -> dict[str, Any]:
    """The partner's message as kept on the ticket; a player token used as `player_id` is
    replaced by the player id (tokens are stored only as hashes)."""
    ref = raw.get("player_id")
    if ref is None or ref in (player.id, player.external_id):
        return raw
    return {**raw, "player_id": player.id}


def place(ctx: Context, cmd: PlaceTicket, *, reserve_ttl_s: int) -> Outcome:
    """A new ticket: `OPEN` with the price debited from the wallet, or `RESERVED` with a
    wallet hold (an external PSP's reservation takes no money until it is paid)."""
    cmd.amounts.check()
    fp = fingerprint(
        {
            "player": cmd.player_ref,
            "currency": cmd.currency,
            "type": cmd.type,
            "psp": cmd.psp or "",
            "amounts": cmd.amounts.fields(),
        }
    )
    idem = IdemKey(cmd.origin.scope, f"{cmd.origin.action}:{cmd.ticket_id}:0", fp)

    def body() -> Done:
        player = resolve_player(cmd.operator, cmd.player_ref, ctx.now)
        if player.blocked:
            raise PlayerBlocked("player blocked")
        if player.currency != cmd.currency:
            raise CurrencyMismatch("currency mismatch")
        a = cmd.amounts
        ticket = tickets.insert_new(
            {
                "id": str(uuid.uuid4()),
                "channel": CHANNEL,
                "operator": cmd.operator,
                "external_id": cmd.ticket_id,
                "code": cmd.code,
                "player_id": player.id,
                "banca_id": None,
                "ventana_id": None,
                "vendedor_id": None,
                "type": cmd.type,
                "currency": cmd.currency,
                "status": tickets.RESERVED if cmd.reserve else tickets.OPEN,
                "result": tickets.PENDING,
                "price": a.price,
                "stake": a.stake,
                "gross_payout": a.gross_payout,
                "net_payout": a.net_payout,
                "wht_amount": a.wht_amount,
                "wht": a.wht,
                "ext_amount": a.ext_amount,
                "ext": a.ext,
                "ext_type": a.ext_type,
                "psp": cmd.psp or "",
                "atag": cmd.atag,
                "rtag": cmd.rtag,
                "payout": 0,
                "paid_amount": 0,
                "generation": 0,
                "hold_id": None,
                "expires_at": (ctx.now + dt.timedelta(seconds=reserve_ttl_s))
                if cmd.reserve
                else None,
                "tombstone": False,
                "fingerprint": fp,
                "raw": json.dumps(
                    _without_token(cmd.raw, player), separators=(",", ":"), default=str
                ),
                "created_at": ctx.now,
                "updated_at": ctx.now,
            }
        )
        if ticket is None:
            raise DuplicateTicket("duplicate ticket with different data")
        wallet = accounts.player_wallet(player.id, player.currency, ctx.now)
        if cmd.reserve:
            if paid_from_wallet(ticket) and ticket.price > 0:
                hold = ledger.place_hold(
                    wallet,
                    ticket.price,
                    now=ctx.now,
                    expires_at=ticket.expires_at,
                    reference=ticket.id,
                )
                tickets.set_hold(ticket, hold.id)
        elif ticket.price > 0:
            txn = ledger.post(
                "bet.stake",
                [ledger.Leg(wallet, ticket.price), *stake_legs(ticket, -1, ctx.now)],
                now=ctx.now,
                reference=ticket.id,
                actor=ctx.actor.id,
                request_id=ctx.request_id,
            )
            tickets.record_settlement(
                ticket, settlements.STAKED, txn, tickets.OPEN, tickets.PENDING, ctx.now
            )
        return Done(details={"ticket_uuid": ticket.id})

    return run(
        ctx, cmd.origin.action, body, target_type="ticket", target_id=cmd.ticket_id, idem=idem
    )


def mark_paid(
    ctx: Context, operator: str, identifier: str, *, action: str = "ticket_paid"
) -> reading.TicketView:
    """A reservation was paid: `RESERVED` → `OPEN`, the hold posted or the PSP's payment
    booked to its clearing account. A repeat on a paid ticket returns it unchanged."""
    state: dict[str, Ticket] = {}

    def body() -> Done:
        ticket = tickets.find(CHANNEL, operator, identifier, lock=True)
        state["ticket"] = ticket
        if (
            ticket.status == tickets.RESERVED
            and ticket.expires_at is not None
            and ticket.expires_at <= ctx.now
        ):
            # overdue: refused, and expired (released) even though this request rolls back
            after_refusal(lambda: expire_if_due(operator, identifier, ctx.now))
            raise NotReserved(NOT_RESERVED)
        if ticket.status != tickets.RESERVED:
            if settlements.exists(ticket, settlements.PAID_IN):  # a repeat, whatever since
                return Done(details={"repeat": True})
            raise NotReserved(NOT_RESERVED)
        if ticket.hold_id:
            hold = Hold.get_by_id(ticket.hold_id)
            txn = ledger.post_hold(
                hold,
                ticket.price,
                stake_legs(ticket, -1, ctx.now),
                kind="bet.stake",
                now=ctx.now,
                reference=ticket.id,
                actor=ctx.actor.id,
                request_id=ctx.request_id,
            )
        elif ticket.price > 0:
            clearing = accounts.psp_clearing(ticket.psp or "external", ticket.currency, ctx.now)
            txn = ledger.post(
                "bet.stake.psp",
                [ledger.Leg(clearing, ticket.price), *stake_legs(ticket, -1, ctx.now)],
                now=ctx.now,
                reference=ticket.id,
                actor=ctx.actor.id,
                request_id=ctx.request_id,
            )
        else:
            txn = None
        tickets.move(ticket, tickets.OPEN)
        ticket.expires_at = None
        tickets.save(ticket, ctx.now)
        tickets.record_settlement(
            ticket, settlements.PAID_IN, txn, tickets.RESERVED, tickets.PENDING, ctx.now
        )
        return Done(details={"ticket_uuid": ticket.id})

    run(ctx, action, body, target_type="ticket", target_id=identifier)
    return reading.view(Ticket.get_by_id(state["ticket"].id))
