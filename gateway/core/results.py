"""What commands return: frozen dataclasses, kept versioned in the idempotency store.

A result type is registered with `@result` under a stable name and a `VERSION`. `dump`
writes `{"type", "v", "data"}`; `load` rebuilds the dataclass, upgrading older versions
through the type's `upgrade(data, version)` when it has one. So a replay after an upgrade
gives the adapter the same value to render, and the adapter answers the same bytes.
Results carry no HTTP status and no wire names: adapters render them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, TypeVar

T = TypeVar("T")

_TYPES: dict[str, type] = {}


def result(cls: type[T]) -> type[T]:
    """Register a frozen dataclass as a command result (its name is stored: keep it)."""
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} must be a frozen dataclass")
    if cls.__name__ in _TYPES and _TYPES[cls.__name__] is not cls:
        raise TypeError(f"two result types are named {cls.__name__}")
    _TYPES[cls.__name__] = cls
    return cls


def dump(value: Any) -> str:
    if value is None:
        return json.dumps({"type": None, "v": 1, "data": None})
    cls = type(value)
    if _TYPES.get(cls.__name__) is not cls:
        raise TypeError(f"{cls.__name__} is not a registered result type")
    return json.dumps(_tagged(value), separators=(",", ":"))


def _tagged(value: Any) -> dict[str, Any]:
    cls = type(value)
    data = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return {"type": cls.__name__, "v": getattr(cls, "VERSION", 1), "data": data}


def _encode(value: Any) -> Any:
    """JSON for a field: datetimes, dates and nested results tagged so they come back as
    themselves."""
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if dataclasses.is_dataclass(value) and _TYPES.get(type(value).__name__) is type(value):
        return {"$result": _tagged(value)}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$datetime"}:
        return dt.datetime.fromisoformat(value["$datetime"])
    if isinstance(value, dict) and set(value) == {"$date"}:
        return dt.date.fromisoformat(value["$date"])
    if isinstance(value, dict) and set(value) == {"$result"}:
        return _rebuild(value["$result"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def load(text: str) -> Any:
    stored = json.loads(text)
    if stored.get("type") is None:
        return None
    return _rebuild(stored)


def _rebuild(stored: dict[str, Any]) -> Any:
    cls = _TYPES[stored["type"]]
    data = {name: _decode(value) for name, value in stored["data"].items()}
    version = stored.get("v", 1)
    if version != getattr(cls, "VERSION", 1):
        data = cls.upgrade(data, version)  # type: ignore[attr-defined]
    return cls(**data)
