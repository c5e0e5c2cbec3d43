"""Request middleware, in the order they run.

1. `RequestContext`: request id (echo a valid `X-Request-Id` or make a UUID) and the
   request's span (joining the trace of a valid W3C `traceparent`, else a new trace; see
   `gateway.tracing`), bound into every log line; one access-log line and the request
   metrics at the end.
2. `BodyLimit`: refuses bodies over the limit with 413 before anything else looks at them
   (declared with `Content-Length` or sent chunked), answers 408 to a body that does not
   arrive in time, and keeps the raw bytes in `req.context.raw_body` (signatures are
   checked over them).
3. `DatabaseSession`: the connection a request used goes back to the pool at its end.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import falcon
import structlog
from peewee import Database
from playhouse.pool import PooledDatabase

from gateway import tracing
from gateway.http.metrics import Metrics
from gateway.logs import get_logger

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,64}$")

log = get_logger("pamgate.http")


class RequestContext:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        incoming = req.get_header(REQUEST_ID_HEADER) or ""
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else str(uuid.uuid4())
        req.context.request_id = request_id
        req.context.started = time.perf_counter()
        req.context.partner = None
        req.context.error_reason = None
        span = tracing.start(
            f"{req.method} {req.path}",
            tracing.parse(req.get_header(tracing.HEADER)),
            kind="server",
        )
        req.context.span = span
        tracing.enter(span.context)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id, trace_id=span.context.trace_id, span_id=span.context.span_id
        )
        resp.set_header(REQUEST_ID_HEADER, request_id)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        request_id = getattr(req.context, "request_id", None) or str(uuid.uuid4())
        resp.set_header(REQUEST_ID_HEADER, request_id)
        started = getattr(req.context, "started", None)
        elapsed = time.perf_counter() - started if started is not None else 0.0
        route = req.uri_template or "unmatched"
        status = resp.status_code
        self._metrics.requests.labels(req.method, route, str(status)).inc()
        self._metrics.latency.labels(req.method, route).observe(elapsed)
        fields: dict[str, Any] = {
            "method": req.method,
            "route": route,
            "path": req.path,
            "status": status,
            "latency_ms": round(elapsed * 1000, 2),
        }
        partner = getattr(req.context, "partner", None)
        if partner:
            fields["partner"] = partner
        reason = getattr(req.context, "error_reason", None)
        if reason:
            fields["reason"] = reason
        log.info("http_request", **fields)
        span = getattr(req.context, "span", None)
        if span is not None:
            span.rename(f"{req.method} {route}")  # low cardinality: the template, not the path
            span.set(
                **{
                    "http.route": route,
                    "http.status_code": status,
                    "pamgate.request_id": request_id,
                }
            )
            span.end()
        tracing.enter(None)
        structlog.contextvars.clear_contextvars()


class ReadTimeout(Exception):
    """The client did not send its request (headers or body) within the read deadline.

    Raised by the server's socket reads (`gateway.cli`'s worker); `BodyLimit` turns it into
    a 408 when it happens while the body is read."""


class BodyLimit:
    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        length = req.content_length
        if length is not None and length > self._max:
            raise falcon.HTTPContentTooLarge(title="Request body exceeds the size limit")
        chunked = length is None and "chunked" in (req.get_header("Transfer-Encoding") or "")
        if not length and not chunked:
            req.context.raw_body = b""
            return
        # A chunked body has no length: the server hands it over de-chunked, up to its end.
        stream = req.stream if chunked else req.bounded_stream
        try:
            data = stream.read(self._max + 1)
        except (ReadTimeout, TimeoutError):
            raise falcon.HTTPError(
                falcon.HTTP_408,
                title="Request body not received in time",
                headers={"Connection": "close"},
            ) from None
        except Exception:  # the server could not decode it (e.g. broken chunk framing)
            sock = req.env.get("gunicorn.socket")
            if hasattr(sock, "abandon"):
                sock.abandon()  # the rest of the connection is garbage: close after answering
            raise falcon.HTTPBadRequest(title="Malformed request body") from None
        if len(data) > self._max:
            raise falcon.HTTPContentTooLarge(title="Request body exceeds the size limit")
        req.context.raw_body = data


class DatabaseSession:
    """Pooled databases (PostgreSQL) lend a connection per request and take it back after;
    SQLite keeps one connection per worker thread open (opening one costs pragmas and
    closing the last one checkpoints the WAL).

    Nothing connects up front: the first query connects (peewee's `autoconnect`), so routes
    that never touch the database (`/healthz`, `/metrics`, the published keys) answer
    while it is down, and `/readyz` reports it instead of failing."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pooled = isinstance(db, PooledDatabase)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        if self._pooled and not self._db.is_closed():
            self._db.close()
