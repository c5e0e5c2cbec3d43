"""Reading the bet engine's tickets (`GET /be/tickets…`, and what `paid` answers): frozen
views, never the stored rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.core import tickets
from gateway.core.betengine.expiry import CHANNEL
from gateway.store.models import Ticket


@dataclass(frozen=True)
class TicketView:
    """A bet-engine ticket as its engine reads it; money in minor units, rates as sent."""

    external_id: str
    code: str | None
    psp: str | None
    price: int
    stake: int
    currency: str
    gross_payout: int
    net_payout: int
    wht_amount: int
    wht: str | None
    ext_amount: int
    ext: str | None
    ext_type: str | None
    status: str
    result: str
    type: str | None
    atag: str | None
    rtag: str | None
    player_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def view(t: Ticket) -> TicketView:
    return TicketView(
        external_id=t.external_id,
        code=t.code,
        psp=t.psp,
        price=t.price,
        stake=t.stake,
        currency=t.currency,
        gross_payout=t.gross_payout,
        net_payout=t.net_payout,
        wht_amount=t.wht_amount,
        wht=t.wht,
        ext_amount=t.ext_amount,
        ext=t.ext,
        ext_type=t.ext_type,
        status=t.status,
        result=t.result,
        type=t.type,
        atag=t.atag,
        rtag=t.rtag,
        player_id=t.player_id,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


def get_ticket(operator: str, identifier: str) -> TicketView:
    return view(tickets.find(CHANNEL, operator, identifier))


def list_tickets(
    operator: str,
    *,
    limit: int,
    skip: int,
    user_id: str | None = None,
    status: list[str] | None = None,
    skip_types: list[str] | None = None,
) -> list[TicketView]:
    return [
        view(t)
        for t in tickets.page(
            CHANNEL,
            operator,
            limit=limit,
            skip=skip,
            player_id=user_id,
            statuses=status,
            skip_types=skip_types,
        )
    ]
