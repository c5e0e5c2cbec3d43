"""The bet engine's schemas loaded two ways over one corpus: `FastLoad` accepts exactly what
marshmallow accepts, with the same result, and steps aside for everything else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields, post_load

from adapters.betengine import schemas
from adapters.betengine.resources import _PLACE
from adapters.fastload import FastLoad
from gateway.core.money import MAX_WIRE_MINOR
from gateway.http import jsonbody

TICKET = {
    "operator": "acme",
    "ticket_id": "t-1",
    "ticket_code": "ABC123",
    "player_id": "p-1",
    "price": 500,
    "stake": 444,
    "wht_amount": 240,
    "wht": 10,
    "ext_amount": 56,
    "ext": Decimal("12.5"),
    "ext_type": "inclusive",
    "gross_payout": 2842,
    "net_payout": 2602,
    "currency": "USD",
    "ticket_type": "quickbet",
    "psp": "wallet",
    "atag": "a",
    "rtag": "r",
    "tax": 0,
    "payout": 0,
    "something_new": {"partners": "add fields"},
}

# values that every kind of field is tried with, in place of a valid one
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    MAX_WIRE_MINOR,
    MAX_WIRE_MINOR + 1,
    10**40,
    Decimal("1.5"),
    Decimal("100"),
    Decimal("100.0001"),
    Decimal("-0"),
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("1E+2"),
    Decimal("12.34567890123"),
    "",
    "x",
    "12.5",
    "500",
    "USD",
    "US",
    "inclusive",
    "exclusive",
    "x" * 41,
    "x" * 101,
    "x" * 501,
    "a\x00b",
    "\ud800",
    "ñandú 🎲",
    [],
    ["USD"],
    {},
    {"a": 1},
    b"bytes",
    1.5,
]


def _same(a: Any, b: Any) -> bool:
    """Equal, and equal types (Decimal('10') and 10 are == but not the same result)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and (a == b or (a != a and b != b)) and str(a) == str(b)


def _corpus(valid: dict[str, Any]) -> list[Any]:
    payloads: list[Any] = [valid, {}, None, [], "text", 5, [valid]]
    for key in valid:
        payloads.append({k: v for k, v in valid.items() if k != key})
        payloads.extend({**valid, key: odd} for odd in ODD_VALUES)
    return payloads


SCHEMAS = [
    (schemas.PlaceData(), TICKET),
    (schemas.UpdateData(), TICKET),
    (schemas.TicketData(), TICKET),
    (schemas.IdentifyData(), {"operator": "acme", "token": "tok-1"}),
    (schemas.Envelope(), {"action": "ticket_create", "data": TICKET}),
]


@pytest.mark.parametrize(("schema", "valid"), SCHEMAS, ids=lambda s: type(s).__name__)
def test_fast_load_accepts_exactly_what_the_schema_accepts(schema: Schema, valid: dict) -> None:
    loader = FastLoad(schema)
    accepted = refused = 0
    for payload in _corpus(valid):
        try:
            expected = schema.load(payload)
        except ValidationError as error:
            assert loader.fast(payload) is None, payload
            with pytest.raises(ValidationError) as again:
                loader.load(payload)
            assert again.value.messages == error.messages
            refused += 1
            continue
        fast = loader.fast(payload)
        # a value marshmallow converts (a number as a string) is left to marshmallow
        if fast is not None:
            assert _same(fast, expected), payload
            accepted += 1
        assert _same(loader.load(payload), expected)
    assert accepted >= 10 and refused >= 10  # both sides of the corpus were exercised


def test_every_valid_wire_payload_takes_the_fast_path() -> None:
    """The payloads a bet engine sends (decoded as the server decodes them) never fall back:
    the fast path is really used, not silently disabled."""
    raw = (
        b'{"operator":"acme","ticket_id":"t-9","ticket_code":"T9","player_id":"p","price":500,'
        b'"stake":444,"wht_amount":240,"wht":10,"ext_amount":56,"ext":12.5,'
        b'"ext_type":"inclusive","gross_payout":2842,"net_payout":2602,"currency":"USD",'
        b'"ticket_type":"quickbet"}'
    )
    payload = jsonbody.decode(raw)
    assert _same(_PLACE.fast(payload), schemas.PlaceData().load(payload))
    for schema, valid in SCHEMAS:
        assert FastLoad(schema).fast(valid) is not None


def test_a_schema_it_does_not_know_is_always_loaded_by_marshmallow() -> None:
    class Converting(Schema):
        when = fields.DateTime()

        @post_load
        def wrap(self, data: dict, **_: Any) -> dict:
            return {"wrapped": data}

    loader = FastLoad(Converting())
    assert loader.fast({}) is None
    assert loader.load({}) == {"wrapped": {}}
