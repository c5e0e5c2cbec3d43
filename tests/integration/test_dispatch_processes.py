"""Real `pamgate dispatch` processes against a local receiver: two dispatchers on
PostgreSQL deliver 500 messages, each exactly once; a dispatcher SIGKILLed in the middle of
a send loses nothing (another sends the message after the claim runs out, under the same
id); SIGTERM lets the send in hand finish."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from bench import sms_receiver
from gateway.core import outbox
from gateway.core.clock import SystemClock
from gateway.store.database import database, is_postgres, unit_of_work
from gateway.store.models import OutboxMessage
from tests.live import DEMO_PARTNERS, PAMGATE, ROOT, server_env

pytestmark = pytest.mark.slow


def _queue(n: int) -> list[str]:
    now = SystemClock().now()
    with unit_of_work(database):
        return [
            outbox.emit(
                "sms",
                {
                    "to": f"+5067{i:07d}",
                    "lang": "en",
                    "type": "otp",
                    "template": "otp",
                    "vars": {"code": f"{i:06d}"},
                },
                now,
            ).message_id
            for i in range(n)
        ]


def _env(db_url: str, url: str, **extra: str) -> dict[str, str]:
    return server_env(
        db_url,
        DEMO_PARTNERS,
        0,
        PAMGATE_SMS_URL=url,
        PAMGATE_SMS_RATE_PER_S="100000",
        PAMGATE_SMS_RATE_BURST="100000",
        PAMGATE_SMS_PHONE_PER_MIN="600",
        PAMGATE_SMS_PHONE_BURST="10",
        **extra,
    )


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PAMGATE, "dispatch", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _await_first_send(receiver: sms_receiver.Receiver, proc: subprocess.Popen[str]) -> None:
    """Until the receiver has the first request; the dispatcher's own error if it exits."""
    deadline = time.monotonic() + 90  # a loaded box starts Python processes slowly
    while not receiver.first_arrived.wait(0.2):
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the dispatcher exited with {proc.returncode}: {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the first send never arrived: {err[-2000:]}")


def test_two_dispatchers_deliver_500_messages_each_exactly_once(db, db_url) -> None:
    if not is_postgres(database):
        pytest.skip("PostgreSQL: several dispatchers claim with FOR UPDATE SKIP LOCKED")
    ids = _queue(500)
    with sms_receiver.running(delay_s=0.005) as receiver:
        env = _env(db_url, receiver.url, PAMGATE_DISPATCH_BATCH="20")
        procs = [_start(env, "--once") for _ in range(2)]
        outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    sent = [int(out.strip().rsplit("sent ", 1)[1].split()[0]) for out, _ in outputs]
    assert sum(sent) == 500
    assert min(sent) > 0, sent  # both took a share
    assert set(receiver.accepted) == set(ids)
    assert set(receiver.seen.values()) == {1}  # no message reached the provider twice
    assert OutboxMessage.select().where(OutboxMessage.state == outbox.SENT).count() == 500


def test_a_dispatcher_killed_mid_send_loses_nothing(db, db_url) -> None:
    ids = _queue(3)
    with sms_receiver.running(hold_first_s=8) as receiver:
        fast = {"PAMGATE_DISPATCH_BATCH": "1", "PAMGATE_DISPATCH_WORKERS": "1"}
        env = _env(
            db_url, receiver.url, PAMGATE_SMS_TIMEOUT_S="2", PAMGATE_DISPATCH_LEASE_S="5", **fast
        )
        first = _start(env)
        _await_first_send(receiver, first)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        held = next(iter(receiver.seen))
        row = outbox.get(held)
        assert (row.state, row.attempts) == (outbox.SENDING, 1)
        wait = (row.next_attempt_at - SystemClock().now()).total_seconds()
        time.sleep(max(wait, 0) + 0.5)  # the claim runs out
        second = _start(env, "--once")
        _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert {outbox.get(i).state for i in ids} == {outbox.SENT}
    assert receiver.seen[held] == 2  # the same id twice: the provider drops the copy
    assert set(receiver.accepted) == set(ids)
    assert outbox.get(held).attempts == 2


def test_sigterm_finishes_the_send_in_hand(db, db_url) -> None:
    ids = _queue(3)
    with sms_receiver.running(hold_first_s=2) as receiver:
        fast = {"PAMGATE_DISPATCH_BATCH": "1", "PAMGATE_DISPATCH_WORKERS": "1"}
        env = _env(db_url, receiver.url, PAMGATE_SMS_TIMEOUT_S="5", **fast)
        proc = _start(env)
        _await_first_send(receiver, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "sent 1 message(s)" in out
    held = next(iter(receiver.seen))
    assert outbox.get(held).state == outbox.SENT  # finished and recorded
    others = [outbox.get(i) for i in ids if i != held]
    assert {(m.state, m.attempts) for m in others} == {(outbox.PENDING, 0)}
