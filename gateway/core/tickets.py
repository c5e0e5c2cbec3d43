"""One ticket model for every channel, and its one state machine (SPEC section 10).

`move` is the only way a ticket's status changes; a transition outside `TRANSITIONS`
raises `InvalidTransition` (each adapter maps it to its protocol's error) and writes nothing.
"""

from __future__ import annotations

from gateway.core.errors import InvalidTransition, TicketClosed
from gateway.store.models import Ticket

RESERVED = "RESERVED"
OPEN = "OPEN"
EVALUATED = "EVALUATED"
PAID = "PAID"
CLOSED = "CLOSED"
CANCELLED = "CANCELLED"
EXPIRED = "EXPIRED"

PENDING, WON, LOST, VOID = "pending", "won", "lost", "void"

TRANSITIONS: dict[str, frozenset[str]] = {
    RESERVED: frozenset({OPEN, CANCELLED, EXPIRED}),
    OPEN: frozenset({EVALUATED, PAID, CANCELLED, CLOSED}),
    EVALUATED: frozenset({PAID, OPEN, CANCELLED, CLOSED}),  # OPEN: rollback
    PAID: frozenset({EVALUATED, OPEN, CLOSED}),  # EVALUATED: payment reversed
    CANCELLED: frozenset({OPEN, CLOSED}),  # OPEN: rollback of a refund
    EXPIRED: frozenset({CLOSED}),
    CLOSED: frozenset(),
}


def move(ticket: Ticket, to: str) -> None:
    """Change the status in memory (the service saves it), or refuse."""
    if ticket.status == CLOSED:
        raise TicketClosed("ticket closed", ticket=ticket.id)
    if to not in TRANSITIONS[ticket.status]:
        raise InvalidTransition(f"ticket cannot go from {ticket.status} to {to}",
                                ticket=ticket.id, status=ticket.status, to=to)
    ticket.status = to
