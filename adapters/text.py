"""Wire text that every database can store: adapters declare string fields with `Text`.

PostgreSQL refuses NUL characters in text columns; without this a `\\u0000` in any field
would fail at the database and answer 500 instead of the protocol's validation error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields


class Text(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        return text
