"""The bet engine's SMS notifications (seed 004), as marshmallow schemas.

`{"type", "data"}`; `otp` data `{code, msisdn}`, `ticket_status` data `{ticket_id, status,
result}`. Unknown fields are ignored (partners add fields over time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from adapters.text import Text

CODE = re.compile(r"[A-Za-z0-9]{3,12}")
MSISDN = re.compile(r"\+?[1-9][0-9]{7,14}")


class Code(fields.Field):
    """A one-time code, sent as a string or an integer; 3-12 letters or digits."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("Must be a string of 3 to 12 letters or digits.")
        text = str(value)
        if not CODE.fullmatch(text):
            raise ValidationError("Must be a string of 3 to 12 letters or digits.")
        return text


class Envelope(Schema):
    class Meta:
        unknown = EXCLUDE

    type = Text(required=True, validate=validate.Length(min=1, max=60))
    data = fields.Dict(load_default=dict)


class OtpData(Schema):
    class Meta:
        unknown = EXCLUDE

    code = Code(required=True)
    msisdn = Text(
        required=True,
        validate=validate.Regexp(MSISDN, error="Must be an international phone number."),
    )


class TicketStatusData(Schema):
    class Meta:
        unknown = EXCLUDE

    ticket_id = Text(required=True, validate=validate.Length(min=1, max=100))
    status = Text(required=True, validate=validate.OneOf(("open", "resulted")))
    result = Text(required=True, validate=validate.OneOf(("pending", "won", "lost", "void")))
