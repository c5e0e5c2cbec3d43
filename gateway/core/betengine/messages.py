"""What a bet engine asks of the core: the commands, named for what they do.

The protocol's own names (Betstack's `ticket_win`, …) and its idempotency scope are the
adapter's: it passes them in `Origin`, and the core uses them only as opaque labels (the
audit line's action and the idempotency key), never to decide anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.core.errors import Invalid
from gateway.core.idempotency import fingerprint

# commands on an existing ticket
UPDATE_AMOUNTS = "update_amounts"
SETTLE_WON = "settle_won"
SETTLE_LOST = "settle_lost"
SETTLE_VOID = "settle_void"
REFUND = "refund"
DISCARD = "discard"
ROLLBACK = "rollback"
CLOSE = "close"
EVENT_COMMANDS = (
    UPDATE_AMOUNTS,
    SETTLE_WON,
    SETTLE_LOST,
    SETTLE_VOID,
    REFUND,
    DISCARD,
    ROLLBACK,
    CLOSE,
)


@dataclass(frozen=True)
class Origin:
    """How the protocol names this request: `scope` is its idempotency namespace (one per
    partner), `action` its name for what is asked (the audit line's action and the start
    of the idempotency key)."""

    scope: str
    action: str


@dataclass(frozen=True)
class Amounts:
    price: int
    stake: int
    gross_payout: int = 0
    net_payout: int = 0
    wht_amount: int = 0
    ext_amount: int = 0
    wht: str | None = None
    ext: str | None = None
    ext_type: str | None = None

    def fields(self) -> dict[str, Any]:
        """The amounts as a plain dict (cheaper than `dataclasses.asdict`'s deep copy)."""
        return dict(self.__dict__)

    def check(self) -> None:
        money = (
            self.price,
            self.stake,
            self.gross_payout,
            self.net_payout,
            self.wht_amount,
            self.ext_amount,
        )
        if any(v < 0 for v in money):
            raise Invalid("amounts must not be negative", field="price")
        if self.net_payout > self.gross_payout:
            raise Invalid("net_payout must not exceed gross_payout", field="net_payout")
        if self.price != self.stake + self.ext_amount:
            raise Invalid("price must equal stake + ext_amount", field="price")
        if self.gross_payout and self.gross_payout != self.net_payout + self.wht_amount:
            raise Invalid("gross_payout must equal net_payout + wht_amount", field="gross_payout")


@dataclass(frozen=True)
class PlaceTicket:
    """Place a ticket (`reserve` False: the stake is taken now) or reserve one (`reserve`
    True: a wallet hold, or nothing for an external PSP, until it is paid)."""

    operator: str
    ticket_id: str
    player_ref: str
    currency: str
    amounts: Amounts
    origin: Origin
    reserve: bool = False
    code: str | None = None
    type: str | None = None
    psp: str | None = None
    atag: str | None = None
    rtag: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketEvent:
    """One of `EVENT_COMMANDS` on an existing ticket."""

    operator: str
    command: str
    ticket_id: str
    origin: Origin
    amounts: Amounts | None = None  # UPDATE_AMOUNTS: the new amounts
    refund: int | None = None  # SETTLE_VOID: the refund the partner asks, when > 0
    currency: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def money_fingerprint(self) -> str:
        return fingerprint(
            {
                "amounts": self.amounts.fields() if self.amounts else None,
                "refund": self.refund,
                "currency": self.currency,
            }
        )
