"""Betstack's wire format (seed 004), as marshmallow schemas.

Partners add fields over time, so unknown fields are ignored (the raw message is kept on
the ticket). Money fields are integer cents; `wht` and `ext` are rates, kept as decimals.
Bodies are parsed with `parse_float=Decimal`, so no float ever appears.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema


def cents() -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0), load_default=None)


class Envelope(Schema):
    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True, validate=validate.Length(min=1, max=60))
    data = fields.Dict(load_default=dict)


class IdentifyData(Schema):
    class Meta:
        unknown = EXCLUDE

    operator = fields.String(required=True)
    token = fields.String(required=True, validate=validate.Length(min=1, max=500))


class TicketData(Schema):
    """Fields of every ticket action; which are required depends on the action."""

    class Meta:
        unknown = EXCLUDE

    operator = fields.String(required=True)
    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    ticket_code = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=40))
    player_id = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=500))
    currency = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(equal=3))
    ticket_type = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=30))
    psp = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    atag = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    rtag = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    # current money model (cents) …
    price = cents()
    stake = cents()
    wht_amount = cents()
    ext_amount = cents()
    gross_payout = cents()
    net_payout = cents()
    wht = fields.Decimal(load_default=None, allow_none=True, validate=validate.Range(min=0))
    ext = fields.Decimal(load_default=None, allow_none=True, validate=validate.Range(min=0))
    ext_type = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(["inclusive", "exclusive"]))
    # … and the older one
    tax = cents()
    payout = cents()


class PlaceData(TicketData):
    """`ticket_create` / `ticket_reserve`: the player, currency and stake are required."""

    @validates_schema
    def _required(self, data: dict[str, object], **_: object) -> None:
        missing = {name: ["Missing data for required field."]
                   for name in ("player_id", "currency") if not data.get(name)}
        if data.get("stake") is None and data.get("price") is None:
            missing["price"] = ["Missing data for required field."]
        if missing:
            raise ValidationError(missing)


class UpdateData(TicketData):
    @validates_schema
    def _required(self, data: dict[str, object], **_: object) -> None:
        if data.get("stake") is None and data.get("price") is None:
            raise ValidationError({"price": ["Missing data for required field."]})
