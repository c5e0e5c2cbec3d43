"""Registry ⇄ core: request bodies to core commands, core results to the registry API's fields, core
refusals to its `{"error": message}` bodies.

Every error on a `/payments` path is `{"error": message}` (the registry API's shape, e.g. `409
{"error": "transaction_id already exists"}`); a validation error adds `details`, the
offending fields with their messages. Money crosses here only: the wire carries decimal
numbers in currency units, rendered with the currency's decimals (`45.50`, `0.00025000`),
the core integer minor units.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError

from adapters.backoffice import translate as backoffice
from adapters.payments import schemas
from gateway.core import errors
from gateway.core.money import MAX_WIRE_MINOR, AmountError, to_minor, to_units, to_units_fixed
from gateway.core.registry import catalog, links, payments
from gateway.http import jsonbody
from gateway.http.errors import ProtocolError

INVALID = "Invalid request"
CREATED = "Payment added successfully"
UPDATED = "Payment updated successfully"
LINKED = "Ticket payment relationship created successfully"

# core refusal → (HTTP status, message on the wire); the most specific class in the MRO wins.
ERROR_TABLE: dict[type[errors.CoreError], tuple[int, str]] = {
    payments.DuplicateTransaction: (409, "transaction_id already exists"),
    payments.PaymentInUse: (400, "Failed to delete payment or payment is in use"),
    payments.PaymentNotFound: (404, "Payment not found"),
    catalog.MethodNotFound: (404, "Payment method not found"),
    catalog.CurrencyNotFound: (404, "Currency not found"),
    links.LinkExists: (409, "Ticket payment relationship already exists"),
    links.LinkNotFound: (404, "Ticket payment relationship not found"),
    errors.Forbidden: (403, "Forbidden"),
    errors.NotFound: (404, "Not found"),
}


# --- errors ----------------------------------------------------------------------------------


def error_body(status: int, code: str, message: str) -> Mapping[str, Any]:
    """The family's shape for every error rendered on its paths (401 to 500)."""
    return {"error": message}


def error(status: int, message: str, details: Mapping[str, Any] | None = None) -> ProtocolError:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = dict(details)
    return ProtocolError(status, body, reason=message.lower().replace(" ", "_")[:40])


def invalid(details: Mapping[Any, Any]) -> ProtocolError:
    return error(400, INVALID, details)


def from_core(exc: errors.CoreError) -> ProtocolError:
    field = exc.details.get("field")
    hit = next((ERROR_TABLE[k] for k in type(exc).__mro__ if k in ERROR_TABLE), None)
    if hit is not None:
        return error(*hit)
    message = exc.message[:1].upper() + exc.message[1:] + "."
    if isinstance(field, str):
        return invalid({field: [message]})
    status = 409 if isinstance(exc, errors.Conflict) else 400
    return error(status, exc.message[:1].upper() + exc.message[1:])


@contextmanager
def core_errors() -> Iterator[None]:
    """Turn a core refusal raised inside the block into the registry's error."""
    try:
        yield
    except errors.CoreError as exc:
        raise from_core(exc) from None


# --- requests --------------------------------------------------------------------------------


def load(schema: Schema, raw: bytes) -> dict[str, Any]:
    """Decode and validate a request body, or raise 400 with the fields' messages."""
    try:
        payload = backoffice.decode(raw)
    except jsonbody.BadJSON as exc:
        raise invalid(exc.details()) from None
    if not isinstance(payload, dict):
        raise invalid({"body": ["Request body must be a JSON object."]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise invalid(exc.normalized_messages()) from None


def query(schema: Schema, params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(dict(params))
    except ValidationError as exc:
        raise invalid(exc.normalized_messages()) from None


def path_id(value: str, what: str) -> str:
    """A UUID from the path, lower-cased; anything else is 400 `Invalid <what> id`."""
    if schemas.UUID_PATTERN.fullmatch(value) is None:
        raise error(400, f"Invalid {what} id")
    return value.lower()


def ticket_ref(value: str) -> str:
    """A ticket id from the path: the caller's reference, 1 to 100 characters, not blank."""
    if not 0 < len(value) <= schemas.MAX_REFERENCE or not value.strip():
        raise error(400, "Invalid ticket id")
    return value


def minor(amount: Decimal, currency: str) -> int:
    """Units on the wire → minor units, exactly; excess decimals are a validation error."""
    try:
        value = to_minor(amount, currency)
    except AmountError as exc:
        raise invalid({"amount": [f"{str(exc)[:1].upper()}{str(exc)[1:]}."]}) from None
    if value > MAX_WIRE_MINOR:
        raise invalid({"amount": [f"Must be at most {to_units(MAX_WIRE_MINOR, currency)}."]})
    return value


def payment_fields(data: Mapping[str, Any]) -> payments.PaymentFields:
    """The body as a core command: the amount in minor units of the currency it names (an
    unknown currency is a 400 on `currency_id`)."""
    currency_id = data["currency_id"].lower()
    with core_errors():
        currency = catalog.acronym_of(currency_id)
    return payments.PaymentFields(
        method_id=data["method_id"].lower(),
        currency_id=currency_id,
        transaction_id=data["transaction_id"],
        amount=minor(data["amount"], currency),
    )


# --- responses -------------------------------------------------------------------------------


class Units(Decimal):
    """An amount that JSON renders in plain notation (`0.00000001`, never `1E-8`)."""

    def __str__(self) -> str:
        return format(self, "f")

    __repr__ = __str__


def units(minor_amount: int, currency: str) -> Units:
    """4550 EUR → 45.50; 25000 BTC (satoshi) → 0.00025000: the currency's decimals."""
    return Units(to_units_fixed(minor_amount, currency))


def payment(v: payments.RegistryPaymentView) -> dict[str, Any]:
    return {
        "id": v.id,
        "method_id": v.method_id,
        "currency_id": v.currency_id,
        "transaction_id": v.transaction_id,
        "amount": units(v.amount, v.currency),
    }


def created(v: payments.RegistryPaymentView) -> dict[str, Any]:
    return {"id": v.id, "message": CREATED}


def method(v: catalog.MethodView) -> dict[str, Any]:
    return {"id": v.id, "name": v.name}


def currency(v: catalog.CurrencyView) -> dict[str, Any]:
    return {"id": v.id, "acronym": v.acronym}


def linked(v: links.TicketLinkView) -> dict[str, Any]:
    return {"paymentId": v.payment_id, "ticketId": v.ticket_id, "message": LINKED}


def link(v: links.TicketLinkView) -> dict[str, Any]:
    return {"payment_id": v.payment_id, "ticket_id": v.ticket_id}
