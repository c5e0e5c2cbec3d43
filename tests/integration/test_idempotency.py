"""Idempotency keys: a key produces one effect and one stored result, whoever asks and
however many ask at once; a refused command stores nothing (gateway.core.idempotency,
gateway.core.commands)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.core import audit, idempotency, ledger
from gateway.core.audit import Actor
from gateway.core.commands import Context, Done, IdemKey, run
from gateway.core.errors import IdempotencyConflict, InsufficientFunds
from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, Leg
from gateway.core.players import CashMovement, NewPlayer, create_player, move_cash
from gateway.core.principal import ADMIN, Principal
from gateway.core.reconcile import reconcile
from gateway.core.results import result
from gateway.store.database import database, unit_of_work
from gateway.store.models import Account, AuditRecord, IdempotencyRecord, LedgerTxn
from tests.concurrency import in_threads


@result
@dataclass(frozen=True)
class Posted:
    """A test command's result (registered like every command result)."""

    txn: int
    amount: int


NOW = dt.datetime(2026, 11, 21, 12, 0, 0)
CTX = Context(actor=Actor("user", "cashier-1"), now=NOW, request_id="req-1")
ADMIN_USER = Principal(user_id="admin-1", role=ADMIN)
THREADS = 32


def _accounts() -> tuple[Account, Account]:
    with unit_of_work(database):
        wallet = ledger.ensure_account(
            AccountSpec("player:p:wallet:MXN", "player_wallet", "MXN", CREDIT, 0), NOW
        )
        cash = ledger.ensure_account(AccountSpec("house:cash:MXN", "house_cash", "MXN", DEBIT), NOW)
    return wallet, cash


def _player() -> str:
    outcome = create_player(
        CTX, ADMIN_USER, NewPlayer(msisdn="+50688887777", lang="es", currency="MXN")
    )
    return str(outcome.result.id)


def _wallet_balance(player_id: str) -> int:
    return Account.get(Account.code == f"player:{player_id}:wallet:MXN").balance


# --- the store ------------------------------------------------------------------------------


def test_a_new_key_is_claimed_then_replays_its_stored_result(db) -> None:
    fp = idempotency.fingerprint({"amount": 100})
    with unit_of_work(db):
        assert idempotency.claim("user:1", "k-1", fp, NOW) is None
        idempotency.complete("user:1", "k-1", True, Posted(txn=7, amount=100))
    with unit_of_work(db):
        replay = idempotency.claim("user:1", "k-1", fp, NOW)
    assert replay == idempotency.Replay(created=True, result=Posted(txn=7, amount=100))


def test_a_key_reused_for_another_request_is_a_conflict(db) -> None:
    with unit_of_work(db):
        idempotency.claim("user:1", "k-1", idempotency.fingerprint({"amount": 100}), NOW)
        idempotency.complete("user:1", "k-1", True, None)
    with pytest.raises(IdempotencyConflict), unit_of_work(db):
        idempotency.claim("user:1", "k-1", idempotency.fingerprint({"amount": 101}), NOW)


def test_keys_are_scoped(db) -> None:
    fp = idempotency.fingerprint({"amount": 100})
    with unit_of_work(db):
        assert idempotency.claim("user:1", "k-1", fp, NOW) is None
        assert idempotency.claim("user:2", "k-1", fp, NOW) is None
    assert IdempotencyRecord.select().count() == 2


def test_the_fingerprint_ignores_key_order() -> None:
    assert idempotency.fingerprint({"a": 1, "b": [1, 2]}) == idempotency.fingerprint(
        {"b": [1, 2], "a": 1}
    )
    assert idempotency.fingerprint({"a": 1}) != idempotency.fingerprint({"a": 2})


def test_prune_deletes_only_records_older_than_the_cutoff(db) -> None:
    with unit_of_work(db):
        for days, key in ((200, "old"), (121, "older-than-120"), (30, "recent")):
            IdempotencyRecord.create(
                scope="s",
                key=key,
                fingerprint="f",
                status_code=200,
                response_body="{}",
                created_at=NOW - dt.timedelta(days=days),
            )
    with unit_of_work(db):
        assert idempotency.prune(NOW - dt.timedelta(days=120)) == 2
    assert [r.key for r in IdempotencyRecord.select()] == ["recent"]


# --- commands.run ----------------------------------------------------------------------------


def _deposit_command(wallet: Account, cash: Account, amount: int, calls: list[int]) -> Any:
    def body() -> Done:
        calls.append(1)
        txn = ledger.post("wallet.deposit", [Leg(wallet, -amount), Leg(cash, amount)], now=NOW)
        return Done(Posted(txn=txn.id, amount=amount), created=True, target_id=str(txn.id))

    return body


def test_run_executes_a_key_once_and_replays_it(db) -> None:
    wallet, cash = _accounts()
    calls: list[int] = []
    key = IdemKey("user:cashier-1", "deposit:1", idempotency.fingerprint({"amount": 500}))
    body = _deposit_command(wallet, cash, 500, calls)
    first = run(CTX, "DEPOSIT", body, target_type="player", idem=key)
    again = run(CTX, "DEPOSIT", body, target_type="player", idem=key)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.created and first.created
    assert again.result == first.result
    assert calls == [1]
    assert Account.get_by_id(wallet.id).balance == 500
    assert [r.result for r in AuditRecord.select().order_by(AuditRecord.seq)] == ["ok", "replayed"]


def test_a_refused_command_stores_nothing_and_may_be_retried(db) -> None:
    wallet, cash = _accounts()
    key = IdemKey("user:cashier-1", "withdraw:1", idempotency.fingerprint({"amount": 300}))

    def withdraw() -> Done:
        txn = ledger.post("wallet.withdrawal", [Leg(wallet, 300), Leg(cash, -300)], now=NOW)
        return Done(Posted(txn=txn.id, amount=0), created=True)

    with pytest.raises(InsufficientFunds):
        run(CTX, "WITHDRAW", withdraw, idem=key)
    assert IdempotencyRecord.select().count() == 0
    assert AuditRecord.get(AuditRecord.seq == 1).result == "rejected:insufficient_funds"
    run(CTX, "DEPOSIT", _deposit_command(wallet, cash, 1000, []))
    outcome = run(CTX, "WITHDRAW", withdraw, idem=key)
    assert not outcome.replayed
    assert Account.get_by_id(wallet.id).balance == 700
    assert audit.verify().ok


# --- racing duplicates -----------------------------------------------------------------------


def test_racing_duplicates_of_one_command_move_money_once(db) -> None:
    wallet, cash = _accounts()
    calls: list[int] = []
    key = IdemKey("user:cashier-1", "deposit:race", idempotency.fingerprint({"amount": 250}))
    body = _deposit_command(wallet, cash, 250, calls)

    outcomes = in_threads(THREADS, lambda i: run(CTX, "DEPOSIT", body, idem=key))
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert errors == []
    assert len(calls) == 1
    assert [o.replayed for o in outcomes].count(False) == 1
    assert {o.result for o in outcomes} == {outcomes[0].result}
    assert Account.get_by_id(wallet.id).balance == 250
    assert LedgerTxn.select().count() == 1
    assert AuditRecord.select().count() == THREADS
    assert audit.verify().ok
    assert reconcile().ok


def test_racing_cash_deposits_with_one_key_credit_the_wallet_once(db) -> None:
    player_id = _player()
    cmd = CashMovement(
        player_id=player_id, amount=12_345, method="cash", idempotency_key="dep-0001"
    )

    outcomes = in_threads(THREADS, lambda i: move_cash(CTX, ADMIN_USER, cmd, deposit=True))
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert [o.replayed for o in outcomes].count(False) == 1
    assert len({o.result for o in outcomes}) == 1
    assert {o.created for o in outcomes} == {True}  # replays say created too (201 → 200 cached)
    assert _wallet_balance(player_id) == 12_345
    assert LedgerTxn.select().where(LedgerTxn.kind == "wallet.deposit").count() == 1
    assert reconcile().ok


def test_racing_withdrawals_with_one_key_debit_the_wallet_once(db) -> None:
    player_id = _player()
    move_cash(CTX, ADMIN_USER, CashMovement(player_id, 1000, "cash", "fund-0001"), deposit=True)
    cmd = CashMovement(player_id=player_id, amount=600, method="cash", idempotency_key="wd-0001")

    outcomes = in_threads(THREADS, lambda i: move_cash(CTX, ADMIN_USER, cmd, deposit=False))
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert [o.replayed for o in outcomes].count(False) == 1
    assert len({o.result for o in outcomes}) == 1
    assert _wallet_balance(player_id) == 400
    assert reconcile().ok


def test_racing_requests_reusing_a_key_with_other_amounts_are_conflicts(db) -> None:
    player_id = _player()

    def deposit(i: int) -> Any:
        cmd = CashMovement(player_id, 100 + i, "cash", "same-key-01")
        return move_cash(CTX, ADMIN_USER, cmd, deposit=True)

    outcomes = in_threads(THREADS, deposit)
    done = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(done) == 1
    assert all(isinstance(o, IdempotencyConflict) for o in outcomes if isinstance(o, Exception))
    assert _wallet_balance(player_id) == done[0].result.amount
    assert reconcile().ok
