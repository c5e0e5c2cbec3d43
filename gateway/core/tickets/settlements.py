"""What settled a ticket: one `Settlement` row per money movement (or decision) that moved
it, so a later command can undo the last one (a bet-engine rollback) or reverse them all
(a discard). Callers own the transaction.

The action names are stored values; they keep the names they were first written with, so
rows written by any release read the same. Never rename one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.store import fastsql
from gateway.store.models import Settlement, Ticket

STAKED = "ticket_create"  # the stake taken when the ticket was placed
PAID_IN = "paid"  # a reservation paid (hold posted or PSP payment booked)
AMOUNTS_UPDATED = "ticket_update"  # the stake adjusted
WON = "ticket_win"
LOST = "ticket_lost"
VOIDED = "ticket_void"
REFUNDED = "ticket_refund"
SETTLING = (WON, LOST, VOIDED, REFUNDED)  # what a rollback undoes
UNDONE_SUFFIX = ".undone"  # a settlement without money, undone by a rollback

_TABLE = Settlement._meta.table_name
_F = Settlement._meta.fields
_COLUMNS = tuple(
    _F[name].column_name
    for name in (
        "ticket",
        "generation",
        "action",
        "txn",
        "reversed_by",
        "prev_status",
        "prev_result",
        "created_at",
    )
)


def record(
    ticket: Ticket, action: str, txn: Any, prev_status: str, prev_result: str, now: dt.datetime
) -> None:
    """Remember that `action` settled the ticket in its current generation, with `txn`
    (None when no money moved) and the status and result it left (deferred write)."""
    fastsql.insert_later(
        _TABLE,
        dict(
            zip(
                _COLUMNS,
                (
                    ticket.id,
                    ticket.generation,
                    action,
                    txn.id if txn is not None else None,
                    None,
                    prev_status,
                    prev_result,
                    now,
                ),
                strict=True,
            )
        ),
    )


def exists(ticket: Ticket, action: str) -> bool:
    return bool(
        Settlement.select()
        .where((Settlement.ticket == ticket.id) & (Settlement.action == action))
        .exists()
    )


def last_undoable(ticket: Ticket) -> Settlement | None:
    """The last settlement of the ticket's generation that no rollback has undone."""
    return (
        Settlement.select()
        .where(
            (Settlement.ticket == ticket.id)
            & Settlement.action.in_(SETTLING)
            & (Settlement.generation == ticket.generation)
            & Settlement.reversed_by.is_null(True)
        )
        .order_by(Settlement.id.desc())
        .first()
    )


def unreversed_with_money(ticket: Ticket) -> list[Settlement]:
    """Every settlement of the ticket that moved money and is not reversed, newest first."""
    return list(
        Settlement.select()
        .where(
            (Settlement.ticket == ticket.id)
            & Settlement.txn.is_null(False)
            & Settlement.reversed_by.is_null(True)
        )
        .order_by(Settlement.id.desc())
    )


def mark_reversed(settlement: Settlement, reversal_id: int | None) -> None:
    """Link the settlement to the ledger transaction that reversed it; with None (nothing
    moved), rename it `…undone` so that it no longer counts."""
    Settlement.update(reversed_by=reversal_id).where(Settlement.id == settlement.id).execute()
    if reversal_id is None:
        Settlement.update(action=f"{settlement.action}{UNDONE_SUFFIX}").where(
            Settlement.id == settlement.id
        ).execute()
