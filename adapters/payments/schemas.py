"""The registry's wire format for writes and queries, as marshmallow schemas.

Bodies reject unknown fields. Ids of payments, methods and currencies are UUIDs; a ticket id
is the caller's own reference (1 to 100 characters, not blank). `amount` is a JSON number in
currency units (`Amount`: positive, finite, never a string or a float); `translate` turns it
into minor units once the currency is known, refusing more decimals than it has.
"""

from __future__ import annotations

import re

from marshmallow import EXCLUDE, Schema, validate

from adapters.backoffice.schemas import Amount, FullMatch, _Strict
from adapters.text import Text

UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
UUID_PATTERN = re.compile(UUID_RE)
MAX_REFERENCE = 100  # transaction and ticket ids: the width of their columns


def uuid_field() -> Text:
    return Text(required=True, validate=FullMatch(UUID_RE, error="Must be a UUID."))


def reference() -> Text:
    return Text(
        required=True,
        validate=[
            validate.Length(min=1, max=MAX_REFERENCE),
            validate.Regexp(r"\s*\S", error="Must not be blank."),
        ],
    )


class PaymentBody(_Strict):
    """`POST /payments` and `PUT /payments/{id}`: the whole payment, every field required."""

    method_id = uuid_field()
    currency_id = uuid_field()
    transaction_id = reference()
    amount = Amount(required=True)


class LinkBody(_Strict):
    """`POST /payments/ticket-payments`."""

    payment_id = uuid_field()
    ticket_id = reference()


class LinkQuery(Schema):
    """`DELETE /payments/ticket-payments?paymentId=…&ticketId=…` (other parameters ignored)."""

    class Meta:
        unknown = EXCLUDE

    paymentId = uuid_field()
    ticketId = reference()
