"""Reservations that were never paid: released and moved to `EXPIRED`, by the sweeper
(`pamgate sweep`) or by a `paid` that finds one overdue."""

from __future__ import annotations

import datetime as dt

from gateway.core import audit, tickets
from gateway.core.audit import Actor
from gateway.core.betengine.postings import release
from gateway.store.database import database, unit_of_work
from gateway.store.models import Ticket

CHANNEL = "betengine"


def expire(ticket: Ticket, now: dt.datetime) -> None:
    """RESERVED → EXPIRED, its wallet hold released as expired, audited (system actor)."""
    release(ticket, now, expired=True)
    tickets.move(ticket, tickets.EXPIRED)
    tickets.save(ticket, now)
    audit.append(
        Actor("system", "expiry"),
        "ticket_expire",
        now=now,
        target_type="ticket",
        target_id=ticket.external_id,
    )


def expire_if_due(operator: str, identifier: str, now: dt.datetime) -> None:
    """Expire this reservation if it is past its deadline (`paid` found it overdue)."""
    with unit_of_work(database):
        ticket = tickets.lock_overdue(CHANNEL, operator, identifier, now)
        if ticket is not None:
            expire(ticket, now)


def expire_reservations(now: dt.datetime, *, limit: int = 200) -> int:
    """Expire reservations past their deadline; safe to run on many hosts at once."""
    with unit_of_work(database):
        due = tickets.lock_due_reservations(now, limit)
        for ticket in due:
            expire(ticket, now)
    return len(due)
