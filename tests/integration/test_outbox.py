"""The outbox (SPEC 5) on a real database: a message exists only if the command that emitted
it committed; due messages are claimed once, even by concurrent dispatchers; failures come
back later or go dead, and dead messages can be sent again."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from peewee import IntegrityError

from gateway.core import accounts, ledger, outbox
from gateway.core.errors import NotFound
from gateway.core.ledger import Leg
from gateway.core.outbox import DEAD, PENDING, SENDING, SENT, OutboxStateError
from gateway.store.database import database, is_postgres, unit_of_work
from gateway.store.models import LedgerTxn, OutboxMessage

NOW = dt.datetime(2026, 11, 21, 12, 0, 0)
LATER = NOW + dt.timedelta(seconds=30)


def _emit(n: int = 1, *, at: dt.datetime = NOW) -> list[outbox.Message]:
    with unit_of_work(database):
        return [outbox.emit("sms.otp", {"to": "+521", "n": i}, at) for i in range(n)]


def test_emit_writes_a_pending_message_with_a_stable_id(db) -> None:
    [message] = _emit()
    stored = outbox.get(message.message_id)
    assert stored == message
    assert (stored.state, stored.attempts, stored.next_attempt_at) == (PENDING, 0, NOW)
    assert stored.payload == {"to": "+521", "n": 0}
    assert stored.kind == "sms.otp"


def test_a_message_is_written_with_its_commands_money_or_not_at_all(db) -> None:
    with unit_of_work(db):
        wallet = accounts.player_wallet("ana", "MXN", NOW)
        cash = accounts.house_cash("MXN", NOW)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(wallet, -500), Leg(cash, 500)], now=NOW)
        outbox.emit("sms.deposit", {"amount": 500}, NOW)
        raise Boom
    assert (LedgerTxn.select().count(), OutboxMessage.select().count()) == (0, 0)
    with unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(wallet, -500), Leg(cash, 500)], now=NOW)
        outbox.emit("sms.deposit", {"amount": 500}, NOW)
    assert (LedgerTxn.select().count(), OutboxMessage.select().count()) == (1, 1)


def test_emit_outside_a_transaction_is_refused(db) -> None:
    with pytest.raises(RuntimeError, match="unit_of_work"):
        outbox.emit("sms.otp", {}, NOW)
    assert OutboxMessage.select().count() == 0


def test_a_message_id_is_unique(db) -> None:
    with unit_of_work(db):
        outbox.emit("sms.otp", {}, NOW, message_id="m-1")
    with pytest.raises(IntegrityError), unit_of_work(db):
        outbox.emit("sms.otp", {}, NOW, message_id="m-1")
    assert OutboxMessage.select().count() == 1


def test_claim_due_takes_due_pending_messages_oldest_first_up_to_the_limit(db) -> None:
    late = _emit(at=NOW + dt.timedelta(seconds=5))[0]
    first, second = _emit(2)
    future = _emit(at=NOW + dt.timedelta(hours=1))[0]
    claimed = outbox.claim_due(NOW + dt.timedelta(seconds=10), limit=2)
    assert [m.message_id for m in claimed] == [first.message_id, second.message_id]
    assert all((m.state, m.attempts) == (SENDING, 1) for m in claimed)
    assert outbox.get(first.message_id).state == SENDING
    again = outbox.claim_due(NOW + dt.timedelta(seconds=10), limit=10)
    assert [m.message_id for m in again] == [late.message_id]
    assert outbox.get(future.message_id).state == PENDING
    assert outbox.claim_due(NOW + dt.timedelta(seconds=10)) == []


def test_mark_sent_ends_the_message(db) -> None:
    [message] = _emit()
    outbox.claim_due(NOW)
    sent = outbox.mark_sent(message.message_id, LATER)
    assert (sent.state, sent.attempts, sent.updated_at) == (SENT, 1, LATER)
    assert outbox.claim_due(LATER + dt.timedelta(days=1)) == []


def test_a_failure_with_a_retry_time_comes_back_then(db) -> None:
    [message] = _emit()
    outbox.claim_due(NOW)
    retry_at = NOW + dt.timedelta(seconds=5)
    failed = outbox.mark_failed(message.message_id, "HTTP 503", retry_at, NOW)
    assert (failed.state, failed.next_attempt_at, failed.last_error) == (
        PENDING,
        retry_at,
        "HTTP 503",
    )
    assert outbox.claim_due(retry_at - dt.timedelta(seconds=1)) == []
    [back] = outbox.claim_due(retry_at)
    assert (back.message_id, back.attempts, back.state) == (message.message_id, 2, SENDING)


def test_a_failure_without_retries_is_dead_and_retry_sends_it_again(db) -> None:
    [message] = _emit()
    outbox.claim_due(NOW)
    dead = outbox.mark_failed(message.message_id, "HTTP 400 " + "x" * 5000, None, NOW)
    assert dead.state == DEAD
    assert len(dead.last_error or "") == outbox.ERROR_CHARS
    assert outbox.claim_due(NOW + dt.timedelta(days=2)) == []
    assert [m.message_id for m in outbox.in_state(DEAD)] == [message.message_id]
    revived = outbox.retry(message.message_id, LATER)
    assert (revived.state, revived.next_attempt_at, revived.attempts) == (PENDING, LATER, 1)
    [claimed] = outbox.claim_due(LATER)
    assert claimed.attempts == 2


def test_steps_out_of_order_are_refused(db) -> None:
    [message] = _emit()
    with pytest.raises(OutboxStateError):
        outbox.mark_sent(message.message_id, NOW)  # never claimed
    with pytest.raises(OutboxStateError):
        outbox.mark_failed(message.message_id, "x", None, NOW)
    with pytest.raises(OutboxStateError):
        outbox.retry(message.message_id, NOW)  # not dead
    outbox.claim_due(NOW)
    outbox.mark_sent(message.message_id, NOW)
    with pytest.raises(OutboxStateError):
        outbox.mark_sent(message.message_id, NOW)
    with pytest.raises(NotFound):
        outbox.retry("no-such-message", NOW)
    assert outbox.get(message.message_id).state == SENT


def test_a_claim_left_by_a_crashed_dispatcher_is_due_again_after_its_lease(db) -> None:
    [message] = _emit()
    lease = dt.timedelta(minutes=1)
    assert len(outbox.claim_due(NOW, lease=lease)) == 1
    assert outbox.claim_due(NOW + dt.timedelta(seconds=59), lease=lease) == []
    [again] = outbox.claim_due(NOW + lease, lease=lease)
    assert (again.message_id, again.attempts) == (message.message_id, 2)


def test_concurrent_claimers_never_claim_the_same_message(db) -> None:
    """Eight dispatchers claim in small batches at once until nothing is due (PostgreSQL:
    `FOR UPDATE SKIP LOCKED`; SQLite serialises writers)."""
    if not is_postgres(database):
        pytest.skip("PostgreSQL only: row locks with SKIP LOCKED")
    total, threads = 200, 8
    with unit_of_work(database):
        ids = {outbox.emit("sms.otp", {"n": i}, NOW).message_id for i in range(total)}
    barrier = threading.Barrier(threads)
    claims: list[list[str]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def claimer(i: int) -> None:
        try:
            barrier.wait()
            while batch := outbox.claim_due(NOW, limit=7):
                claims[i].extend(m.message_id for m in batch)
        except BaseException as exc:  # the test reports every failure
            errors.append(exc)
        finally:
            database.close()

    workers = [threading.Thread(target=claimer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a claimer hung"
    assert errors == []
    claimed = [m for batch in claims for m in batch]
    assert len(claimed) == len(set(claimed)) == total
    assert set(claimed) == ids
    assert sum(1 for batch in claims if batch) > 1  # the work was actually shared
    assert OutboxMessage.select().where(OutboxMessage.state == SENDING).count() == total
