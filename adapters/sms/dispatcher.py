"""The outbox dispatcher (`pamgate dispatch`): claims due SMS, sends them through the
provider, records every attempt; a second one, when the operator's events endpoint is set,
does the same for core events (`event` messages, no per-phone limit). Several may run, on
several hosts: claims, rate limits and the circuit breaker live in the database
(`gateway.core.delivery`).

One step: take a batch (breaker, claim, rate limits), send it `workers` at a time, record
the outcomes in one transaction. A failed attempt comes back on the retry schedule (or at
the provider's `Retry-After`), a final refusal or the last failure is a dead letter. When
the breaker's window trips during a batch, the messages not yet sent go back untouched.
`stop` (SIGTERM) lets the sends in flight finish and be recorded; the rest go back.

Every attempt is sent in a span of its own (W3C `traceparent`): a child of the span of the
request that queued the message, or of the message's own trace when none did; the attempt
log keeps its trace and span ids.

Every attempt carries the message's stable id, so a send whose outcome is unknown (a
timeout after the provider accepted it, a dispatcher killed mid-send whose claim then ran
out) is retried under the same id and the provider drops the duplicate.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from adapters.sms.providers import (
    FAILED,
    Delivery,
    Event,
    EventWebhook,
    Provider,
    Sms,
    TwilioProvider,
    WebhookProvider,
)
from config.settings import lease_problem
from gateway import tracing
from gateway.core import (
    breaker,
    delivery,
    events,
    outbox,
    ratelimit,
    retry_schedule,
    sms,
    sms_texts,
)
from gateway.core.clock import Clock
from gateway.core.outbox import Attempt, Message
from gateway.logs import get_logger, mask_phone

log = get_logger("pamgate.dispatch")


@dataclass(frozen=True)
class Step:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    given_back: int = 0
    wait_until: dt.datetime | None = None


def as_sms(message: Message, span: tracing.SpanContext | None = None) -> Sms:
    payload = message.payload
    variables = payload.get("vars") or {}
    return Sms(
        message_id=message.message_id,
        to=str(payload["to"]),
        text=sms_texts.render(payload),
        type=str(payload.get("type", "")),
        reference=str(payload.get("reference") or message.message_id),
        secrets=tuple(str(v) for k, v in variables.items() if k == "code"),
        traceparent=span.traceparent if span is not None else None,
    )


def as_event(message: Message, span: tracing.SpanContext | None = None) -> Event:
    if not isinstance(message.payload, dict):
        raise TypeError("an event is a JSON object")
    return Event(
        message_id=message.message_id,
        document=message.payload,
        traceparent=span.traceparent if span is not None else None,
    )


RENDER = {sms.KIND: as_sms, events.KIND: as_event}


def parent_span(message: Message) -> tracing.SpanContext:
    """The span a message's deliveries descend from: the request's that queued it."""
    return tracing.parse(message.traceparent) or tracing.root_of(message.message_id)


class Dispatcher:
    def __init__(
        self,
        provider: Provider,
        clock: Clock,
        *,
        limits: delivery.Limits,
        policy: breaker.Policy,
        batch: int,
        workers: int,
        lease: dt.timedelta,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        kind: str = sms.KIND,
    ) -> None:
        self.provider = provider
        self.kind = kind
        self._render = RENDER[kind]
        self._clock = clock
        self._limits = limits
        self._policy = policy
        self._batch = batch
        self._workers = workers
        self._lease = lease
        self.stop = stop or threading.Event()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sms-send")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def step(self) -> Step:
        """One batch; see the module docstring."""
        batch = delivery.take(
            self.provider.name,
            self._clock.now(),
            size=self._batch,
            lease=self._lease,
            limits=self._limits,
            policy=self._policy,
            kind=self.kind,
        )
        if not batch.messages:
            return Step(claimed=batch.claimed, wait_until=batch.wait_until)
        lock = threading.Lock()
        tally = [batch.window_attempts, batch.window_failures]
        halt = threading.Event()

        def attempt(message: Message) -> Attempt | None:
            if self.stop.is_set() or halt.is_set():
                return None
            return self._attempt(message, tally, lock, halt, batch.probe)

        results = list(self._pool.map(attempt, batch.messages))
        attempts = [a for a in results if a is not None]
        untouched = [m for m, a in zip(batch.messages, results, strict=True) if a is None]
        now = self._clock.now()
        delivery.finish(self.provider.name, attempts, now, probe=batch.probe, policy=self._policy)
        given_back = delivery.give_back(untouched, now) if untouched else 0
        sent = sum(1 for a in attempts if a.outcome == outbox.SENT_OUTCOME)
        dead = sum(
            1
            for a in attempts
            if a.outcome != outbox.SENT_OUTCOME and (a.outcome != FAILED or a.retry_at is None)
        )
        if halt.is_set():
            log.warning("sms_breaker_tripped", provider=self.provider.name)
        return Step(
            claimed=batch.claimed,
            sent=sent,
            failed=len(attempts) - sent - dead,
            dead=dead,
            given_back=given_back,
        )

    def _attempt(
        self,
        message: Message,
        tally: list[int],
        lock: threading.Lock,
        halt: threading.Event,
        probe: bool,
    ) -> Attempt:
        started_at = self._clock.now()
        start = time.monotonic()
        span = tracing.start(f"deliver {message.kind}", parent_span(message), kind="client")
        try:
            item = self._render(message, span.context)
        except (KeyError, ValueError, TypeError) as exc:  # a message no template can render
            result = Delivery("refused", error=f"cannot render the message: {type(exc).__name__}")
        else:
            result = self.provider.send(item)
        finished_at = started_at + dt.timedelta(seconds=time.monotonic() - start)
        span.set(
            **{
                "pamgate.message_id": message.message_id,
                "pamgate.provider": self.provider.name,
                "pamgate.outcome": result.outcome,
                "pamgate.attempt": message.attempts,
            }
        )
        span.end()
        retry_at = None
        if result.outcome == FAILED:
            retry_at = retry_schedule.next_attempt(
                message.tries_since_retry,
                finished_at,
                self._rng,
                retry_after_s=result.retry_after_s,
            )
        with lock:
            tally[0] += 1
            tally[1] += result.outcome == FAILED
            if not probe and self._policy.trips(tally[0], tally[1]):
                halt.set()
        to = message.payload.get("to") if isinstance(message.payload, dict) else None
        log.info(
            f"{self.kind}_attempt",
            message_id=message.message_id,
            provider=self.provider.name,
            to=mask_phone(str(to)) if to else None,
            attempt=message.attempts,
            outcome=result.outcome
            if result.outcome != FAILED or retry_at is not None
            else "exhausted",
            http_status=result.http_status,
            error=result.error,
            latency_ms=int((finished_at - started_at).total_seconds() * 1000),
            request_id=message.request_id,
            trace_id=span.context.trace_id,
            span_id=span.context.span_id,
        )
        return Attempt(
            message=message,
            provider=self.provider.name,
            outcome=result.outcome,
            started_at=started_at,
            finished_at=finished_at,
            http_status=result.http_status,
            provider_message_id=result.provider_message_id,
            error=result.error,
            retry_at=retry_at,
            span=span.context,
        )

    def run(self, *, once: bool = False, poll_s: float = 1.0) -> int:
        """Deliver until stopped (or, `once`, until nothing due is left); the number sent."""
        return run_all([self], once=once, poll_s=poll_s)


def run_all(dispatchers: list[Dispatcher], *, once: bool = False, poll_s: float = 1.0) -> int:
    """Step each dispatcher in turn until stopped (any one's `stop`), or, `once`, until none
    has anything due; the number sent by all."""
    sent = 0
    stop = dispatchers[0].stop
    while not any(d.stop.is_set() for d in dispatchers):
        steps = [d.step() for d in dispatchers]
        sent += sum(s.sent for s in steps)
        if any(s.claimed for s in steps):
            continue
        if once:
            break
        delay = poll_s
        now = dispatchers[0]._clock.now()
        for s in steps:
            if s.wait_until is not None:
                delay = min(max((s.wait_until - now).total_seconds(), 0.01), delay)
        stop.wait(delay)
    return sent


def _session(services: Any) -> requests.Session:
    session: requests.Session = services.http
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=max(services.config.dispatch_workers, 10)
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def build_provider(services: Any) -> Provider:
    """The configured provider, on an HTTP session with a connection per worker."""
    config = services.config
    session = _session(services)
    if config.sms_provider == "twilio":
        return TwilioProvider(
            session,
            services.clock,
            base_url=config.twilio_base_url,
            account_sid=config.twilio_account_sid,
            auth_token=config.twilio_auth_token,
            sender=config.twilio_from,
            timeout_s=config.sms_timeout_s,
        )
    return WebhookProvider(
        session,
        config.sms_url,
        services.clock,
        timeout_s=config.sms_timeout_s,
        signing_keys=[services.keys.current.signing_key],
        hmac_secret=config.sms_secret,
    )


def build_events(services: Any, *, stop: threading.Event | None = None) -> Dispatcher | None:
    """The events dispatcher (core events to `PAMGATE_EVENTS_URL`), or None when no endpoint
    is configured. Signed with pamgate's key (and `PAMGATE_EVENTS_SECRET`); the provider's
    rate limit and breaker are its own; no per-phone limit."""
    config = services.config
    if not config.events_url:
        return None
    problem = lease_problem(config)
    if problem:
        raise ValueError(problem)
    provider = EventWebhook(
        _session(services),
        config.events_url,
        services.clock,
        timeout_s=config.sms_timeout_s,
        signing_keys=[services.keys.current.signing_key],
        hmac_secret=config.events_secret,
    )
    return Dispatcher(
        provider,
        services.clock,
        limits=delivery.Limits(
            provider=ratelimit.Limit(config.sms_rate_per_s, config.sms_rate_burst), phone=None
        ),
        policy=breaker.Policy(cooldown=dt.timedelta(seconds=config.breaker_cooldown_s)),
        batch=config.dispatch_batch,
        workers=config.dispatch_workers,
        lease=dt.timedelta(seconds=config.dispatch_lease_s),
        stop=stop,
        kind=events.KIND,
    )


def build(services: Any, *, stop: threading.Event | None = None) -> Dispatcher:
    """A dispatcher from the configuration; `ValueError` (one line) when the provider's
    settings are missing or the claim lease could run out while a batch is being sent."""
    config = services.config
    problem = lease_problem(config)
    if problem:
        raise ValueError(problem)
    return Dispatcher(
        build_provider(services),
        services.clock,
        limits=delivery.Limits(
            provider=ratelimit.Limit(config.sms_rate_per_s, config.sms_rate_burst),
            phone=ratelimit.Limit(config.sms_phone_per_min / 60.0, config.sms_phone_burst),
        ),
        policy=breaker.Policy(cooldown=dt.timedelta(seconds=config.breaker_cooldown_s)),
        batch=config.dispatch_batch,
        workers=config.dispatch_workers,
        lease=dt.timedelta(seconds=config.dispatch_lease_s),
        stop=stop,
    )
