"""Errors on the wire: one shape per protocol family, chosen by the request path.

Adapters raise `ProtocolError` with the exact body their protocol documents. Everything
else is rendered here in the shape of the family the path belongs to (the registry of
`gateway/http/protocol.py`): falcon's own 404/405/413, a core error an adapter did not
translate (the family's `from_core`), the database busy or unreachable (503 with
`Retry-After`: the pool had no connection in time, the server refused or dropped the
connection), an unexpected exception (500, `internal_error`). So a
Betstack client never sees a back-office error body and no client sees a stack trace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import falcon
from peewee import InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded

from gateway.core.errors import CoreError
from gateway.logs import get_logger

if TYPE_CHECKING:
    from gateway.http.protocol import Protocols

log = get_logger("pamgate.http")


class ProtocolError(Exception):
    """An error with its exact wire body, raised by adapters (and auth)."""

    def __init__(self, status: int, body: Mapping[str, Any], *, reason: str | None = None) -> None:
        super().__init__(reason or str(body))
        self.status = status
        self.body = dict(body)
        self.reason = reason


def install(app: falcon.App, protocols: Protocols) -> None:
    def _write(
        req: falcon.Request, resp: falcon.Response, status: int, body: Mapping[str, Any]
    ) -> None:
        resp.status = status
        page = protocols.for_path(req.path or "").error_page
        if page is not None:
            resp.content_type = falcon.MEDIA_HTML
            resp.text = page(req, resp, status, body)
            return
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    def protocol_error(
        req: falcon.Request, resp: falcon.Response, ex: ProtocolError, params: Any
    ) -> None:
        req.context.error_reason = ex.reason
        _write(req, resp, ex.status, ex.body)

    def http_error(
        req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
    ) -> None:
        status = int(ex.status_code)
        message = ex.title if status not in (404, 405, 500) else None
        _write(req, resp, status, protocols.body(req.path, status, message))
        for name, value in (ex.headers or {}).items():
            resp.set_header(name, value)

    def core_error(req: falcon.Request, resp: falcon.Response, ex: CoreError, params: Any) -> None:
        translated = protocols.for_path(req.path).from_core(ex)
        if not isinstance(translated, ProtocolError):  # pragma: no cover - adapters' contract
            raise TypeError("from_core must return a ProtocolError")
        protocol_error(req, resp, translated, params)

    def database_unavailable(
        req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
    ) -> None:
        # the pool had no connection free in time, or the database could not be reached or
        # dropped the connection: the request's transaction did not commit (or its outcome
        # is unknown, which a retry under the same idempotency key settles)
        log.warning("database_unavailable", path=req.path, method=req.method, error=str(ex)[:200])
        req.context.error_reason = "database_unavailable"
        _write(req, resp, 503, protocols.body(req.path, 503))
        resp.set_header("Retry-After", "1")

    def unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
        log.error("unhandled_exception", path=req.path, method=req.method, exc_info=ex)
        _write(req, resp, 500, protocols.body(req.path, 500))

    app.add_error_handler(Exception, unexpected)
    for unavailable in (MaxConnectionsExceeded, OperationalError, InterfaceError):
        app.add_error_handler(unavailable, database_unavailable)
    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(CoreError, core_error)
    app.add_error_handler(ProtocolError, protocol_error)
