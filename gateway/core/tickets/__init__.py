"""One ticket model for every channel (SPEC section 10).

- `states`: the state machine, pure (`move`, `can_move`, `check`, `TRANSITIONS`);
- `records`: finding, locking, creating and saving ticket rows;
- `settlements`: what settled a ticket, so that it can be undone or reversed.

Channel services (the bet engine now; lottery evaluation and back-office payouts next)
use these and never query tickets themselves. This package knows no protocol: partner
action names and idempotency scopes belong to the adapters.
"""

from __future__ import annotations

from gateway.core.tickets import settlements
from gateway.core.tickets.records import (
    find,
    insert_new,
    insert_tombstone,
    lock_due_reservations,
    lock_external,
    lock_overdue,
    not_found,
    page,
    save,
    save_payment_state,
    set_hold,
)
from gateway.core.tickets.settlements import record as record_settlement
from gateway.core.tickets.states import (
    CANCELLED,
    CLOSED,
    EVALUATED,
    EXPIRED,
    LOST,
    OPEN,
    PAID,
    PENDING,
    RESERVED,
    RESULTS,
    STATUSES,
    TRANSITIONS,
    VOID,
    WON,
    can_move,
    check,
    move,
)

__all__ = [
    "CANCELLED",
    "CLOSED",
    "EVALUATED",
    "EXPIRED",
    "LOST",
    "OPEN",
    "PAID",
    "PENDING",
    "RESERVED",
    "RESULTS",
    "STATUSES",
    "TRANSITIONS",
    "VOID",
    "WON",
    "can_move",
    "check",
    "find",
    "insert_new",
    "insert_tombstone",
    "lock_due_reservations",
    "lock_external",
    "lock_overdue",
    "move",
    "not_found",
    "page",
    "record_settlement",
    "save",
    "save_payment_state",
    "set_hold",
    "settlements",
]
