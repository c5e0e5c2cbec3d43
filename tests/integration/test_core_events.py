"""Core events through the outbox: a ticket payment waiting for approval and a paid winning
ticket queue an `event` message in the payment's own transaction (nothing when no endpoint
is configured, nothing when the payment is refused); the events dispatcher POSTs them to
the operator's endpoint signed with Standard Webhooks (verified with the official package
and PyNaCl), with no per-phone rate limit, and neither dispatcher takes the other's kind."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from nacl.signing import VerifyKey
from standardwebhooks import Webhook

from adapters.sms.dispatcher import build, build_events, run_all
from config.settings import DEMO_SIGNING_KEY, Config
from gateway.core import events, outbox, payouts, sms
from gateway.core.audit import Actor
from gateway.core.clock import FixedClock, SystemClock
from gateway.core.commands import Context
from gateway.core.errors import Forbidden
from gateway.store.models import OutboxMessage
from signing.keys import Keyring
from tests import factories as f
from tests.integration.test_ticket_payments import (
    ADMIN_USER,
    CHECKER,
    Shop,
    cashier,
    make_shop,
    pay_cmd,
)

EVENTS_URL = "https://operator.example/pamgate-events"
SMS_URL = "https://sms.example/hook"
WHSEC = "whsec_" + base64.b64encode(b"e" * 32).decode()
KEYS = Keyring.from_texts([("demo", DEMO_SIGNING_KEY, True)])


@pytest.fixture
def events_on() -> Iterator[None]:
    events.configure(enabled=True)
    yield
    events.configure(enabled=False)


@pytest.fixture
def clock() -> FixedClock:
    # standardwebhooks checks timestamps against the real time
    return FixedClock(SystemClock().now().replace(microsecond=0))


@pytest.fixture
def shop(db: Any, clock: FixedClock) -> Shop:
    return make_shop(clock)


def _events() -> list[dict[str, Any]]:
    rows = (
        OutboxMessage.select().where(OutboxMessage.kind == events.KIND).order_by(OutboxMessage.id)
    )
    return [json.loads(r.payload) for r in rows]


def test_nothing_is_queued_without_an_endpoint(db, clock, shop):
    assert not events.enabled()
    pending = payouts.pay(
        f.ctx(clock),
        ADMIN_USER,
        pay_cmd(shop.winners["big"], 5_000_000, "k-1"),
        approval_threshold=1,
    ).result
    payouts.approve(f.ctx(clock, "admin-2"), CHECKER, pending.id)
    assert _events() == []


def test_a_payment_waiting_for_approval_then_approved(db, clock, shop, events_on):
    big = shop.winners["big"]
    ctx = dataclasses.replace(f.ctx(clock), request_id="req-pay-0001")
    pending = payouts.pay(
        ctx, ADMIN_USER, pay_cmd(big, 5_000_000, "k-1", is_final=True), approval_threshold=1_000_000
    ).result
    [queued] = _events()
    assert queued["type"] == "ticket_payment.pending_approval"
    assert queued["occurred_at"].endswith("Z")
    assert queued["data"] == {
        "payment_id": pending.id,
        "ticket_id": big,
        "operator": shop.banca,
        "amount_minor": 5_000_000,
        "currency": "MXN",
        "method": "cash",
        "ventana_id": shop.ventana,
        "paid_by": "admin-1",
    }
    row = OutboxMessage.get(OutboxMessage.message_id == queued["id"])
    assert (row.state, row.request_id) == ("pending", "req-pay-0001")

    with pytest.raises(Forbidden):  # the maker may not approve: rolled back, nothing queued
        payouts.approve(f.ctx(clock), ADMIN_USER, pending.id)
    assert len(_events()) == 1
    payouts.approve(f.ctx(clock, "admin-2"), CHECKER, pending.id)
    paid = _events()[1]
    assert paid["type"] == "ticket.paid"
    assert paid["data"]["ticket_id"] == big
    assert (paid["data"]["payout_minor"], paid["data"]["paid_minor"]) == (5_000_000, 5_000_000)
    assert (paid["data"]["currency"], paid["data"]["payment_id"]) == ("MXN", pending.id)
    assert paid["data"]["channel"] == "lottery" and paid["data"]["method"] == "cash"


def test_a_partial_payment_queues_nothing_the_final_one_queues_ticket_paid(
    db, clock, shop, events_on
):
    small = shop.winners["small"]
    payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(small, 40_000, "k-1"))
    assert _events() == []
    with pytest.raises(payouts.ExceedsRemaining):  # refused: no event
        payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(small, 60_001, "k-2"))
    assert _events() == []
    payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(small, 60_000, "k-3"))
    [paid] = _events()
    assert paid["type"] == "ticket.paid"
    assert (paid["data"]["paid_minor"], paid["data"]["ventana_id"]) == (100_000, shop.ventana)
    # a replay of the same request queues nothing more
    payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(small, 60_000, "k-3"))
    assert len(_events()) == 1


def _config(**kw: Any) -> Config:
    base = dict(
        events_url=EVENTS_URL,
        events_secret=WHSEC,
        sms_url=SMS_URL,
        sms_phone_per_min=1.0,
        sms_phone_burst=1,  # one SMS per phone per minute
        dispatch_batch=50,
        dispatch_workers=10,
    )
    base.update(kw)
    return Config(**base)  # type: ignore[arg-type]


class _Services:
    def __init__(self, config: Config, clock: FixedClock) -> None:
        self.config, self.clock, self.keys, self.http = config, clock, KEYS, requests.Session()


def _queue_events(clock: FixedClock, n: int) -> list[str]:
    from gateway.store.database import database, unit_of_work

    ids = []
    ctx = Context(actor=Actor("system", "test"), now=clock.now())
    with unit_of_work(database):
        for i in range(n):
            event_id = events.emit(ctx, events.TICKET_PAID, {"ticket_id": f"t-{i}"})
            assert event_id is not None
            ids.append(event_id)
    return ids


@responses.activate
def test_events_reach_the_endpoint_signed_with_no_phone_limit(db, clock, events_on):
    ids = _queue_events(clock, 20)
    sms.notify_otp(
        Context(actor=Actor("system", "t"), now=clock.now()),
        sms.Otp("acme", "1234", "+50688887777"),
    )
    responses.post(EVENTS_URL, status=204)
    responses.post(SMS_URL, status=202)
    services = _Services(_config(), clock)
    dispatcher = build_events(services)
    assert dispatcher is not None
    step = dispatcher.step()
    assert (step.claimed, step.sent) == (20, 20)  # a phone limit of 1 per minute is not theirs
    assert {c.request.url for c in responses.calls} == {EVENTS_URL}  # the SMS is not its kind
    by_id = {}
    for call in responses.calls:
        headers = {k.lower(): str(v) for k, v in call.request.headers.items()}
        body = call.request.body
        assert isinstance(body, bytes)
        document = Webhook(WHSEC).verify(body, headers)  # the official package
        assert document["id"] == headers["webhook-id"]
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        v1a = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s[:4] == "v1a,"]
        public: VerifyKey = KEYS.current.verify_key
        public.verify(signed, base64.b64decode(v1a[0]))  # PyNaCl
        assert "traceparent" in headers
        by_id[document["id"]] = document
    assert set(by_id) == set(ids)
    assert by_id[ids[3]]["type"] == "ticket.paid" and by_id[ids[3]]["data"] == {"ticket_id": "t-3"}
    assert all(outbox.get(i).state == outbox.SENT for i in ids)
    assert {a["provider"] for i in ids for a in outbox.attempts_of(i)} == {"events"}

    sms_dispatcher = build(services)
    assert sms_dispatcher.step().sent == 1  # the SMS dispatcher takes only the SMS
    assert responses.calls[-1].request.url == SMS_URL


@responses.activate
def test_a_refused_event_is_a_dead_letter_and_pamgate_dispatch_takes_both(db, clock, events_on):
    [event_id] = _queue_events(clock, 1)
    message = sms.notify_otp(
        Context(actor=Actor("system", "t"), now=clock.now()),
        sms.Otp("acme", "1234", "+50688887777"),
    ).result.message_id
    responses.post(EVENTS_URL, status=410)
    responses.post(SMS_URL, status=200)
    services = _Services(_config(), clock)
    dispatchers = [build(services)]
    events_dispatcher = build_events(services, stop=dispatchers[0].stop)
    assert events_dispatcher is not None
    sent = run_all([*dispatchers, events_dispatcher], once=True)
    assert sent == 1
    assert outbox.get(message).state == outbox.SENT
    dead = outbox.get(event_id)
    assert dead.state == outbox.DEAD and dead.last_error and "410" in dead.last_error


def test_no_events_dispatcher_without_an_endpoint(db, clock):
    assert build_events(_Services(_config(events_url=""), clock)) is None


def test_occurred_at_is_the_commands_time(db, events_on):
    clock = FixedClock(dt.datetime(2026, 11, 22, 18, 30, 5, 123000))
    [event_id] = _queue_events(clock, 1)
    assert outbox.get(event_id).payload["occurred_at"] == "2026-11-22T18:30:05.123Z"


def test_a_bet_engine_win_paid_to_the_wallet_queues_ticket_paid(client, clock):
    pid = f.player(clock, balance=10_000)
    events.configure(enabled=True)  # after the app was built (it follows its configuration)
    try:
        resp = f.pam(client, clock, "ticket_create", f.ticket_data("T-1", pid))
        assert resp.status_code == 200, resp.text
        assert _events() == []
        clock.advance(1)
        resp = f.pam(
            client,
            clock,
            "ticket_win",
            {"operator": f.OPERATOR, "ticket_id": "T-1"},
        )
        assert resp.status_code == 200, resp.text
    finally:
        events.configure(enabled=False)
    [paid] = _events()
    assert paid["type"] == "ticket.paid"
    data = paid["data"]
    assert (data["channel"], data["external_id"], data["method"]) == ("betengine", "T-1", "wallet")
    assert data["payout_minor"] == data["paid_minor"] == 2602
    assert data["currency"] == "USD" and data["payment_id"] is None


def test_the_app_follows_its_configuration(config, db, clock):
    from gateway.app import create_app

    create_app(config.replace(events_url=EVENTS_URL), db=db, clock=clock)
    assert events.enabled()
    create_app(config, db=db, clock=clock)
    assert not events.enabled()


def test_dispatch_kind_event_needs_the_endpoint(db, db_url, monkeypatch, capsys):
    from gateway.cli import main
    from gateway.store.database import bind

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("PAMGATE_EVENTS_URL", raising=False)
    try:
        assert main(["dispatch", "--once", "--kind", "event"]) == 2
    finally:
        bind(db)
    assert capsys.readouterr().err == "pamgate: dispatch: --kind event needs PAMGATE_EVENTS_URL\n"
