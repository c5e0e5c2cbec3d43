"""`Schema.load` for the payloads that pass, without marshmallow's per-field machinery.

The marshmallow schemas stay the contract (and what the OpenAPI document is built from):
`FastLoad(schema)` reads the schema's own fields (types, `data_key`, required,
`allow_none`, `load_default`, validators) and its `validates_schema` methods once, and
loads a payload by plain dictionary work. It only ever accepts: whenever a value is not
exactly what the field takes as it is (a wrong type, a string that needs converting, a
failed validator, anything it does not know), it steps aside and `load` runs the schema,
which refuses with its usual messages. A schema using anything else (other field types,
pre/post-load hooks, unknown fields kept or refused) is always loaded by marshmallow.
Tests run both over one corpus of valid and invalid payloads.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing

from adapters.text import _SURROGATE, Text

_Check = Callable[[Any], Any]  # the loaded value, or _REFUSE
_REFUSE = object()


def _validated(check: _Check, validators: list[Any]) -> _Check:
    if not validators:
        return check

    def run(value: Any) -> Any:
        loaded = check(value)
        if loaded is _REFUSE:
            return _REFUSE
        try:
            for validator in validators:
                if validator(loaded) is False:
                    return _REFUSE
        except ValidationError:
            return _REFUSE
        return loaded

    return run


def _text(value: Any) -> Any:
    if type(value) is not str or "\x00" in value or _SURROGATE.search(value):
        return _REFUSE
    return value


def _string(value: Any) -> Any:
    return value if type(value) is str else _REFUSE


def _integer(value: Any) -> Any:
    return value if type(value) is int else _REFUSE  # bool is not int here, as in the schema


def _decimal(value: Any) -> Any:
    if type(value) is not int and type(value) is not decimal.Decimal:
        return _REFUSE
    number = decimal.Decimal(str(value))
    return number if number.is_finite() else _REFUSE


def _dict(value: Any) -> Any:
    return dict(value) if type(value) is dict else _REFUSE


def _check_of(field: fields.Field) -> _Check | None:
    """The field's loader, or None when this module does not know the field exactly."""
    kind = type(field)
    if kind is Text:
        check: _Check = _text
    elif kind is fields.String:
        check = _string
    elif kind is fields.Integer and isinstance(field, fields.Integer) and field.strict:
        check = _integer
    elif (
        kind is fields.Decimal
        and isinstance(field, fields.Decimal)
        and field.places is None
        and not field.as_string
        and not field.allow_nan
    ):
        check = _decimal
    elif (
        kind is fields.Dict
        and isinstance(field, fields.Dict)
        and field.key_field is None
        and field.value_field is None
    ):
        check = _dict
    else:
        return None
    return _validated(check, list(field.validators))


class FastLoad:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._fields = self._compile(schema)
        self._checks = self._schema_checks(schema)

    @staticmethod
    def _compile(schema: Schema) -> list[tuple[str, str, _Check, bool, bool, Any]] | None:
        if schema.unknown != EXCLUDE or schema.many or schema.partial:
            return None
        compiled = []
        for name, field in schema.load_fields.items():
            check = _check_of(field)
            if check is None or field.attribute not in (None, name):
                return None
            key = field.data_key if field.data_key is not None else name
            compiled.append(
                (key, name, check, bool(field.required), bool(field.allow_none), field.load_default)
            )
        return compiled

    @staticmethod
    def _schema_checks(schema: Schema) -> list[Callable[..., Any]] | None:
        hooks = getattr(schema, "_hooks", None)
        if not isinstance(hooks, dict) or set(k for k, v in hooks.items() if v) - {
            "validates_schema"
        }:
            return None
        checks = []
        for entry in hooks.get("validates_schema", ()):
            try:
                attr, pass_many, options = entry
            except (TypeError, ValueError):
                return None
            if pass_many or options.get("pass_original"):
                return None
            checks.append(getattr(schema, attr))
        return checks

    def fast(self, data: Any) -> dict[str, Any] | None:
        """The loaded payload, or None: then only the schema can say (and it may refuse)."""
        if self._fields is None or self._checks is None or type(data) is not dict:
            return None
        out: dict[str, Any] = {}
        for key, name, check, required, allow_none, default in self._fields:
            if key not in data:
                if required:
                    return None
                if default is not missing:
                    out[name] = default() if callable(default) else default
                continue
            value = data[key]
            if value is None:
                if not allow_none:
                    return None
                out[name] = None
                continue
            loaded = check(value)
            if loaded is _REFUSE:
                return None
            out[name] = loaded
        try:
            for validate in self._checks:
                validate(out, partial=None, many=False, unknown=self.schema.unknown)
        except ValidationError:
            return None
        return out

    def load(self, data: Any) -> Any:
        """`schema.load(data)`: the same result, or the same `ValidationError`."""
        loaded = self.fast(data)
        return loaded if loaded is not None else self.schema.load(data)
