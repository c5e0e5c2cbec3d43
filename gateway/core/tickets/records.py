"""Ticket rows for every channel's services: find, lock, create, save, page.

The bet engine uses these today; lottery evaluation and back-office payouts use them next.
Callers own the transaction (`commands.run` or `unit_of_work`); nothing here commits, and
nothing here changes a status except through `states.move` in the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from peewee import IntegrityError

from gateway.core.errors import Forbidden, TicketNotFound
from gateway.core.tickets.states import RESERVED
from gateway.store import fastsql
from gateway.store.database import database, locked
from gateway.store.models import Ticket

_TABLE = Ticket._meta.table_name
# column name → field name, for the foreign keys (`player_id` → `player`)
_FIELD_OF_COLUMN = {f.column_name: name for name, f in Ticket._meta.fields.items()}
_HOLD_SQL = (
    f"UPDATE {_TABLE} SET {Ticket.hold.column_name} = %s "  # noqa: S608 - identifiers
    f"WHERE {Ticket.id.column_name} = %s"
)


def not_found(ident: str, **details: Any) -> TicketNotFound:
    return TicketNotFound(f"Ticket with `{ident}` identifier is not found", **details)


def find(channel: str, operator: str, identifier: str, *, lock: bool = False) -> Ticket:
    """A live ticket of `channel` by external id or code (the newest when codes repeat).
    Another operator's ticket is `Forbidden`; none at all is `TicketNotFound`."""
    query = (
        Ticket.select()
        .where(
            (Ticket.channel == channel)
            & (Ticket.tombstone == False)  # noqa: E712
            & ((Ticket.external_id == identifier) | (Ticket.code == identifier))
        )
        .order_by(Ticket.created_at.desc())
    )
    rows = list(locked(query) if lock else query)
    if not rows:
        raise not_found(identifier, identifier=identifier)
    own = [t for t in rows if t.operator == operator]
    if not own:
        raise Forbidden("ticket belongs to another operator")
    return own[0]


def lock_external(channel: str, operator: str, external_id: str) -> Ticket | None:
    """Lock and return the operator's ticket with this external id (tombstones included),
    or None. Locking it first orders concurrent commands on one ticket."""
    return locked(
        Ticket.select().where(
            (Ticket.channel == channel)
            & (Ticket.operator == operator)
            & (Ticket.external_id == external_id)
        )
    ).first()


def lock_overdue(channel: str, operator: str, identifier: str, now: dt.datetime) -> Ticket | None:
    """Lock the operator's reservation with this id or code if it is past its deadline."""
    return locked(
        Ticket.select().where(
            (Ticket.channel == channel)
            & (Ticket.operator == operator)
            & (Ticket.status == RESERVED)
            & (Ticket.expires_at <= now)
            & ((Ticket.external_id == identifier) | (Ticket.code == identifier))
        )
    ).first()


def lock_due_reservations(now: dt.datetime, limit: int) -> list[Ticket]:
    """Reservations of any channel past their deadline, oldest first, locked with SKIP
    LOCKED (PostgreSQL) so that several sweepers share the work."""
    return list(
        locked(
            Ticket.select()
            .where((Ticket.status == RESERVED) & (Ticket.expires_at <= now))
            .order_by(Ticket.expires_at)
            .limit(limit),
            skip_locked=True,
        )
    )


def insert_new(row: Mapping[str, Any]) -> Ticket | None:
    """Insert a ticket from its column values (every column, by column name); None when a
    ticket with its (channel, operator, external id) exists already (inserted as expected
    to be new: see `fastsql.insert_expected`)."""
    if len(row) != len(_FIELD_OF_COLUMN):  # `loaded` holds exactly what it is given
        raise ValueError(f"a new ticket needs every column: {sorted(row)}")
    if fastsql.insert_expected(_TABLE, row) is False:
        return None
    return Ticket.loaded({_FIELD_OF_COLUMN[column]: value for column, value in row.items()})


def insert_tombstone(ticket: Ticket) -> Ticket | None:
    """Save `ticket` (a tombstone: a remembered id without a ticket) unless one with its
    external id was created meanwhile (None)."""
    try:
        with database.atomic():
            ticket.save(force_insert=True)
    except IntegrityError:
        return None
    return ticket


def set_hold(ticket: Ticket, hold_id: str) -> None:
    """Record the wallet hold of a reservation just inserted by `insert_new` (deferred)."""
    ticket.hold = hold_id
    fastsql.defer(_HOLD_SQL, (hold_id, ticket.id))


def save(ticket: Ticket, now: dt.datetime) -> None:
    ticket.updated_at = now
    ticket.save()


def _payment_state_sql() -> str:
    t = Ticket._meta
    status, paid, updated, key = (
        t.fields[f].column_name for f in ("status", "paid_amount", "updated_at", "id")
    )
    return (
        f"UPDATE {t.table_name} SET {status} = %s, {paid} = %s, {updated} = %s "  # noqa: S608
        f"WHERE {key} = %s"
    )


_PAYMENT_STATE_SQL = _payment_state_sql()


def save_payment_state(ticket: Ticket, now: dt.datetime) -> None:
    """Write what paying a ticket at a window changes (status, paid amount), nothing else:
    deferred, one statement written once (`save` would write every column)."""
    ticket.updated_at = now
    fastsql.defer(_PAYMENT_STATE_SQL, (ticket.status, ticket.paid_amount, now, ticket.id))


def page(
    channel: str,
    operator: str,
    *,
    limit: int,
    skip: int,
    player_id: str | None = None,
    statuses: list[str] | None = None,
    skip_types: list[str] | None = None,
) -> list[Ticket]:
    """The operator's live tickets of `channel`, newest first, in a stable order."""
    query = Ticket.select().where(
        (Ticket.channel == channel) & (Ticket.operator == operator) & (Ticket.tombstone == False)  # noqa: E712
    )
    if player_id:
        query = query.where(Ticket.player == player_id)
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    if skip_types:
        query = query.where(Ticket.type.is_null() | Ticket.type.not_in(skip_types))
    return list(
        query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(skip)
    )
