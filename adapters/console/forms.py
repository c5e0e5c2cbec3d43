"""The console's forms: decoding `application/x-www-form-urlencoded` bodies and validating
them with marshmallow.

Form values arrive as text; amounts are read by `formats.parse_amount` once the currency is
known. Every field is `Text` (no NUL, no lone surrogate), lengths are capped, and fields a
form does not declare are ignored (browsers send only what the page holds). A body that is
not UTF-8 or not a form is a 400 page, never a 500.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from adapters.text import Text
from gateway.core import payouts

MAX_FIELDS = 40
PAY_METHODS = tuple(m for m in payouts.METHODS if m != "system")  # `system`: wallet payouts
ACCOUNT_METHODS = ("cash", "transfer", "check", "other")
MAX_NOTES = 300


class BadForm(ValueError):
    """The body is not a form this service can read."""


def decode(raw: bytes) -> dict[str, str]:
    """The form's fields (the first value of each name)."""
    if not raw:
        return {}
    try:
        text = raw.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm("not a form") from None
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found


class Checkbox(fields.Field):
    """A checkbox: present (any value but empty/false) is True, absent is False."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        return str(value).strip().lower() not in ("", "false", "0", "off")


class _Form(Schema):
    class Meta:
        unknown = EXCLUDE

    csrf = Text(load_default="", validate=validate.Length(max=200))


class Login(_Form):
    username = Text(load_default="", validate=validate.Length(max=100))
    password = Text(load_default="", validate=validate.Length(max=1024))


class Pay(_Form):
    amount = Text(load_default="", validate=validate.Length(max=40))
    method = Text(load_default="cash", validate=validate.OneOf(PAY_METHODS))
    isFinal = Checkbox(load_default=False)
    notes = Text(load_default="", validate=validate.Length(max=MAX_NOTES))
    idempotencyKey = Text(required=True, validate=validate.Length(min=8, max=100))


class Reverse(_Form):
    reason = Text(load_default="", validate=validate.Length(max=300))


class Plain(_Form):
    """A button: only the CSRF token."""


class Settle(_Form):
    dim = Text(required=True, validate=validate.Length(min=3, max=50))
    date = Text(load_default="", validate=validate.Length(max=10))
    time = Text(load_default="", validate=validate.Length(max=5))
    amount = Text(load_default="", validate=validate.Length(max=40))
    type = Text(load_default="payment", validate=validate.OneOf(("payment", "collection")))
    method = Text(load_default="cash", validate=validate.OneOf(ACCOUNT_METHODS))
    notes = Text(load_default="", validate=validate.Length(max=500))
    isFinal = Checkbox(load_default=False)
    idempotencyKey = Text(required=True, validate=validate.Length(min=8, max=100))


def load(schema: Schema, data: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the values, the fields that failed); a failed field keeps what was typed."""
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        problems = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        merged = {**{k: v for k, v in data.items() if isinstance(v, str)}, **valid}
        return merged, dict(problems)
