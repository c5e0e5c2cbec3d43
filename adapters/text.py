"""Wire text that every database can store: adapters declare string fields with `Text`.

PostgreSQL refuses NUL characters in text columns, and a lone surrogate (`"\\ud800"` in JSON
decodes to one) cannot be encoded as UTF-8 for any database; without this either one in any
field would fail at the database and answer 500 instead of the protocol's validation error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields

_SURROGATE = re.compile("[\ud800-\udfff]")


class Text(fields.String):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        if _SURROGATE.search(text):
            raise ValidationError("Must not contain unpaired surrogate characters.")
        return text
