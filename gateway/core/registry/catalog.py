"""The registry's catalogue: payment methods and currencies, seeded by migration 9 and never
changed through the API. Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.errors import Invalid, NotFound
from gateway.store.models import PaymentCurrency, PaymentMethod


class MethodNotFound(NotFound):
    code = "payment_method_not_found"


class CurrencyNotFound(NotFound):
    code = "currency_not_found"


class UnknownMethod(Invalid):
    """A payment names a method that does not exist (a validation error, not a 404)."""

    code = "unknown_payment_method"


class UnknownCurrency(Invalid):
    code = "unknown_currency"


@dataclass(frozen=True)
class MethodView:
    id: str
    name: str


@dataclass(frozen=True)
class CurrencyView:
    id: str
    acronym: str


def list_methods() -> list[MethodView]:
    rows = PaymentMethod.select().order_by(PaymentMethod.created_at, PaymentMethod.id)
    return [MethodView(m.id, m.name) for m in rows]


def get_method(method_id: str) -> MethodView:
    row = PaymentMethod.get_or_none(PaymentMethod.id == method_id)
    if row is None:
        raise MethodNotFound("payment method not found", method=method_id)
    return MethodView(row.id, row.name)


def list_currencies() -> list[CurrencyView]:
    rows = PaymentCurrency.select().order_by(PaymentCurrency.created_at, PaymentCurrency.id)
    return [CurrencyView(c.id, c.acronym) for c in rows]


def get_currency(currency_id: str) -> CurrencyView:
    row = PaymentCurrency.get_or_none(PaymentCurrency.id == currency_id)
    if row is None:
        raise CurrencyNotFound("currency not found", currency=currency_id)
    return CurrencyView(row.id, row.acronym)


def method(method_id: str) -> PaymentMethod:
    """The method a payment names, or `UnknownMethod` (field `method_id`)."""
    row = PaymentMethod.get_or_none(PaymentMethod.id == method_id)
    if row is None:
        raise UnknownMethod("no payment method has this id", field="method_id")
    return row


def currency(currency_id: str) -> PaymentCurrency:
    """The currency a payment names, or `UnknownCurrency` (field `currency_id`)."""
    row = PaymentCurrency.get_or_none(PaymentCurrency.id == currency_id)
    if row is None:
        raise UnknownCurrency("no currency has this id", field="currency_id")
    return row


def acronym_of(currency_id: str) -> str:
    """The acronym (`BTC`) of a payment's currency: the wire amount is in its units."""
    return str(currency(currency_id).acronym)
