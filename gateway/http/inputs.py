"""Refuse request text no database can store, before routing reaches one (SPEC section 0).

PostgreSQL refuses NUL in text, and a lone surrogate (U+D800 to U+DFFF) cannot be encoded as
UTF-8 at all; either one in a path segment or a query parameter used to reach a query and
answer 500. `InputGuard` answers 400 instead, in the error shape of the path's protocol
family (`{"code": 108, …}` for Betstack routes, the back-office envelope for `/api/v1/…`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import falcon

from gateway.http.protocol import Protocols

# NUL and every surrogate code point: text that cannot be stored or encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MESSAGE = "Path and query must not contain NUL or unpaired surrogate characters"


def storable(text: str) -> bool:
    """True when `text` has no NUL and no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def _texts(params: dict[str, object]) -> Iterable[str]:
    for name, value in params.items():
        yield name
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


class InputGuard:
    """Falcon middleware: 400 for a NUL or lone surrogate in the path or the query."""

    def __init__(self, protocols: Protocols) -> None:
        self._protocols = protocols

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        path = req.path
        if storable(path) and all(storable(t) for t in _texts(req.params)):
            return
        # The path itself may be what is unstorable: the family is chosen on its prefix,
        # which NUL cannot change, and nothing from it is echoed back.
        raise self._protocols.error(path, 400, MESSAGE, reason="unstorable_input")
