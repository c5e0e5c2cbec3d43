"""Reading the bet engine's tickets (`GET /be/tickets…`)."""

from __future__ import annotations

from gateway.core import tickets
from gateway.core.betengine.expiry import CHANNEL
from gateway.store.models import Ticket


def get_ticket(operator: str, identifier: str) -> Ticket:
    return tickets.find(CHANNEL, operator, identifier)


def list_tickets(operator: str, *, limit: int, skip: int, user_id: str | None = None,
                 status: list[str] | None = None, skip_types: list[str] | None = None
                 ) -> list[Ticket]:
    return tickets.page(CHANNEL, operator, limit=limit, skip=skip, player_id=user_id,
                        statuses=status, skip_types=skip_types)
