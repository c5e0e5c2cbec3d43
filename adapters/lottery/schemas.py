"""The lottery's wire format (seed 003, SPEC 9) as marshmallow schemas.

Purchases come from integrators: fields are strictly typed (a string is a string, an
integer never a boolean or a float, a boolean only `true`/`false`) and unknown fields are
ignored, as partners add fields over time. Draw administration is a back-office write:
unknown fields are refused there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from adapters.backoffice.schemas import FullMatch, StrictBoolean
from adapters.text import Text

CENTS = r"0|[1-9][0-9]{0,15}"  # `total_amount`: a string of integer cents, no sign, no 0-pad
DRAW_NUMBER = r"[A-Za-z0-9_-]{1,40}"  # it travels in a path: URL-safe


class StrictInteger(fields.Integer):
    """A JSON integer only (not `true`, not `5.0`, not `"5"`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return int(super()._deserialize(value, attr, data, **kwargs))


def _text(max_length: int) -> Text:
    return Text(
        required=True,
        validate=[
            validate.Length(min=1, max=max_length),
            validate.Regexp(r"\s*\S", error="Must not be blank."),
        ],
    )


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class TicketRequest(_Lenient):
    draw_number = Text(required=True, validate=validate.Length(min=1, max=40))
    combination_count = StrictInteger(required=True)
    rematch = StrictBoolean(required=True)
    second_rematch = StrictBoolean(required=True)
    total_amount = Text(
        required=True,
        validate=FullMatch(CENTS, error='Must be a string of integer cents, e.g. "10000".'),
    )


class Branch(_Lenient):
    name = _text(200)
    street = _text(200)
    city = _text(200)
    neighborhood = _text(200)


class PurchaseRequest(_Lenient):
    payee_id = _text(36)
    payer_reference = _text(100)
    ticket = fields.Nested(TicketRequest, required=True)
    branch = fields.Nested(Branch, required=True)


class DrawInfoQuery(_Lenient):
    payee_id = _text(36)


# --- draw administration (back office) -----------------------------------------------------


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _cents(**kwargs: Any) -> StrictInteger:
    return StrictInteger(validate=validate.Range(min=0), **kwargs)


class PrizeTables(_Strict):
    base = fields.Dict(keys=fields.String(), values=_cents(), load_default=dict)
    rematch = fields.Dict(keys=fields.String(), values=_cents(), load_default=dict)
    second_rematch = fields.Dict(keys=fields.String(), values=_cents(), load_default=dict)


class NewDraw(_Strict):
    payee_id = _text(36)
    draw_number = Text(
        required=True,
        validate=FullMatch(DRAW_NUMBER, error="Must be 1 to 40 letters, digits, '-' or '_'."),
    )
    draw_date = fields.Date(required=True, format="%Y-%m-%d")
    closes_at = fields.AwareDateTime(required=True)
    base_price = _cents(required=True)
    rematch = _cents(required=True)
    second_rematch = _cents(required=True)
    minimum_number_of_boards = StrictInteger(load_default=1)
    maximum_number_of_boards = StrictInteger(load_default=6)
    prizes = fields.Nested(PrizeTables, required=True)


class DrawResults(_Strict):
    numbers = fields.List(StrictInteger(), required=True)


def check(schema: Schema, payload: object) -> dict[str, Any]:
    """Load decoded JSON with `schema`; `ValidationError` names the fields."""
    if not isinstance(payload, dict):
        raise ValidationError({"body": ["Request body must be a JSON object."]})
    return dict(schema.load(payload))
