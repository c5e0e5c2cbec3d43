"""One trace from the partner's call to the SMS: a valid W3C `traceparent` on an inbound
request is joined (a malformed one starts a new trace), the request's log lines carry the
trace and span ids, the outbox row keeps the request id and the request's span, and every
delivery attempt goes out with a `traceparent` of the same trace and a new span, which the
attempt log keeps. OpenTelemetry is not needed for any of it."""

from __future__ import annotations

import datetime as dt
import random
import sys

import pytest
import requests
import responses
import structlog
from structlog.testing import capture_logs

from adapters.sms.dispatcher import Dispatcher
from adapters.sms.providers import TwilioProvider, WebhookProvider
from config.settings import DEMO_SIGNING_KEY
from gateway import tracing
from gateway.core import breaker, delivery, outbox, ratelimit, sms
from gateway.core.audit import Actor
from gateway.core.commands import Context
from gateway.core.principal import ADMIN, Principal
from gateway.store.models import AuditRecord, OutboxAttempt, OutboxMessage
from signing.keys import Keyring
from tests import factories as f

URL = "https://sms.example/hook"
KEYS = Keyring.from_texts([("demo", DEMO_SIGNING_KEY, True)])
OPEN = ratelimit.Limit(10_000, 10_000)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
INCOMING = f"00-{TRACE}-{PARENT}-01"


def _dispatcher(clock, provider=None) -> Dispatcher:
    provider = provider or WebhookProvider(
        requests.Session(), URL, clock, timeout_s=2, signing_keys=[KEYS.current.signing_key]
    )
    return Dispatcher(
        provider,
        clock,
        limits=delivery.Limits(OPEN, OPEN),
        policy=breaker.Policy(),
        batch=10,
        workers=1,
        lease=dt.timedelta(seconds=60),
        rng=random.Random(3),
    )


def _notify(client, clock, headers=None, code="482913"):
    raw, signed = f.signed({"type": "otp", "data": {"code": code, "msisdn": "+50688887777"}}, clock)
    resp = client.simulate_post(
        "/sms/notifications", body=raw, headers={**signed, **(headers or {})}
    )
    assert resp.status_code == 200, resp.text
    return resp


def _sent_traceparent(call) -> str:
    return {k.lower(): v for k, v in call.request.headers.items()}["traceparent"]


@responses.activate
def test_a_callbacks_trace_reaches_the_provider_and_the_attempt_log(client, app, clock):
    resp = _notify(client, clock, {"traceparent": INCOMING, "X-Request-Id": "req-trace-0001"})
    [row] = OutboxMessage.select()
    assert row.request_id == "req-trace-0001" == resp.headers["X-Request-Id"]
    stored = tracing.parse(row.traceparent)
    assert stored is not None and stored.trace_id == TRACE
    assert stored.span_id != PARENT  # the request's own span, a child of the caller's
    # the operator's way in: the audit row of the request names the same request id
    assert AuditRecord.get(AuditRecord.action == "SMS_NOTIFICATION").request_id == row.request_id
    admin = Principal(user_id="admin-1", role=ADMIN)
    listed = client.simulate_get(
        "/api/v1/outbox?state=pending",
        headers={"Authorization": f"Bearer {app.services.tokens.mint(admin)}"},
    )
    [item] = listed.json["data"]
    assert (item["requestId"], item["traceparent"]) == ("req-trace-0001", row.traceparent)

    responses.post(URL, status=503)
    responses.post(URL, json={"id": "prov-9"}, status=202)
    dispatcher = _dispatcher(clock)
    assert dispatcher.step().failed == 1
    clock.set(outbox.get(row.message_id).next_attempt_at)
    assert dispatcher.step().sent == 1

    sent = [tracing.parse(_sent_traceparent(c)) for c in responses.calls]
    assert all(s is not None and s.trace_id == TRACE for s in sent)
    spans = [s.span_id for s in sent if s is not None]
    assert len(set(spans)) == 2 and not {PARENT, stored.span_id} & set(spans)  # new per attempt
    attempts = list(OutboxAttempt.select().order_by(OutboxAttempt.id))
    assert [(a.trace_id, a.span_id, a.outcome) for a in attempts] == [
        (TRACE, spans[0], "failed"),
        (TRACE, spans[1], "sent"),
    ]
    assert OutboxAttempt.select().where(OutboxAttempt.trace_id == TRACE).count() == 2


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE.upper()}-{PARENT}-01",  # upper case
        f"00-{'0' * 32}-{PARENT}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent
        f"ff-{TRACE}-{PARENT}-01",  # forbidden version
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has no more fields
        f"00-{TRACE[:-1]}-{PARENT}-01",  # short
        "00-" + "é" * 32 + f"-{PARENT}-01",  # odd unicode
        "x" * 5000,
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(client, clock, header):
    _notify(client, clock, {"traceparent": header})
    [row] = OutboxMessage.select()
    stored = tracing.parse(row.traceparent)
    assert stored is not None and stored.trace_id != TRACE
    assert stored.trace_id != "0" * 32


def test_without_a_traceparent_each_request_has_a_trace_of_its_own(client, clock):
    _notify(client, clock, code="111111")
    _notify(client, clock, code="222222")
    traces = {tracing.parse(r.traceparent).trace_id for r in OutboxMessage.select()}  # type: ignore[union-attr]
    assert len(traces) == 2


def test_the_request_log_lines_carry_the_trace_and_the_request_id(client, clock):
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        _notify(client, clock, {"traceparent": INCOMING, "X-Request-Id": "req-trace-0002"})
    [line] = [e for e in logs if e["event"] == "http_request" and e["path"] == "/sms/notifications"]
    assert line["request_id"] == "req-trace-0002"
    assert line["trace_id"] == TRACE
    [row] = OutboxMessage.select()
    assert row.traceparent == f"00-{TRACE}-{line['span_id']}-01"
    assert structlog.contextvars.get_contextvars() == {}  # nothing leaks to the next request
    assert tracing.current() is None


def test_a_future_version_with_more_fields_is_joined():
    parsed = tracing.parse(f"cc-{TRACE}-{PARENT}-00-what-comes-later")
    assert parsed == tracing.SpanContext(TRACE, PARENT, 0)
    assert parsed.traceparent == f"00-{TRACE}-{PARENT}-00"  # sent on as the version we speak


@responses.activate
def test_a_message_queued_outside_a_request_has_a_trace_named_by_its_id(db, clock):
    ctx = Context(actor=Actor("system", "test"), now=clock.now())
    message_id = sms.notify_otp(ctx, sms.Otp("acme", "123456", "+50688887777")).result.message_id
    assert outbox.get(message_id).traceparent is None
    responses.post(URL, status=500)
    responses.post(URL, status=200)
    dispatcher = _dispatcher(clock)
    dispatcher.step()
    clock.set(outbox.get(message_id).next_attempt_at)
    dispatcher.step()
    traces = {tracing.parse(_sent_traceparent(c)).trace_id for c in responses.calls}  # type: ignore[union-attr]
    assert traces == {message_id.replace("-", "")}


@responses.activate
def test_twilio_receives_the_traceparent_too(db, clock):
    ctx = Context(actor=Actor("system", "test"), now=clock.now())
    message_id = sms.notify_otp(ctx, sms.Otp("acme", "123456", "+50688887777")).result.message_id
    base = "https://twilio.example"
    responses.post(f"{base}/2010-04-01/Accounts/AC1/Messages.json", json={"sid": "SM1"}, status=201)
    provider = TwilioProvider(
        requests.Session(),
        clock,
        base_url=base,
        account_sid="AC1",
        auth_token="tok",
        sender="+15550001111",
        timeout_s=2,
    )
    assert _dispatcher(clock, provider).step().sent == 1
    [call] = responses.calls
    sent = tracing.parse(_sent_traceparent(call))
    [attempt] = outbox.attempts_of(message_id)
    assert sent is not None and (attempt["trace_id"], attempt["span_id"]) == (
        sent.trace_id,
        sent.span_id,
    )


def test_without_the_opentelemetry_sdk_spans_are_made_here(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    monkeypatch.setattr(tracing, "_sdk", tracing._UNKNOWN)  # looked up again
    assert tracing._otel_tracer() is None
    parent = tracing.SpanContext(TRACE, PARENT, 1)
    span = tracing.start("deliver sms", parent, kind="client")
    span.set(outcome="sent")  # no SDK: attributes go nowhere, nothing fails
    span.end()
    assert span.context.trace_id == TRACE and span.context.flags == 1
    assert span.context.span_id not in (PARENT, "0" * 16) and len(span.context.span_id) == 16
    root = tracing.start("GET /", None, kind="server").context
    assert len(root.trace_id) == 32 and root.trace_id != TRACE


def test_with_the_opentelemetry_sdk_spans_are_exported_in_the_callers_trace(client, clock):
    """Runs only where the SDK is installed (it is optional): the request's span and the
    outbox row's traceparent are the SDK's, in the caller's trace, and it exports them."""
    pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace as otel_trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = tracing._otel_tracer
    tracing._otel_tracer = lambda: provider.get_tracer("pamgate")  # type: ignore[method-assign]
    try:
        _notify(client, clock, {"traceparent": INCOMING})
    finally:
        tracing._otel_tracer = previous  # type: ignore[method-assign]
    [row] = OutboxMessage.select()
    spans = [s for s in exporter.get_finished_spans() if s.name == "POST /sms/notifications"]
    [span] = spans
    assert f"{span.context.trace_id:032x}" == TRACE
    assert f"{span.parent.span_id:016x}" == PARENT
    assert row.traceparent == f"00-{TRACE}-{span.context.span_id:016x}-01"
    assert span.kind == otel_trace.SpanKind.SERVER
