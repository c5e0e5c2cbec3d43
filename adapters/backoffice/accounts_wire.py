"""The wire format of account payments and statements (seed 002): request schemas, the core
commands, the rendered payment and statement days, and seed 002's error codes.

Amounts are decimal numbers in the banca's currency units on the wire, integer minor units
in the core (`translate.minor`). Nothing here queries or decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from marshmallow import Schema, ValidationError, validate

from adapters.backoffice import schemas, translate
from adapters.text import Text
from gateway.core import errors, settlements, statements
from gateway.core.clock import iso
from gateway.core.money import to_units
from gateway.http import jsonbody
from gateway.http.errors import ProtocolError

DATE_RE = r"\d{4}-\d{2}-\d{2}"
TIME_RE = r"([01]\d|2[0-3]):[0-5]\d"
DIMENSION_FIELDS = {
    "bancaId": statements.BANCA,
    "ventanaId": statements.VENTANA,
    "vendedorId": statements.VENDEDOR,
}


class Date(Text):
    """`YYYY-MM-DD`, a real calendar day."""

    default_error_messages = {"invalid_date": "Must be a date as YYYY-MM-DD."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if not schemas.FullMatch(DATE_RE)(text):
                raise ValueError
            return dt.date.fromisoformat(text)
        except (ValueError, ValidationError):
            raise self.make_error("invalid_date") from None


class NewAccountPayment(schemas._Strict):
    date = Date(required=True)
    time = Text(
        load_default="00:00",
        validate=schemas.FullMatch(TIME_RE, error="Must be a time as HH:MM (24-hour)."),
    )
    bancaId = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))
    ventanaId = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))
    vendedorId = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))
    amount = schemas.Amount(required=True)
    type = Text(required=True, validate=validate.OneOf(settlements.TYPES))
    method = Text(load_default="cash", validate=validate.OneOf(settlements.METHODS))
    notes = Text(load_default=None, allow_none=True, validate=validate.Length(max=500))
    isFinal = schemas.StrictBoolean(load_default=False)
    idempotencyKey = Text(required=True, validate=validate.Length(min=8, max=100))


class ReversePayment(schemas._Strict):
    paymentId = Text(required=True, validate=validate.Length(min=1, max=36))
    reason = Text(
        required=True,
        validate=[
            validate.Length(min=1, max=300),
            validate.Regexp(r"\s*\S", error="Must not be blank."),
        ],
    )


def _id_param() -> Text:
    return Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))


# built from a dict: `from` is a Python keyword
StatementQuery = schemas._Strict.from_dict(
    {
        "date": Date(load_default=None, allow_none=True),
        "from": Date(load_default=None, allow_none=True),
        "to": Date(load_default=None, allow_none=True),
        "bancaId": _id_param(),
        "ventanaId": _id_param(),
        "vendedorId": _id_param(),
    },
    name="StatementQuery",
)


# core refusal → (HTTP status, seed 002 code); anything else as the back office maps it.
ERROR_TABLE: dict[type[errors.CoreError], tuple[int, str]] = {
    settlements.FutureDate: (400, "FUTURE_DATE"),
    settlements.FutureTime: (400, "FUTURE_TIME"),
    settlements.AccountPaymentNotFound: (404, "PAYMENT_NOT_FOUND"),
    settlements.AccountPaymentReversed: (400, "PAYMENT_ALREADY_REVERSED"),
}


from_core = translate.mapped(ERROR_TABLE)


def core_errors() -> AbstractContextManager[None]:
    return translate.core_errors(from_core)


def _refused(messages: Mapping[str, Any]) -> ProtocolError:
    """Seed 002 names two field errors on their own: a malformed time, a bad amount."""
    only = set(messages)
    if only == {"time"}:
        return translate.error(400, "INVALID_TIME_FORMAT", "Time must be HH:MM", messages)
    if only == {"amount"}:
        return translate.error(400, "INVALID_AMOUNT", "Amount must be greater than 0", messages)
    return translate.invalid(messages)


def _check(schema: Schema, payload: object) -> dict[str, Any]:
    try:
        return schemas.check(schema, payload)
    except ValidationError as exc:
        raise _refused(exc.normalized_messages()) from None


def dimension_of(data: Mapping[str, Any]) -> tuple[str, str]:
    """Exactly one of `bancaId` / `ventanaId` / `vendedorId`, else MISSING_DIMENSION."""
    named = [(kind, data[name]) for name, kind in DIMENSION_FIELDS.items() if data.get(name)]
    if len(named) != 1:
        raise translate.error(
            400, "MISSING_DIMENSION", "Name exactly one of bancaId, ventanaId or vendedorId"
        )
    return named[0]


def _payload(raw: bytes) -> Any:
    try:
        return translate.decode(raw)
    except jsonbody.BadJSON as exc:
        raise translate.invalid({str(k): v for k, v in exc.details().items()}) from None


def load_payment(raw: bytes) -> dict[str, Any]:
    data = _check(NewAccountPayment(), _payload(raw))
    data["dimension"] = dimension_of(data)
    return data


def load_reverse(raw: bytes) -> dict[str, Any]:
    return _check(ReversePayment(), _payload(raw))


def load_query(params: Mapping[str, Any]) -> tuple[str, str, dt.date, dt.date]:
    """`?date=` or `?from=&to=`, and one dimension."""
    if any(isinstance(v, list) for v in params.values()):
        raise translate.invalid({"query": ["Each parameter may be given once."]})
    data = _check(StatementQuery(), dict(params))
    kind, ident = dimension_of(data)
    day, first, last = data["date"], data["from"], data["to"]
    if day is not None and (first is not None or last is not None):
        raise translate.invalid({"date": ["Give either date or from and to."]})
    if day is not None:
        return kind, ident, day, day
    if first is None or last is None:
        raise translate.invalid({"from": ["Give date, or both from and to."]})
    return kind, ident, first, last


def settle_command(data: Mapping[str, Any], currency: str) -> settlements.SettleAccount:
    kind, ident = data["dimension"]
    return settlements.SettleAccount(
        kind=kind,
        dimension_id=ident,
        day=data["date"],
        time=data["time"],
        amount=translate.minor(data["amount"], currency, "amount"),
        type=data["type"],
        method=data["method"],
        notes=data["notes"],
        is_final=data["isFinal"],
        idempotency_key=data["idempotencyKey"],
    )


_ID_FIELD = {v: k for k, v in DIMENSION_FIELDS.items()}


def payment(v: settlements.AccountPaymentView) -> dict[str, Any]:
    return {
        "id": v.id,
        _ID_FIELD[v.kind]: v.dimension_id,
        "date": v.day.isoformat(),
        "time": v.time,
        "amount": to_units(v.amount, v.currency),
        "currency": v.currency,
        "type": v.type,
        "method": v.method,
        "notes": v.notes,
        "isReversed": v.is_reversed,
        "isFinal": v.is_final,
        "paidById": v.paid_by,
        "reversedById": v.reversed_by,
        "reason": v.reason,
        "createdAt": iso(v.created_at),
    }


def statement(s: statements.StatementDay) -> dict[str, Any]:
    c = s.currency
    return {
        "id": s.id,
        "date": s.day.isoformat(),
        _ID_FIELD[s.kind]: s.dimension_id,
        "currency": c,
        "totalSales": to_units(s.total_sales, c),
        "totalPayouts": to_units(s.total_payouts, c),
        "totalCommission": to_units(s.total_commission, c),
        "totalPaid": to_units(s.total_paid, c),
        "totalCollected": to_units(s.total_collected, c),
        "balance": to_units(s.balance, c),
        "remainingBalance": to_units(s.remaining_balance, c),
        "isSaldado": s.is_saldado,
    }


def settled(v: settlements.Settled) -> dict[str, Any]:
    return {"payment": payment(v.payment), "statement": statement(v.statement)}
