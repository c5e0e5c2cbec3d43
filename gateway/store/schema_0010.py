"""Migration 10, frozen: one trace from a request to the message it queued.

- `outbox_message.request_id`: the request that queued the message (its audit rows carry
  the same id), indexed so an operator goes from an audit row to its messages;
- `outbox_message.traceparent`: the W3C trace context of that request's span; every
  delivery attempt is sent in a child span of it;
- `outbox_attempt.trace_id` and `span_id`: the trace and the span an attempt was sent
  under (the `traceparent` the provider received), indexed by trace id.
"""

from __future__ import annotations

DDL = """
ALTER TABLE "outbox_message" ADD COLUMN "request_id" VARCHAR(64);
ALTER TABLE "outbox_message" ADD COLUMN "traceparent" VARCHAR(55);
CREATE INDEX "outbox_message_request_id" ON "outbox_message" ("request_id");
ALTER TABLE "outbox_attempt" ADD COLUMN "trace_id" VARCHAR(32);
ALTER TABLE "outbox_attempt" ADD COLUMN "span_id" VARCHAR(16);
CREATE INDEX "outbox_attempt_trace_id" ON "outbox_attempt" ("trace_id")
"""
