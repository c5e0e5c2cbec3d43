"""W3C Trace Context: one trace from a partner's call to the message pamgate sends for it.

A request may carry a `traceparent` header (`00-<trace id>-<parent span id>-<flags>`); when
it is well formed, the request's own span joins that trace, otherwise the request starts a
new one. The request's span is the *current* span (a context variable, like the log context,
set by the request middleware and cleared at its end): the log lines of the request carry
`trace_id` and `span_id` next to `request_id`, and outbox messages the request queues keep
its `traceparent`. The dispatcher later sends each delivery attempt in a span of its own,
a child of the request's span: same trace id, new span id.

OpenTelemetry is optional. When its SDK is importable and a tracer provider is configured,
spans are started through it (so they are exported with the trace id and parent given
here); otherwise span ids are drawn here and nothing is exported.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

HEADER = "traceparent"
# version 00 is exactly this; later versions may append fields after a dash
_TRACEPARENT = re.compile(
    r"^(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?$"
)
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
SAMPLED = 0x01


@dataclass(frozen=True)
class SpanContext:
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    flags: int = SAMPLED

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def parse(header: str | None) -> SpanContext | None:
    """The span context of a `traceparent` header, or None when it is missing or malformed
    (wrong length or case, version `ff`, an all-zero trace or span id, extra fields on
    version 00)."""
    if not header or len(header) > 512:
        return None
    match = _TRACEPARENT.match(header.strip())
    if match is None:
        return None
    version, rest = match["version"], match["rest"]
    if version == "ff" or (version == "00" and rest):
        return None
    if match["trace"] == _ZERO_TRACE or match["span"] == _ZERO_SPAN:
        return None
    return SpanContext(match["trace"], match["span"], int(match["flags"], 16))


def new_trace_id() -> str:
    while True:
        value = secrets.token_hex(16)
        if value != _ZERO_TRACE:
            return value


def new_span_id() -> str:
    while True:
        value = secrets.token_hex(8)
        if value != _ZERO_SPAN:
            return value


def root_of(message_id: str) -> SpanContext:
    """The parent span of the deliveries of a message queued outside any request: a trace of
    its own, the message id's hex digits when it is a UUID, so every attempt of the message
    shares one trace id that names it."""
    try:
        trace_id = uuid.UUID(message_id).hex
    except ValueError:
        trace_id = hashlib.sha256(message_id.encode()).hexdigest()[:32]
    span_id = hashlib.sha256(("span:" + message_id).encode()).hexdigest()[:16]
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:  # pragma: no cover - odds of 2**-64
        return SpanContext(new_trace_id(), new_span_id())
    return SpanContext(trace_id, span_id)


# --- spans ----------------------------------------------------------------------------------


class Span:
    """A span in progress: its context (ids to propagate) and, with OpenTelemetry, the
    SDK's span, ended by `end`."""

    def __init__(self, context: SpanContext, otel: Any = None) -> None:
        self.context = context
        self._otel = otel

    def rename(self, name: str) -> None:
        """A better name once known (a request's route template instead of its path)."""
        if self._otel is not None:
            self._otel.update_name(name)

    def set(self, **attributes: object) -> None:
        if self._otel is not None:
            for name, value in attributes.items():
                self._otel.set_attribute(name, value)

    def end(self) -> None:
        if self._otel is not None:
            self._otel.end()
            self._otel = None


_UNKNOWN = object()
_sdk: Any = _UNKNOWN  # (opentelemetry.trace, TracerProvider) once looked up, None without


def _otel_tracer() -> Any:
    """OpenTelemetry's tracer when the SDK is importable and a tracer provider is set up
    (the API alone, or its no-op provider, exports nothing), else None. The import is tried
    once per process (a failed import is not cached by Python, and this runs per request)."""
    global _sdk
    if _sdk is _UNKNOWN:
        try:
            from opentelemetry import trace as otel_trace
            from opentelemetry.sdk.trace import TracerProvider
        except ImportError:
            _sdk = None
        else:
            _sdk = (otel_trace, TracerProvider)
    if _sdk is None:
        return None
    otel_trace, provider_class = _sdk
    if not isinstance(otel_trace.get_tracer_provider(), provider_class):
        return None
    return otel_trace.get_tracer("pamgate")


def start(name: str, parent: SpanContext | None, *, kind: str = "internal") -> Span:
    """Start a span, a child of `parent` (same trace, new span id), or the root of a new
    trace. `kind`: `server` (a request), `client` (an outbound delivery) or `internal`."""
    tracer = _otel_tracer()
    if tracer is None:
        trace_id = parent.trace_id if parent is not None else new_trace_id()
        flags = parent.flags if parent is not None else SAMPLED
        return Span(SpanContext(trace_id, new_span_id(), flags))
    return _otel_start(tracer, name, parent, kind)  # pragma: no cover - needs the SDK


def _otel_start(
    tracer: Any, name: str, parent: SpanContext | None, kind: str
) -> Span:  # pragma: no cover - needs the SDK
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {HEADER: parent.traceparent} if parent is not None else {}
    parent_ctx = TraceContextTextMapPropagator().extract(carrier)
    span = tracer.start_span(
        name, context=parent_ctx, kind=getattr(otel_trace.SpanKind, kind.upper())
    )
    ctx = span.get_span_context()
    return Span(
        SpanContext(f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", int(ctx.trace_flags)), span
    )


# --- the current request's span ------------------------------------------------------------

_CURRENT: ContextVar[SpanContext | None] = ContextVar("pamgate_span", default=None)


def current() -> SpanContext | None:
    """The span of the request in progress (None outside a request)."""
    return _CURRENT.get()


def enter(context: SpanContext | None) -> None:
    """Make `context` the current span (the request middleware, at a request's start and,
    with None, at its end)."""
    _CURRENT.set(context)
