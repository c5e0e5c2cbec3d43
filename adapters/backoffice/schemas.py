"""The back office's wire format for writes, as marshmallow schemas.

Back-office writes reject unknown fields (`unknown = RAISE`). Bodies are decoded with
`parse_float=Decimal`, so an amount arrives as `int` or `Decimal` and is kept exact; the
`Amount` field checks what it can without the currency (a positive, finite number), and
`translate` converts it to minor units once the currency is known. Never a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from adapters.text import Text
from gateway.core.money import CURRENCIES

CASH_METHODS = ("cash", "transfer", "check", "other", "system")
LANGS = ("es", "en")
MAX_DECIMALS = max(CURRENCIES.values())
# A coarse magnitude guard before any conversion (`1e400` must not become a 400-digit int);
# the exact per-movement limit, in minor units, is `translate.MAX_MINOR`.
MAX_UNITS = 10**15


class Amount(fields.Field):
    """A JSON number in currency units (`50000`, `45.50`): `int` or `Decimal`, never a
    string, boolean or float; finite, greater than zero, below `MAX_UNITS`, at most
    `MAX_DECIMALS` decimals."""

    default_error_messages = {
        "invalid": "Not a valid number.",
        "positive": "Must be greater than 0.",
        "precision": f"Must have at most {MAX_DECIMALS} decimals.",
        "too_large": f"Must be less than {MAX_UNITS}.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.make_error("invalid")
        amount = Decimal(value)
        if not amount.is_finite():
            raise self.make_error("invalid")
        if amount <= 0:
            raise self.make_error("positive")
        if amount >= MAX_UNITS:
            raise self.make_error("too_large")
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
            raise self.make_error("precision")
        return amount


class StrictBoolean(fields.Boolean):
    """`true` or `false` only (marshmallow's Boolean also takes `1`, `"yes"`, …)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class FullMatch(validate.Regexp):
    """A `Regexp` the whole value must match: marshmallow's uses `re.match`, whose `$`
    also matches before a trailing newline (`"+50688887777\\n"` would pass)."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def _name() -> fields.String:
    return Text(
        required=True,
        validate=[
            validate.Length(min=1, max=200),
            validate.Regexp(r"\s*\S", error="Must not be blank."),
        ],
    )


def _id(*, required: bool = True) -> fields.String:
    if required:
        return Text(required=True, validate=validate.Length(min=1, max=36))
    return Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))


def _commission() -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10000))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class NewBanca(_Strict):
    name = _name()
    currency = Text(load_default="MXN", validate=validate.OneOf(sorted(CURRENCIES)))


class NewVentana(_Strict):
    bancaId = _id()
    name = _name()
    commissionBps = _commission()


class NewVendedor(_Strict):
    ventanaId = _id()
    name = _name()
    commissionBps = _commission()


class NewPlayer(_Strict):
    operator = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    externalId = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    msisdn = Text(
        required=True,
        validate=FullMatch(
            r"\+[1-9][0-9]{7,14}", error="Must be a phone number: + and 8 to 15 digits."
        ),
    )
    lang = Text(required=True, validate=validate.OneOf(LANGS))
    currency = Text(required=True, validate=validate.OneOf(sorted(CURRENCIES)))
    ventanaId = _id(required=False)


class NewToken(_Strict):
    """`POST /players/{id}/tokens` takes no fields; a body, if any, must be `{}`."""


class CashMovement(_Strict):
    amount = Amount(required=True)
    method = Text(load_default="cash", validate=validate.OneOf(CASH_METHODS))
    idempotencyKey = Text(required=True, validate=validate.Length(min=8, max=100))
    ventanaId = _id(required=False)


class PlayerPatch(_Strict):
    blocked = StrictBoolean(required=True)


def check(schema: Schema, payload: object) -> dict[str, Any]:
    """Load `payload` (decoded JSON) with `schema`; ValidationError lists fields."""
    if not isinstance(payload, dict):
        raise ValidationError({"body": ["Request body must be a JSON object."]})
    return schema.load(payload)
