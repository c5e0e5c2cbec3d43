"""The bet engine's tickets: the commands a bet engine (Betstack today) sends, on the one
ticket model of `gateway.core.tickets`.

- `messages`: the commands (`PlaceTicket`, `TicketEvent` and its command names, `Origin`);
- `place`: place or reserve a ticket, pay a reservation;
- `events`: every later command (update, settle, refund, discard, rollback, close);
- `expiry`: reservations never paid;
- `postings`: which accounts a ticket's money touches;
- `reading`: tickets as the bet engine reads them.

The protocol's action names and idempotency scope are the adapter's (`adapters/betengine/
translate.py`); nothing here branches on them.
"""

from __future__ import annotations

from gateway.core.betengine.events import handle
from gateway.core.betengine.expiry import CHANNEL, expire_reservations
from gateway.core.betengine.messages import (
    CLOSE,
    DISCARD,
    EVENT_COMMANDS,
    REFUND,
    ROLLBACK,
    SETTLE_LOST,
    SETTLE_VOID,
    SETTLE_WON,
    UPDATE_AMOUNTS,
    Amounts,
    Origin,
    PlaceTicket,
    TicketEvent,
)
from gateway.core.betengine.place import mark_paid, place
from gateway.core.betengine.postings import WALLET_PSPS
from gateway.core.betengine.reading import TicketView, get_ticket, list_tickets

__all__ = [
    "CHANNEL",
    "CLOSE",
    "DISCARD",
    "EVENT_COMMANDS",
    "REFUND",
    "ROLLBACK",
    "SETTLE_LOST",
    "SETTLE_VOID",
    "SETTLE_WON",
    "UPDATE_AMOUNTS",
    "WALLET_PSPS",
    "Amounts",
    "Origin",
    "PlaceTicket",
    "TicketEvent",
    "TicketView",
    "expire_reservations",
    "get_ticket",
    "handle",
    "list_tickets",
    "mark_paid",
    "place",
]
