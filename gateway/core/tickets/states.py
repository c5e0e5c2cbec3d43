"""The ticket state machine of SPEC section 10, for every channel. Pure: no database.

`move` is the only way a ticket's status changes; a transition outside `TRANSITIONS`
raises `InvalidTransition` (each adapter maps it to its protocol's error) before anything
is written, and any move out of `CLOSED` raises `TicketClosed`.
"""

from __future__ import annotations

from typing import Protocol

from gateway.core.errors import InvalidTransition, TicketClosed

RESERVED = "RESERVED"
OPEN = "OPEN"
EVALUATED = "EVALUATED"
PAID = "PAID"
CLOSED = "CLOSED"
CANCELLED = "CANCELLED"
EXPIRED = "EXPIRED"

STATUSES: tuple[str, ...] = (RESERVED, OPEN, EVALUATED, PAID, CLOSED, CANCELLED, EXPIRED)

PENDING, WON, LOST, VOID = "pending", "won", "lost", "void"

RESULTS: tuple[str, ...] = (PENDING, WON, LOST, VOID)

TRANSITIONS: dict[str, frozenset[str]] = {
    RESERVED: frozenset({OPEN, CANCELLED, EXPIRED}),
    OPEN: frozenset({EVALUATED, PAID, CANCELLED, CLOSED}),
    EVALUATED: frozenset({PAID, OPEN, CANCELLED, CLOSED}),  # OPEN: rollback
    PAID: frozenset({EVALUATED, OPEN, CLOSED}),  # EVALUATED: payment reversed
    CANCELLED: frozenset({OPEN, CLOSED}),  # OPEN: rollback of a refund
    EXPIRED: frozenset({CLOSED}),
    CLOSED: frozenset(),
}


class HasStatus(Protocol):
    id: str
    status: str


def can_move(status: str, to: str) -> bool:
    """Whether the state machine allows `status` → `to`."""
    return to in TRANSITIONS[status]


def check(status: str, to: str, *, ticket: str | None = None) -> None:
    """Raise unless `status` → `to` is allowed: `TicketClosed` out of `CLOSED`,
    `InvalidTransition` for any other refused move."""
    if status == CLOSED:
        raise TicketClosed("ticket closed", ticket=ticket)
    if not can_move(status, to):
        raise InvalidTransition(
            f"ticket cannot go from {status} to {to}", ticket=ticket, status=status, to=to
        )


def move(ticket: HasStatus, to: str) -> None:
    """Change the status in memory (the service saves it), or refuse."""
    check(ticket.status, to, ticket=ticket.id)
    ticket.status = to
