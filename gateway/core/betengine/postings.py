"""The bet engine's money: which accounts a ticket's stake, refunds and holds touch.

Money goes back the way it came: what a PSP paid returns to that PSP's clearing account,
never to the player's withdrawable wallet. Callers own the transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.core import accounts, ledger
from gateway.core.commands import Context
from gateway.store.models import Account, Hold, Ticket

WALLET_PSPS = ("", "wallet")


def paid_from_wallet(ticket: Ticket) -> bool:
    return (ticket.psp or "") in WALLET_PSPS


def stake_legs(ticket: Ticket, sign: int, now: dt.datetime) -> list[ledger.Leg]:
    """Credit (sign=-1) or debit back (sign=+1) the stake and excise of a ticket."""
    return [
        ledger.Leg(accounts.stakes(ticket.operator, ticket.currency, now), sign * ticket.stake),
        ledger.Leg(accounts.excise_tax(ticket.currency, now), sign * ticket.ext_amount),
    ]


def wallet(ticket: Ticket, now: dt.datetime) -> Account:
    return accounts.player_wallet(ticket.player_id, ticket.currency, now)


def payer(ticket: Ticket, now: dt.datetime) -> Account:
    """The account the stake came from, where refunds and adjustments go back: the wallet,
    or the clearing account of the PSP that paid (never the player's withdrawable wallet)."""
    if paid_from_wallet(ticket):
        return wallet(ticket, now)
    return accounts.psp_clearing(ticket.psp, ticket.currency, now)


def refund(ctx: Context, ticket: Ticket, amount: int, kind: str) -> Any:
    """Give `amount` back to the payer (None when nothing is due)."""
    if amount <= 0:
        return None
    if amount == ticket.price:
        counter = stake_legs(ticket, +1, ctx.now)
    else:  # a partner-chosen refund amount comes out of stakes as a whole
        counter = [ledger.Leg(accounts.stakes(ticket.operator, ticket.currency, ctx.now), amount)]
    return ledger.post(
        kind,
        [ledger.Leg(payer(ticket, ctx.now), -amount), *counter],
        now=ctx.now,
        reference=ticket.id,
        actor=ctx.actor.id,
        request_id=ctx.request_id,
    )


def release(ticket: Ticket, now: dt.datetime, *, expired: bool = False) -> None:
    """Release the ticket's wallet hold, if it still holds anything."""
    if ticket.hold_id:
        hold = Hold.get_by_id(ticket.hold_id)
        if hold.status == "open":
            ledger.release_hold(hold, now=now, expired=expired)
