"""The ticket state machine of SPEC section 10, pair by pair: every allowed move changes the
status, every other move is refused and leaves the ticket as it was."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from gateway.core import tickets
from gateway.core.errors import InvalidTransition, TicketClosed
from gateway.core.tickets import (
    CANCELLED,
    CLOSED,
    EVALUATED,
    EXPIRED,
    OPEN,
    PAID,
    RESERVED,
    STATUSES,
)

# SPEC 10, restated here rather than read from the module under test
ALLOWED = {
    (RESERVED, OPEN),  # paid
    (RESERVED, CANCELLED),  # discarded or refunded
    (RESERVED, EXPIRED),  # never paid
    (OPEN, EVALUATED),  # lost or void
    (OPEN, PAID),  # a bet-engine win, paid at once to the wallet
    (OPEN, CANCELLED),  # discarded or refunded
    (OPEN, CLOSED),
    (EVALUATED, PAID),  # a retail winner paid at a window
    (EVALUATED, OPEN),  # rollback
    (EVALUATED, CANCELLED),  # refund when nothing was paid
    (EVALUATED, CLOSED),
    (PAID, EVALUATED),  # the payment reversed
    (PAID, OPEN),  # rollback
    (PAID, CLOSED),
    (CANCELLED, OPEN),  # rollback of a refund
    (CANCELLED, CLOSED),
    (EXPIRED, CLOSED),
}
PAIRS = list(itertools.product(STATUSES, STATUSES))


@dataclass
class _Ticket:
    id: str
    status: str


def test_the_statuses_are_those_of_the_spec() -> None:
    assert set(STATUSES) == {RESERVED, OPEN, EVALUATED, PAID, CLOSED, CANCELLED, EXPIRED}
    assert set(tickets.TRANSITIONS) == set(STATUSES)
    assert set(tickets.RESULTS) == {"pending", "won", "lost", "void"}


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_an_allowed_move_changes_the_status(source: str, target: str) -> None:
    ticket = _Ticket("t-1", source)
    assert tickets.can_move(source, target)
    tickets.check(source, target)
    tickets.move(ticket, target)
    assert ticket.status == target


@pytest.mark.parametrize(("source", "target"), [pair for pair in PAIRS if pair not in ALLOWED])
def test_a_refused_move_raises_and_leaves_the_status(source: str, target: str) -> None:
    ticket = _Ticket("t-1", source)
    assert not tickets.can_move(source, target)
    expected = TicketClosed if source == CLOSED else InvalidTransition
    with pytest.raises(expected) as refused:
        tickets.move(ticket, target)
    assert ticket.status == source
    assert refused.value.details["ticket"] == "t-1"
    with pytest.raises(expected):
        tickets.check(source, target)


def test_closed_is_final() -> None:
    assert tickets.TRANSITIONS[CLOSED] == frozenset()
    for target in STATUSES:
        with pytest.raises(TicketClosed):
            tickets.move(_Ticket("t-1", CLOSED), target)
