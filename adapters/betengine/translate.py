"""Betstack ⇄ core: payloads to commands, core errors to Betstack codes, tickets to
Betstack's field names. The one table of error codes for this protocol lives here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.core import betengine, errors, players, tickets
from gateway.core.betengine import Amounts, Origin, PlaceTicket, TicketEvent
from gateway.core.clock import iso
from gateway.http.errors import ProtocolError

ACTIONS_PLACE = ("ticket_create", "ticket_reserve")
# Betstack's action → the core command it asks for
EVENT_COMMANDS = {
    "ticket_update": betengine.UPDATE_AMOUNTS,
    "ticket_win": betengine.SETTLE_WON,
    "ticket_lost": betengine.SETTLE_LOST,
    "ticket_void": betengine.SETTLE_VOID,
    "ticket_refund": betengine.REFUND,
    "ticket_discard": betengine.DISCARD,
    "ticket_rollback": betengine.ROLLBACK,
    "ticket_closed": betengine.CLOSE,
}
ACTIONS_EVENT = tuple(EVENT_COMMANDS)

INVALID_REQUEST = (108, "Invalid request")

# core error → (HTTP status, Betstack code, message)
ERROR_TABLE: dict[type[errors.CoreError], tuple[int, int, str]] = {
    errors.UnknownPlayer: (403, 101, "User not found"),
    errors.InsufficientFunds: (400, 103, "Insufficient funds"),
    errors.DuplicateTicket: (400, 104, "Duplicate ticket with different data"),
    errors.IdempotencyConflict: (400, 104, "Duplicate ticket with different data"),
    errors.CurrencyMismatch: (400, 105, "Currency mismatch"),
    errors.PlayerBlocked: (400, 106, "Player blocked"),
    errors.InvalidTransition: (400, 107, "Invalid ticket state"),
    errors.Invalid: (400, 108, "Invalid request"),
    errors.Unbalanced: (400, 108, "Invalid request"),
    errors.Forbidden: (403, 109, "Forbidden"),
    errors.TicketClosed: (400, 110, "Ticket closed"),
    errors.NotReserved: (
        400,
        117,
        "Ticket has to have `reserved` status in order to do this action",
    ),
}

BETSTACK_STATUS = {
    tickets.RESERVED: "reserved",
    tickets.OPEN: "open",
    tickets.EVALUATED: "resulted",
    tickets.PAID: "resulted",
    tickets.CANCELLED: "cancelled",
    tickets.CLOSED: "closed",
    tickets.EXPIRED: "expired",
}
STATUS_FILTER = {
    "reserved": [tickets.RESERVED],
    "open": [tickets.OPEN],
    "resulted": [tickets.EVALUATED, tickets.PAID],
    "cancelled": [tickets.CANCELLED],
    "closed": [tickets.CLOSED],
    "expired": [tickets.EXPIRED],
}


def error(code: int, message: str, status: int = 400, **extra: Any) -> ProtocolError:
    return ProtocolError(
        status, {"code": code, "message": message, **extra}, reason=f"betstack_{code}"
    )


def invalid(details: dict[str, Any]) -> ProtocolError:
    return error(*INVALID_REQUEST, details=details)


def not_implemented(feature: str) -> ProtocolError:
    return error(100, f"{feature} feature not implemented yet")


def from_core(exc: errors.CoreError, ticket_id: str | None = None) -> ProtocolError:
    if isinstance(exc, errors.TicketNotFound):
        ident = exc.details.get("identifier") or exc.details.get("ticket") or ticket_id or ""
        return error(102, f"Ticket with `{ident}` identifier is not found")
    for kind in type(exc).__mro__:
        if kind in ERROR_TABLE:
            status, code, message = ERROR_TABLE[kind]  # type: ignore[index]
            body_extra = (
                {"details": {exc.details["field"]: [exc.message]}}
                if code == 108 and "field" in exc.details
                else {}
            )
            return error(code, message, status, **body_extra)
    return error(*INVALID_REQUEST)


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def amounts(data: dict[str, Any]) -> Amounts:
    """Both Betstack money models: current (price, stake, wht…, net_payout) and older
    (stake, tax, payout: price = stake, wht_amount = tax, net_payout = payout)."""
    older = data.get("price") is None and (
        data.get("tax") is not None or data.get("payout") is not None
    )
    if older:
        stake = data.get("stake") or 0
        tax = data.get("tax") or 0
        payout = data.get("payout") or 0
        return Amounts(
            price=stake, stake=stake, gross_payout=payout + tax, net_payout=payout, wht_amount=tax
        )
    ext_amount = data.get("ext_amount") or 0
    price = data.get("price")
    stake = data.get("stake")
    if price is None:
        price = (stake or 0) + ext_amount
    if stake is None:
        stake = price - ext_amount
    net = data.get("net_payout") or 0
    wht_amount = data.get("wht_amount") or 0
    gross = data.get("gross_payout")
    return Amounts(
        price=price,
        stake=stake,
        ext_amount=ext_amount,
        net_payout=net,
        wht_amount=wht_amount,
        gross_payout=net + wht_amount if gross is None else gross,
        wht=_rate(data.get("wht")),
        ext=_rate(data.get("ext")),
        ext_type=data.get("ext_type"),
    )


def origin(operator: str, action: str) -> Origin:
    """Betstack's idempotency scope is the operator; its action names the request."""
    return Origin(scope=f"betstack:{operator}", action=action)


def place_command(
    operator: str, action: str, data: dict[str, Any], raw: dict[str, Any]
) -> PlaceTicket:
    return PlaceTicket(
        operator=operator,
        ticket_id=data["ticket_id"],
        player_ref=data["player_id"],
        currency=data["currency"],
        amounts=amounts(data),
        reserve=action == "ticket_reserve",
        code=data.get("ticket_code"),
        type=data.get("ticket_type"),
        psp=data.get("psp"),
        atag=data.get("atag"),
        rtag=data.get("rtag"),
        raw=raw,
        origin=origin(operator, action),
    )


def event_command(
    operator: str, action: str, data: dict[str, Any], raw: dict[str, Any]
) -> TicketEvent:
    has_money = any(data.get(k) is not None for k in ("price", "stake", "tax", "payout"))
    refund = data.get("net_payout") if action == "ticket_void" else None
    return TicketEvent(
        operator=operator,
        command=EVENT_COMMANDS[action],
        ticket_id=data["ticket_id"],
        origin=origin(operator, action),
        amounts=amounts(data)
        if action == "ticket_update" or (has_money and action != "ticket_void")
        else None,
        refund=refund,
        currency=data.get("currency"),
        raw=raw,
    )


def _number(text: str | None) -> Decimal | int | None:
    if text is None:
        return None
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else value


def ticket_view(t: betengine.TicketView) -> dict[str, Any]:
    return {
        "id": t.external_id,
        "code": t.code,
        "psp": t.psp or None,
        "price": t.price,
        "stake": t.stake,
        "currency": t.currency,
        "gross_payout": t.gross_payout,
        "net_payout": t.net_payout,
        "wht_amount": t.wht_amount,
        "wht": _number(t.wht),
        "ext_amount": t.ext_amount,
        "ext": _number(t.ext),
        "ext_type": t.ext_type,
        "status": BETSTACK_STATUS[t.status],
        "result": t.result,
        "type": t.type,
        "atag": t.atag,
        "rtag": t.rtag,
        "user_id": t.player_id,
        "created": iso(t.created_at),
        "updated": iso(t.updated_at),
    }


def identified(who: players.Identified) -> dict[str, Any]:
    """`identify`'s answer in Betstack's names; `balance` is the available balance."""
    return {
        "player_id": who.player_id,
        "lang": who.lang,
        "balance": who.available,
        "currency": who.currency,
        "feature_flags": {},
    }
