"""Back office ⇄ core: request bodies to core commands, core results to the wire, core errors
to the back-office error shape.

Money crosses here and only here: the wire carries decimal numbers in currency units, the
core integer minor units (`gateway.core.money.to_minor` / `to_units`, exact both ways).
The one table from core errors to (HTTP status, back-office code) lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError

from adapters.backoffice import schemas
from gateway.core import errors, network, players
from gateway.core.clock import iso
from gateway.core.money import MAX_WIRE_MINOR, AmountError, to_minor, to_units
from gateway.http import jsonbody
from gateway.http.errors import ProtocolError

VALIDATION_ERROR = "VALIDATION_ERROR"

# core error → (HTTP status, back-office code); the most specific class in the MRO wins.
ERROR_TABLE: dict[type[errors.CoreError], tuple[int, str]] = {
    errors.Invalid: (400, VALIDATION_ERROR),
    errors.Unbalanced: (400, VALIDATION_ERROR),
    errors.CurrencyMismatch: (400, "CURRENCY_MISMATCH"),
    errors.InsufficientFunds: (400, "INSUFFICIENT_FUNDS"),
    errors.Forbidden: (403, "FORBIDDEN"),
    errors.PlayerBlocked: (403, "PLAYER_BLOCKED"),
    errors.NotFound: (404, "NOT_FOUND"),
    errors.UnknownPlayer: (404, "NOT_FOUND"),
    errors.IdempotencyConflict: (409, "IDEMPOTENCY_KEY_REUSED"),
    errors.AlreadyReversed: (409, "ALREADY_REVERSED"),
    errors.InvalidTransition: (409, "INVALID_STATE"),
    errors.TicketClosed: (409, "INVALID_STATE"),
    errors.NotReserved: (409, "INVALID_STATE"),
    errors.DuplicateTicket: (409, "CONFLICT"),
    errors.Conflict: (409, "CONFLICT"),
}
# A refusal of a kind this table does not know yet: the request is refused, not a fault.
UNMAPPED = (400, "REQUEST_REFUSED")

# The most one movement may carry, in minor units (10 trillion CRC, 10 million BTC): keeps
# every balance far inside the 64-bit integers the ledger stores.
MAX_MINOR = MAX_WIRE_MINOR


# --- errors --------------------------------------------------------------------------------


def error(
    status: int, code: str, message: str, details: Mapping[str, Any] | None = None
) -> ProtocolError:
    """A back-office error: `{"success": false, "error": {"code", "message", "details"?}}`."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = dict(details)
    return ProtocolError(status, {"success": False, "error": body}, reason=code.lower())


def invalid(details: Mapping[str, Any]) -> ProtocolError:
    return error(400, VALIDATION_ERROR, "Invalid request", details)


def from_core(exc: errors.CoreError) -> ProtocolError:
    status, code = next(
        (ERROR_TABLE[kind] for kind in type(exc).__mro__ if kind in ERROR_TABLE), UNMAPPED
    )
    message = exc.message[:1].upper() + exc.message[1:]
    field = exc.details.get("field")
    details = {field: [message]} if isinstance(field, str) else None
    return error(status, code, message, details)


def mapped(
    table: Mapping[type[errors.CoreError], tuple[int, str]],
) -> Callable[[errors.CoreError], ProtocolError]:
    """`from_core` with a seed's own codes first: the most specific class of `table` in the
    refusal's MRO wins, anything else maps as the back office's."""

    def translate(exc: errors.CoreError) -> ProtocolError:
        hit = next((table[k] for k in type(exc).__mro__ if k in table), None)
        if hit is None:
            return from_core(exc)
        status, code = hit
        message = exc.message[:1].upper() + exc.message[1:]
        field = exc.details.get("field")
        return error(status, code, message, {field: [message]} if field else None)

    return translate


@contextmanager
def core_errors(
    translate: Callable[[errors.CoreError], ProtocolError] = from_core,
) -> Iterator[None]:
    """Turn a core refusal raised inside the block into its back-office error."""
    try:
        yield
    except errors.CoreError as exc:
        raise translate(exc) from None


# --- requests ------------------------------------------------------------------------------


def decode(raw: bytes) -> Any:
    """The JSON body (`gateway.http.jsonbody`: `Decimal`, bounded depth, valid Unicode);
    empty means `{}`."""
    if not raw or not raw.strip():
        return {}
    return jsonbody.decode(raw)


def load(schema: Schema, raw: bytes) -> dict[str, Any]:
    """Decode and validate a request body, or raise a 400 VALIDATION_ERROR."""
    try:
        payload = decode(raw)
    except jsonbody.BadJSON as exc:
        raise invalid(exc.details()) from None
    try:
        return schemas.check(schema, payload)
    except ValidationError as exc:
        raise invalid(exc.normalized_messages()) from None


def minor(amount: Decimal, currency: str, field: str = "amount") -> int:
    """Units on the wire → minor units, exactly; excess decimals are a validation error."""
    try:
        value = to_minor(amount, currency)
    except AmountError as exc:
        raise invalid({field: [str(exc)]}) from None
    if value > MAX_MINOR:
        raise invalid({field: [f"Must be at most {to_units(MAX_MINOR, currency)} {currency}."]})
    return value


def new_banca(data: Mapping[str, Any]) -> network.NewBanca:
    return network.NewBanca(name=data["name"].strip(), currency=data["currency"])


def new_ventana(data: Mapping[str, Any]) -> network.NewVentana:
    return network.NewVentana(
        banca_id=data["bancaId"], name=data["name"].strip(), commission_bps=data["commissionBps"]
    )


def new_vendedor(data: Mapping[str, Any]) -> network.NewVendedor:
    return network.NewVendedor(
        ventana_id=data["ventanaId"],
        name=data["name"].strip(),
        commission_bps=data["commissionBps"],
    )


def new_player(data: Mapping[str, Any]) -> players.NewPlayer:
    return players.NewPlayer(
        msisdn=data["msisdn"],
        lang=data["lang"],
        currency=data["currency"],
        external_id=data["externalId"],
        ventana_id=data["ventanaId"],
        operator=data["operator"],
    )


def cash_movement(player_id: str, currency: str, data: Mapping[str, Any]) -> players.CashMovement:
    return players.CashMovement(
        player_id=player_id,
        amount=minor(data["amount"], currency),
        method=data["method"],
        idempotency_key=data["idempotencyKey"],
        ventana_id=data["ventanaId"],
    )


# --- responses -----------------------------------------------------------------------------


def envelope(data: Any, *, replayed: bool = False) -> dict[str, Any]:
    """`{"success": true, "data": …}`, plus `meta.cached` when answered from the key store."""
    body: dict[str, Any] = {"success": True, "data": data}
    if replayed:
        body["meta"] = {"cached": True}
    return body


def _units(amount: int, currency: str) -> Decimal:
    return to_units(amount, currency)


def _banca(v: network.BancaView) -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "currency": v.currency}


def _ventana(v: network.VentanaView) -> dict[str, Any]:
    return {"id": v.id, "bancaId": v.banca_id, "name": v.name, "commissionBps": v.commission_bps}


def _vendedor(v: network.VendedorView) -> dict[str, Any]:
    return {
        "id": v.id,
        "ventanaId": v.ventana_id,
        "bancaId": v.banca_id,
        "name": v.name,
        "commissionBps": v.commission_bps,
    }


def _player(v: players.PlayerView) -> dict[str, Any]:
    return {
        "id": v.id,
        "operator": v.operator,
        "externalId": v.external_id,
        "msisdn": v.msisdn,
        "lang": v.lang,
        "currency": v.currency,
        "blocked": v.blocked,
        "ventanaId": v.ventana_id,
        "balance": _units(v.balance, v.currency),
        "available": _units(v.available, v.currency),
        "held": _units(v.held, v.currency),
    }


def _token(v: players.TokenIssued) -> dict[str, Any]:
    return {
        "token": v.token,
        "playerId": v.player_id,
        "expiresAt": iso(v.expires_at),
        "tokenId": v.token_id,
    }


def _cash(v: players.CashMoved) -> dict[str, Any]:
    return {
        "id": v.txn_id,
        "playerId": v.player_id,
        "type": "deposit" if v.deposit else "withdrawal",
        "amount": _units(v.amount, v.currency),
        "currency": v.currency,
        "method": v.method,
        "ventanaId": v.ventana_id,
        "createdAt": iso(v.created_at),
    }


_RENDER: dict[type, Callable[[Any], dict[str, Any]]] = {
    network.BancaView: _banca,
    network.VentanaView: _ventana,
    network.VendedorView: _vendedor,
    players.PlayerView: _player,
    players.TokenIssued: _token,
    players.CashMoved: _cash,
}


def render(value: Any) -> Any:
    """A core result (or a list of them) in the back office's wire names and units."""
    if isinstance(value, list):
        return [render(v) for v in value]
    renderer = _RENDER.get(type(value))
    return renderer(value) if renderer is not None else value
