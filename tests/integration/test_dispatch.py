"""The dispatcher against providers played by `responses`: signed deliveries that the
official `standardwebhooks` package and PyNaCl verify, retries on the schedule (5xx,
timeouts, 429 with Retry-After), final 4xx, exhaustion to the dead letters, Twilio's form
post, the circuit breaker and the rate limits under a burst, and logs without a code or a
phone number."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from typing import Any

import pytest
import requests
import responses
from nacl.signing import VerifyKey
from standardwebhooks import Webhook
from structlog.testing import capture_logs

from adapters.sms.dispatcher import Dispatcher
from adapters.sms.providers import TwilioProvider, WebhookProvider
from config.settings import DEMO_SIGNING_KEY
from gateway.core import breaker, delivery, outbox, ratelimit, retry_schedule, sms
from gateway.core.audit import Actor
from gateway.core.clock import FixedClock, SystemClock
from gateway.core.commands import Context
from gateway.store.models import OutboxAttempt
from signing.keys import Keyring

URL = "https://sms.example/hook"
WHSEC = "whsec_" + base64.b64encode(b"s" * 32).decode()
KEYS = Keyring.from_texts([("demo", DEMO_SIGNING_KEY, True)])
OPEN = ratelimit.Limit(10_000, 10_000)


@pytest.fixture
def clock() -> FixedClock:
    # standardwebhooks checks timestamps against the real time
    return FixedClock(SystemClock().now().replace(microsecond=0))


def _otp(clock, code: str = "482913", to: str = "+50688887777") -> str:
    ctx = Context(actor=Actor("partner", "betstack-demo"), now=clock.now())
    return sms.notify_otp(ctx, sms.Otp("acme", code, to)).result.message_id


def _dispatcher(
    clock,
    provider=None,
    *,
    batch: int = 10,
    workers: int = 2,
    limits: delivery.Limits | None = None,
    policy: breaker.Policy | None = None,
) -> Dispatcher:
    provider = provider or WebhookProvider(
        requests.Session(),
        URL,
        clock,
        timeout_s=2,
        signing_keys=[KEYS.current.signing_key],
        hmac_secret=WHSEC,
    )
    return Dispatcher(
        provider,
        clock,
        limits=limits or delivery.Limits(OPEN, OPEN),
        policy=policy or breaker.Policy(),
        batch=batch,
        workers=workers,
        lease=dt.timedelta(seconds=60),
        rng=random.Random(7),
    )


def _headers(call: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in call.request.headers.items()}


@responses.activate
def test_an_otp_reaches_the_receiver_signed_v1a_and_v1(db, clock) -> None:
    message_id = _otp(clock)
    responses.post(URL, json={"id": "prov-1"}, status=202)
    step = _dispatcher(clock).step()
    assert (step.sent, step.failed, step.dead) == (1, 0, 0)
    [call] = responses.calls
    body = call.request.body
    assert isinstance(body, bytes)
    assert json.loads(body) == {
        "to": "+50688887777",
        "text": "Tu código de verificación es 482913. No lo compartas con nadie.",
        "type": "otp",
        "reference": message_id,
    }
    headers = _headers(call)
    assert headers["webhook-id"] == message_id
    assert Webhook(WHSEC).verify(body, headers) == json.loads(body)  # the official package
    signed = f"{message_id}.{headers['webhook-timestamp']}.".encode() + body
    v1a = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1a,")]
    public: VerifyKey = KEYS.current.verify_key
    public.verify(signed, base64.b64decode(v1a[0]))  # PyNaCl: raises if forged
    assert outbox.get(message_id).state == outbox.SENT
    [logged] = outbox.attempts_of(message_id)
    assert (logged["outcome"], logged["http_status"], logged["provider_message_id"]) == (
        "sent",
        202,
        "prov-1",
    )


@responses.activate
def test_a_5xx_is_retried_on_the_schedule_with_the_same_id(db, clock) -> None:
    message_id = _otp(clock)
    responses.post(URL, status=503)
    responses.post(URL, status=200)
    dispatcher = _dispatcher(clock)
    assert dispatcher.step().failed == 1
    waiting = outbox.get(message_id)
    assert waiting.state == outbox.PENDING
    delay = (waiting.next_attempt_at - clock.now()).total_seconds()
    assert 4 <= delay <= 6  # 5 s ± 20 %
    assert dispatcher.step().claimed == 0  # not due yet
    clock.set(waiting.next_attempt_at)
    assert dispatcher.step().sent == 1
    ids = {_headers(c)["webhook-id"] for c in responses.calls}
    assert ids == {message_id}
    assert [a["outcome"] for a in outbox.attempts_of(message_id)] == ["failed", "sent"]


@responses.activate
def test_retry_after_sets_the_next_attempt_capped_at_an_hour(db, clock) -> None:
    first, second = _otp(clock, "111111"), _otp(clock, "222222")
    responses.post(URL, status=429, headers={"Retry-After": "120"})
    responses.post(URL, status=503, headers={"Retry-After": "86400"})
    _dispatcher(clock, workers=1).step()
    waits = [(outbox.get(m).next_attempt_at - clock.now()).total_seconds() for m in (first, second)]
    assert 120 <= waits[0] < 121  # from the answer's arrival (the send took milliseconds)
    assert 3600 <= waits[1] < 3601


@responses.activate
def test_a_timeout_after_the_receiver_accepted_still_delivers_once_per_id(db, clock) -> None:
    """The receiver keeps what it accepted by `webhook-id`; the first answer is lost to a
    timeout, the retry carries the same id, so the receiver holds one message."""
    message_id = _otp(clock)
    accepted: dict[str, bytes] = {}
    calls = []

    def receiver(request):  # accepts, then the answer never arrives the first time
        accepted.setdefault(request.headers["webhook-id"], request.body)
        calls.append(request.headers["webhook-id"])
        if len(calls) == 1:
            raise requests.exceptions.ReadTimeout("read timed out")
        return (200, {}, "{}")

    responses.add_callback(responses.POST, URL, callback=receiver)
    dispatcher = _dispatcher(clock)
    step = dispatcher.step()
    assert step.failed == 1
    assert "timeout" in (outbox.get(message_id).last_error or "")
    clock.set(outbox.get(message_id).next_attempt_at)
    assert dispatcher.step().sent == 1
    assert calls == [message_id, message_id]
    assert list(accepted) == [message_id]


@responses.activate
def test_a_final_4xx_is_a_dead_letter_at_once_without_the_phone(db, clock) -> None:
    message_id = _otp(clock)
    responses.post(URL, status=400, json={"message": "number +50688887777 is not mobile"})
    step = _dispatcher(clock).step()
    assert step.dead == 1
    dead = outbox.get(message_id)
    assert dead.state == outbox.DEAD
    assert dead.last_error is not None and "HTTP 400" in dead.last_error
    assert "88887777" not in dead.last_error


@responses.activate
def test_a_message_that_always_fails_dies_after_the_last_retry(db, clock) -> None:
    message_id = _otp(clock)
    responses.post(URL, status=500)
    dispatcher = _dispatcher(clock)
    created = clock.now()
    while outbox.get(message_id).state != outbox.DEAD:
        clock.set(outbox.get(message_id).next_attempt_at)
        dispatcher.step()
    assert len(responses.calls) == retry_schedule.MAX_ATTEMPTS == 13
    span = clock.now() - created
    assert dt.timedelta(hours=19) < span < dt.timedelta(hours=29)  # 24 h ± jitter
    assert OutboxAttempt.select().count() == 13


@responses.activate
def test_twilio_gets_a_form_post_with_basic_auth_and_the_idempotency_token(db, clock) -> None:
    message_id = _otp(clock)
    base = "https://twilio.example"
    responses.post(
        f"{base}/2010-04-01/Accounts/AC123/Messages.json", status=201, json={"sid": "SM42"}
    )
    provider = TwilioProvider(
        requests.Session(),
        clock,
        base_url=base,
        account_sid="AC123",
        auth_token="tok",
        sender="+15005550006",
        timeout_s=2,
    )
    assert _dispatcher(clock, provider).step().sent == 1
    [call] = responses.calls
    headers = _headers(call)
    assert headers["i-twilio-idempotency-token"] == message_id
    assert headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    from urllib.parse import parse_qs

    assert isinstance(call.request.body, str)
    form = parse_qs(call.request.body)
    assert form["To"] == ["+50688887777"] and form["From"] == ["+15005550006"]
    assert form["Body"][0].startswith("Tu código de verificación es 482913")
    assert outbox.attempts_of(message_id)[0]["provider_message_id"] == "SM42"


@responses.activate
def test_the_breaker_opens_on_failures_spends_no_attempts_then_a_probe_closes_it(db, clock) -> None:
    ids = [_otp(clock, f"{i:06d}", f"+5068888{i:04d}") for i in range(30)]
    responses.post(URL, status=503)
    dispatcher = _dispatcher(clock, batch=30, workers=1)
    step = dispatcher.step()
    assert (step.failed, step.given_back) == (10, 20)  # tripped at 10 attempts, 100 % failed
    assert breaker.state("webhook") == breaker.OPEN
    untouched = [outbox.get(i) for i in ids[10:]]
    assert {(m.state, m.attempts) for m in untouched} == {(outbox.PENDING, 0)}
    clock.advance(10)  # the failed ones are due again, but the circuit is open
    assert dispatcher.step().claimed == 0
    assert len(responses.calls) == 10
    clock.advance(25)  # past the 30 s cooldown: one probe
    responses.replace(responses.POST, URL, status=200)
    probe = dispatcher.step()
    assert (probe.claimed, probe.sent) == (1, 1)
    assert breaker.state("webhook") == breaker.CLOSED
    while dispatcher.step().claimed:
        pass
    assert {outbox.get(i).state for i in ids} == {outbox.SENT}


@responses.activate
def test_a_failed_probe_opens_the_circuit_again(db, clock) -> None:
    for i in range(12):
        _otp(clock, f"{i:06d}", f"+5068888{i:04d}")
    responses.post(URL, status=503)
    dispatcher = _dispatcher(clock, batch=12, workers=1)
    dispatcher.step()
    clock.advance(31)
    assert dispatcher.step().claimed == 1  # the probe, failed
    assert breaker.state("webhook") == breaker.OPEN
    assert dispatcher.step().claimed == 0
    assert len(responses.calls) == 11


@responses.activate
def test_rate_limits_hold_a_burst_back_and_drop_nothing(db, clock) -> None:
    """The provider's bucket (5/s, burst 5) and each phone's (1/min, burst 2): a burst of
    20 messages (8 of them to one phone) goes out over time; every one arrives once."""
    flood = [_otp(clock, f"9{i:05d}", "+50670000001") for i in range(8)]
    others = [_otp(clock, f"{i:06d}", f"+5068888{i:04d}") for i in range(12)]
    responses.post(URL, status=200)
    limits = delivery.Limits(provider=ratelimit.Limit(5, 5), phone=ratelimit.Limit(1 / 60, 2))
    dispatcher = _dispatcher(clock, batch=20, limits=limits)
    first = dispatcher.step()
    assert (first.claimed, first.sent) == (20, 5)
    assert sum(m.attempts for m in map(outbox.get, flood + others)) == 5  # waiting costs none
    elapsed = 0
    while any(outbox.get(i).state != outbox.SENT for i in flood + others):
        clock.advance(1)
        elapsed += 1
        dispatcher.step()
        assert elapsed < 600
    assert len(responses.calls) == 20
    assert len({_headers(c)["webhook-id"] for c in responses.calls}) == 20
    flood_times = sorted(a["finished_at"] for i in flood for a in outbox.attempts_of(i))
    assert flood_times[-1] - flood_times[0] >= dt.timedelta(minutes=5)  # 8 at 1/min, burst 2


@responses.activate
def test_an_outcome_of_a_claim_that_ran_out_does_not_overwrite_the_new_claim(db, clock) -> None:
    message_id = _otp(clock)
    [stale] = outbox.claim_due(clock.now(), lease=dt.timedelta(seconds=10))
    clock.advance(11)
    [fresh] = outbox.claim_due(clock.now(), lease=dt.timedelta(seconds=10))
    failed = outbox.Attempt(
        stale, "webhook", "failed", clock.now(), clock.now(), retry_at=clock.now()
    )
    assert outbox.record([failed], clock.now()) == 0
    current = outbox.get(message_id)
    assert (current.state, current.claim_token) == (outbox.SENDING, fresh.claim_token)
    sent = outbox.Attempt(fresh, "webhook", "sent", clock.now(), clock.now())
    assert outbox.record([sent], clock.now()) == 1
    assert outbox.get(message_id).state == outbox.SENT
    assert len(outbox.attempts_of(message_id)) == 2


@responses.activate
def test_no_code_or_phone_in_the_dispatchers_logs(db, clock, caplog) -> None:
    _otp(clock, "739164", "+50670001234")
    _otp(clock, "739165", "+50670001235")
    responses.post(URL, status=500, body="bad number +50670001234, code 739164")
    responses.post(URL, status=200)
    # structlog's capture sees the lines while its loggers are not cached yet; once an earlier
    # test configured logging (cached loggers), they reach the standard logging handlers
    caplog.set_level("INFO")
    with capture_logs() as logs:
        _dispatcher(clock, workers=1).step()
    text = repr(logs) + caplog.text
    assert "sms_attempt" in text
    for secret in ("739164", "739165", "70001234", "70001235"):
        assert secret not in text
    errors = [outbox.get(m.message_id).last_error for m in outbox.in_state(outbox.PENDING)]
    assert errors and not any("739164" in (e or "") or "70001234" in (e or "") for e in errors)
