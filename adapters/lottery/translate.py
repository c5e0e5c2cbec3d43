"""Lottery ⇄ core: seed 003's bodies to core commands, core results to seed 003's fields,
core errors to the lottery's error shapes.

Error shapes (seed 003, SPEC 9): 401/403 `{"errors": ["Access denied"]}`; 422
`{"error": "Invalid input", "details": {…}}` or `{"error": "Company not found"}`; anything
else `{"error": message, "code": code}`. Money: `total_amount` is a string of cents,
`payment.amount` a number in units (`100.00` MXN is `100`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError

from adapters.lottery import receipt_image, schemas
from gateway.core import errors
from gateway.core.clock import iso
from gateway.core.lottery import CompanyNotFound, draws, sales
from gateway.core.money import to_units
from gateway.http import jsonbody
from gateway.http.errors import ProtocolError

ACCESS_DENIED = {"errors": ["Access denied"]}
INVALID_INPUT = "Invalid input"
COMPANY_NOT_FOUND = "Company not found"

WEEKDAYS = ("LUN", "MAR", "MIE", "JUE", "VIE", "SAB", "DOM")
MONTHS = ("ENE", "FEB", "MAR", "ABR", "MAY", "JUN", "JUL", "AGO", "SEP", "OCT", "NOV", "DIC")


# --- errors ----------------------------------------------------------------------------------


def error_body(status: int, code: str, message: str) -> Mapping[str, Any]:
    """The lottery family's shape for every error this service renders on its paths."""
    if status in (401, 403):
        return ACCESS_DENIED
    if status in (400, 422):
        return {"error": INVALID_INPUT, "details": {"request": [message]}}
    return {"error": message, "code": code}


def invalid(details: Mapping[Any, Any]) -> ProtocolError:
    return ProtocolError(
        422, {"error": INVALID_INPUT, "details": dict(details)}, reason="invalid_input"
    )


def _nested(field: str, message: str) -> dict[str, Any]:
    node: Any = [message]
    for part in reversed(field.split(".")):
        node = {part: node}
    return dict(node)


def from_core(exc: errors.CoreError) -> ProtocolError:
    field = exc.details.get("field")
    message = exc.message[:1].upper() + exc.message[1:]
    if isinstance(exc, CompanyNotFound):
        return ProtocolError(422, {"error": COMPANY_NOT_FOUND}, reason="company_not_found")
    if isinstance(exc, errors.Forbidden):
        return ProtocolError(403, ACCESS_DENIED, reason="forbidden")
    if isinstance(exc, errors.NotFound):
        return ProtocolError(404, {"error": message, "code": exc.code}, reason=exc.code)
    if isinstance(exc, errors.Conflict):
        return ProtocolError(409, {"error": message, "code": exc.code}, reason=exc.code)
    if isinstance(exc, errors.IdempotencyConflict):
        return invalid(
            {"payer_reference": ["Already used for a different ticket of this company."]}
        )
    return invalid(_nested(field if isinstance(field, str) else "request", message))


@contextmanager
def core_errors() -> Iterator[None]:
    try:
        yield
    except errors.CoreError as exc:
        raise from_core(exc) from None


# --- requests --------------------------------------------------------------------------------


def load(schema: Schema, raw: bytes | None) -> dict[str, Any]:
    """Decode and validate a body, or raise 422 Invalid input with the fields."""
    try:
        payload = jsonbody.decode(raw or b"")
    except jsonbody.BadJSON as exc:
        raise invalid(exc.details()) from None
    try:
        return schemas.check(schema, payload)
    except ValidationError as exc:
        raise invalid(exc.normalized_messages()) from None


def query(schema: Schema, params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return schemas.check(schema, dict(params))
    except ValidationError as exc:
        raise invalid(exc.normalized_messages()) from None


def purchase(data: Mapping[str, Any]) -> sales.Purchase:
    ticket, branch = data["ticket"], data["branch"]
    return sales.Purchase(
        payee_id=data["payee_id"],
        payer_reference=data["payer_reference"],
        draw_number=ticket["draw_number"],
        combination_count=ticket["combination_count"],
        rematch=ticket["rematch"],
        second_rematch=ticket["second_rematch"],
        total_amount=int(ticket["total_amount"]),
        branch_name=branch["name"],
        branch_street=branch["street"],
        branch_city=branch["city"],
        branch_neighborhood=branch["neighborhood"],
    )


# --- responses -------------------------------------------------------------------------------


def draw_date_text(iso_date: str) -> str:
    """`2024-06-16` → `DOM JUN 16 2024` (seed 003)."""
    day = dt.date.fromisoformat(iso_date)
    return f"{WEEKDAYS[day.weekday()]} {MONTHS[day.month - 1]} {day.day:02d} {day.year}"


def units(cents: int, currency: str) -> int | Decimal:
    """Cents → units as seed 003 shows them: `10000` → `100`, `1550` → `15.5`."""
    value = to_units(cents, currency)
    return int(value) if value == value.to_integral_value() else value.normalize()


def draw_info(d: draws.DrawView) -> dict[str, Any]:
    """`GET /api/v1/lottery_tickets/new`."""
    return {
        "draw_number": d.draw_number,
        "draw_date": d.draw_date,
        "closes_at": iso(d.closes_at),
        "currency": d.currency,
        "base_price": d.base_price,
        "rematch": d.rematch,
        "second_rematch": d.second_rematch,
        "minimum_number_of_boards": d.minimum_number_of_boards,
        "maximum_number_of_boards": d.maximum_number_of_boards,
    }


def sale(s: sales.LotterySale) -> dict[str, Any]:
    """The 200 body of `POST /api/v1/lottery_tickets`, exactly seed 003's fields."""
    total = str(s.total)
    receipt = s.receipt()
    receipt["ticket_image"] = receipt_image.render(s, draw_date_text(s.draw_date))
    return {
        "id": s.ticket_id,
        "client_id": s.client_id,
        "ticket": {
            "combination_numbers": s.combination_numbers,
            "draw_number": s.draw_number,
            "combination_count": s.combination_count,
            "rematch": s.rematch,
            "second_rematch": s.second_rematch,
            "total_amount": total,
            "transaction_date": s.transaction_date,
            "store_id": s.store_id,
            "pos_id": s.pos_id,
            "foreign_pos_id": s.foreign_pos_id,
            "transaction_number": s.transaction_number,
            "draw_date": draw_date_text(s.draw_date),
            "reference_number": s.reference_number,
            "session_id": s.session_id,
            "security_number": s.security_number,
            "client_name": s.branch_name,
            "client_street": s.branch_street,
            "client_city": s.branch_city,
            "client_neighborhood": s.branch_neighborhood,
        },
        "branch": {
            "name": s.branch_name,
            "street": s.branch_street,
            "city": s.branch_city,
            "neighborhood": s.branch_neighborhood,
        },
        "receipt": receipt,
        "status": "completed",
        "payment": {
            "id": s.payment_id,
            "payer_account": s.payer_reference,
            "payee_id": s.payee_id,
            "amount": units(s.total, s.currency),
            "currency": s.currency,
            "status": "completed",
            "pay_type": "gambling",
        },
    }


def draw(d: draws.DrawView) -> dict[str, Any]:
    """A draw for the back office (its request's names, amounts in cents)."""
    return {
        "payee_id": d.payee_id,
        "draw_number": d.draw_number,
        "draw_date": d.draw_date,
        "closes_at": iso(d.closes_at),
        "timezone": d.timezone,
        "currency": d.currency,
        "base_price": d.base_price,
        "rematch": d.rematch,
        "second_rematch": d.second_rematch,
        "minimum_number_of_boards": d.minimum_number_of_boards,
        "maximum_number_of_boards": d.maximum_number_of_boards,
        "prizes": d.prizes,
        "status": d.status,
        "numbers": d.numbers,
        "winners": d.winners,
        "payout_total": d.payout_total,
        "evaluated": d.evaluated,
    }
