"""Betstack's wire format (seed 004), as marshmallow schemas.

Partners add fields over time, so unknown fields are ignored (the raw message is kept on
the ticket). Money fields are integer cents; `wht` and `ext` are rates, kept as decimals.
Bodies are parsed with `parse_float=Decimal`, so no float ever appears.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from adapters.text import Text
from gateway.core.money import MAX_WIRE_MINOR


def cents() -> fields.Integer:
    return fields.Integer(
        strict=True, validate=validate.Range(min=0, max=MAX_WIRE_MINOR), load_default=None
    )


def rate() -> fields.Decimal:
    """A percentage such as `wht` 10 or `ext` 12.5: kept as written, never money."""
    return fields.Decimal(
        load_default=None, allow_none=True, validate=[validate.Range(min=0, max=100), _digits(12)]
    )


def _digits(limit: int) -> validate.Validator:
    def check(value: object) -> bool:
        if len(str(value)) > limit:
            raise ValidationError(f"At most {limit} characters.")
        return True

    return check  # type: ignore[return-value]


class Envelope(Schema):
    class Meta:
        unknown = EXCLUDE

    action = Text(required=True, validate=validate.Length(min=1, max=60))
    data = fields.Dict(load_default=dict)


class IdentifyData(Schema):
    class Meta:
        unknown = EXCLUDE

    operator = Text(required=True)
    token = Text(required=True, validate=validate.Length(min=1, max=500))


class TicketData(Schema):
    """Fields of every ticket action; which are required depends on the action."""

    class Meta:
        unknown = EXCLUDE

    operator = Text(required=True)
    ticket_id = Text(required=True, validate=validate.Length(min=1, max=100))
    ticket_code = Text(load_default=None, allow_none=True, validate=validate.Length(max=40))
    player_id = Text(load_default=None, allow_none=True, validate=validate.Length(max=500))
    currency = Text(load_default=None, allow_none=True, validate=validate.Length(equal=3))
    ticket_type = Text(load_default=None, allow_none=True, validate=validate.Length(max=30))
    psp = Text(load_default=None, allow_none=True, validate=validate.Length(max=40))
    atag = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    rtag = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    # current money model (cents) …
    price = cents()
    stake = cents()
    wht_amount = cents()
    ext_amount = cents()
    gross_payout = cents()
    net_payout = cents()
    wht = rate()
    ext = rate()
    ext_type = Text(
        load_default=None, allow_none=True, validate=validate.OneOf(["inclusive", "exclusive"])
    )
    # … and the older one
    tax = cents()
    payout = cents()


class PlaceData(TicketData):
    """`ticket_create` / `ticket_reserve`: the player, currency and stake are required."""

    @validates_schema
    def _required(self, data: dict[str, object], **_: object) -> None:
        missing = {
            name: ["Missing data for required field."]
            for name in ("player_id", "currency")
            if not data.get(name)
        }
        if data.get("stake") is None and data.get("price") is None:
            missing["price"] = ["Missing data for required field."]
        if missing:
            raise ValidationError(missing)


class UpdateData(TicketData):
    @validates_schema
    def _required(self, data: dict[str, object], **_: object) -> None:
        if data.get("stake") is None and data.get("price") is None:
            raise ValidationError({"price": ["Missing data for required field."]})
