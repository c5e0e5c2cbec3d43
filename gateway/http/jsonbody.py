"""Request bodies as JSON that every part of pamgate can handle, or `BadJSON`.

One decoder for every protocol. Beyond `json.loads` it refuses what would otherwise fail
deep inside (as a 500) instead of at the edge: nesting deeper than `MAX_DEPTH` (a
RecursionError in any recursive code that touches the value, or 30,000 levels in the
parser itself), lone surrogates in any string or key (`"\\ud800"`: not Unicode, no
database or UTF-8 encoder accepts them) and the non-standard constants `NaN`/`Infinity`.
Numbers with a fraction are `Decimal`, never float. Adapters turn `BadJSON` into their
protocol's validation error.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32  # partners' messages nest 3 or 4 levels; nothing legitimate comes close


SURROGATE = "Must not contain unpaired surrogate characters."


class BadJSON(ValueError):
    """The body is not JSON pamgate accepts; the message says why (safe to show), `path`
    names the field (keys and list indexes from the top; empty: the whole body)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path

    def details(self) -> dict[str | int, Any]:
        """`{"data": {"ticket_id": [message]}}`, nested like marshmallow's errors."""
        node: Any = [str(self)]
        for part in reversed(self.path or ("body",)):
            node = {part: node}
        return dict(node)


def _no_constants(name: str) -> Any:
    raise BadJSON(f"{name} is not a number")


def _check_text(text: str, path: tuple[str | int, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadJSON(SURROGATE, path) from None


def check(value: Any) -> None:
    """Depth and text of a decoded value, walked without recursion."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict | list):
            if len(path) >= MAX_DEPTH:
                raise BadJSON(f"JSON must not nest more than {MAX_DEPTH} levels.")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, path)  # the key itself is unprintable: name its parent
                    stack.append((child, (*path, key)))
            else:
                stack.extend((child, (*path, index)) for index, child in enumerate(item))


def decode(raw: bytes) -> Any:
    """The decoded body; see the module docstring."""
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
    except RecursionError:
        raise BadJSON(f"JSON must not nest more than {MAX_DEPTH} levels.") from None
    except BadJSON:
        raise
    except (ValueError, UnicodeDecodeError):
        raise BadJSON("Request body is not valid JSON.") from None
    if _may_fail_check(raw):
        check(value)
    return value


def _may_fail_check(raw: bytes) -> bool:
    """Whether `check` could refuse what `raw` decoded to; when not, the walk is skipped.

    `json.loads` lets surrogates through both as `\\u` escapes and as bytes (it decodes
    with `surrogatepass`), and a surrogate's bytes are never ASCII in UTF-8, -16 or -32;
    nesting needs an opening bracket per level. So an ASCII body with no backslash and
    fewer than `MAX_DEPTH` brackets passes. Counting bytes only over-counts (a bracket
    inside a string, a byte of another character in UTF-16)."""
    return not raw.isascii() or b"\\" in raw or raw.count(b"{") + raw.count(b"[") >= MAX_DEPTH
