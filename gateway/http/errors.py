"""Errors on the wire: one shape per protocol family, chosen by the request path.

Adapters raise `ProtocolError` with the exact body their protocol documents. Anything else
(falcon's own 404/405/413, an unexpected exception) is rendered here in the shape of the
family the path belongs to, so a Betstack client never sees a back-office error body and
no client ever sees a stack trace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import falcon

from gateway.logs import get_logger

log = get_logger("pamgate.http")

BETSTACK = "betstack"
BACKOFFICE = "backoffice"
PAYMENTS = "payments"
LOTTERY = "lottery"

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/pam", BETSTACK),
    ("/be", BETSTACK),
    ("/sms", BETSTACK),
    ("/payments", PAYMENTS),
    ("/api/v1/lottery_tickets", LOTTERY),
)


def family_for(path: str) -> str:
    """The protocol family whose error shape answers for `path`."""
    for prefix, family in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return family
    return BACKOFFICE


class ProtocolError(Exception):
    """An error with its exact wire body, raised by adapters (and auth)."""

    def __init__(self, status: int, body: Mapping[str, Any], *, reason: str | None = None) -> None:
        super().__init__(reason or str(body))
        self.status = status
        self.body = dict(body)
        self.reason = reason


# Generic HTTP errors (not produced by an adapter) per family: (code, message).
_GENERIC: dict[int, tuple[str, str]] = {
    400: ("VALIDATION_ERROR", "Invalid request"),
    401: ("UNAUTHORIZED", "Authentication required"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    408: ("REQUEST_TIMEOUT", "Request not received in time"),
    413: ("PAYLOAD_TOO_LARGE", "Request body exceeds the size limit"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    500: ("internal_error", "Internal server error"),
}


def generic_body(family: str, status: int, message: str | None = None) -> dict[str, Any]:
    code, default_message = _GENERIC.get(status, ("ERROR", "Request failed"))
    text = message or default_message
    if family == BETSTACK:
        if status == 500:
            return {"code": "internal_error", "message": text}
        if status == 403:
            return {"code": 109, "message": "Invalid signature"}
        return {"code": 108, "message": text}
    if family == PAYMENTS:
        body: dict[str, Any] = {"error": text}
        if status == 500:
            body["code"] = "internal_error"
        return body
    if family == LOTTERY:
        if status == 401:
            return {"errors": ["Access denied"]}
        body = {"error": text}
        if status == 500:
            body["code"] = "internal_error"
        return body
    return {"success": False, "error": {"code": code, "message": text}}


def _write(resp: falcon.Response, status: int, body: Mapping[str, Any]) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def handle_protocol_error(
    req: falcon.Request, resp: falcon.Response, ex: ProtocolError, params: Any
) -> None:
    req.context.error_reason = ex.reason
    _write(resp, ex.status, ex.body)


def handle_http_error(
    req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
) -> None:
    status = int(ex.status_code)
    message = ex.title if status not in (404, 405, 500) else None
    _write(resp, status, generic_body(family_for(req.path), status, message))
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
) -> None:
    log.error("unhandled_exception", path=req.path, method=req.method, exc_info=ex)
    _write(resp, 500, generic_body(family_for(req.path), 500))


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(ProtocolError, handle_protocol_error)
