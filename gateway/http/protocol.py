"""What a protocol family is, declared once by its adapter package, and the registry that
`gateway/app.py` builds from those declarations.

A family (Betstack, the back office, later SMS, the payments registry, lottery, …) says:
the route prefixes it answers, how its callers are authenticated (`partner`: a signature
scheme from the partners file; `token`: a back-office JWT; `none`), how its error bodies
look (`error_body(status, code, message)`: every error this service renders for a path of
the family, from a 401 to a 500, takes that shape), how core errors map to its codes
(`from_core`) and which routes it mounts. Adding a family is a new package under
`adapters/` and one line in `app.py`; nothing here or in errors, auth or signatures changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import falcon

from gateway.core.errors import CoreError
from gateway.http.errors import ProtocolError

ErrorBody = Callable[[int, str, str], Mapping[str, Any]]

# Generic errors no adapter raised (falcon's 404/405/413, gunicorn's, 401/403 of the
# authenticator, 500s): the back office's code names, and the message each family may show.
GENERIC: dict[int, tuple[str, str]] = {
    400: ("VALIDATION_ERROR", "Invalid request"),
    401: ("UNAUTHORIZED", "Missing, invalid or expired token"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    408: ("REQUEST_TIMEOUT", "Request not received in time"),
    413: ("PAYLOAD_TOO_LARGE", "Request body exceeds the size limit"),
    414: ("URI_TOO_LONG", "Request line too long"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    417: ("EXPECTATION_FAILED", "Expectation failed"),
    431: ("HEADERS_TOO_LARGE", "Request header fields too large"),
    500: ("internal_error", "Internal server error"),
    501: ("NOT_IMPLEMENTED", "Not implemented"),
    503: ("SERVICE_UNAVAILABLE", "The database is busy or unreachable; retry shortly"),
}


@dataclass(frozen=True)
class Protocol:
    name: str
    prefixes: tuple[str, ...]  # "" for the default family (whatever no other claims)
    caller: str  # "partner" | "token" | "none"
    error_body: ErrorBody
    from_core: Callable[[CoreError], Exception]
    mount: Callable[[falcon.App, Any], None]  # (app, services)
    # its operations for the OpenAPI document (`gateway.http.openapi.ApiDoc`): every route
    # it mounts must be declared there (a test compares the document with the router)
    api: Any = None
    # A family that answers people, not programs, renders every error as a page:
    # `error_page(req, resp, status, body)` is the HTML of `body` (it may set headers on
    # `resp`); None: the body as JSON.
    error_page: Callable[[falcon.Request, falcon.Response, int, Mapping[str, Any]], str] | None = (
        None
    )

    def __post_init__(self) -> None:
        if self.caller not in ("partner", "token", "none"):
            raise ValueError(f"protocol {self.name!r}: unknown caller kind {self.caller!r}")


class Protocols:
    """The families of this service, found by path (longest matching prefix)."""

    def __init__(self, protocols: Sequence[Protocol]) -> None:
        defaults = [p for p in protocols if "" in p.prefixes]
        if len(defaults) != 1:
            raise ValueError('exactly one protocol must be the default (prefix "")')
        self._default = defaults[0]
        self._all = tuple(protocols)
        routes = [(prefix, p) for p in protocols for prefix in p.prefixes if prefix]
        seen = [prefix for prefix, _ in routes]
        if len(set(seen)) != len(seen):
            raise ValueError("two protocols claim the same route prefix")
        self._routes = sorted(routes, key=lambda item: len(item[0]), reverse=True)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._all)

    def for_path(self, path: str) -> Protocol:
        for prefix, protocol in self._routes:
            if path == prefix or path.startswith(prefix + "/"):
                return protocol
        return self._default

    def body(
        self, path: str, status: int, message: str | None = None, code: str | None = None
    ) -> dict[str, Any]:
        """The body of a generic error of `status` for `path`, in its family's shape."""
        default_code, default_message = GENERIC.get(status, ("ERROR", "Request failed"))
        return dict(
            self.for_path(path).error_body(status, code or default_code, message or default_message)
        )

    def error(
        self,
        path: str,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        reason: str | None = None,
    ) -> ProtocolError:
        return ProtocolError(status, self.body(path, status, message, code), reason=reason)
