"""The ledger under concurrent requests: row locks (PostgreSQL) or the single writer
(SQLite) must make racing withdrawals, holds, transfers and reversals come out exactly as
if they ran one after another, with no deadlock and nothing below a floor."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from typing import Any

from gateway.core import ledger, ledger_kinds, tickets
from gateway.core.errors import AlreadyReversed, CoreError, InsufficientFunds
from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, Leg
from gateway.core.ledger_kinds import TxnKind
from gateway.core.reconcile import reconcile
from gateway.store.database import database, is_postgres, unit_of_work
from gateway.store.models import Account, Hold, LedgerTxn, Ticket
from tests.concurrency import in_threads

NOW = dt.datetime(2026, 11, 21, 12, 0, 0)
THREADS = 32


def _account(code: str, kind: str, side: str, floor: int | None = None) -> Account:
    with unit_of_work(database):
        return ledger.ensure_account(AccountSpec(code, kind, "MXN", side, floor), NOW)


def _wallet(name: str) -> Account:
    return _account(f"player:{name}:wallet:MXN", "player_wallet", CREDIT, 0)


def _fund(wallet: Account, cash: Account, amount: int) -> LedgerTxn:
    with unit_of_work(database):
        return ledger.post("wallet.deposit", [Leg(wallet, -amount), Leg(cash, amount)], now=NOW)


def _reserve(wallet: Account, amount: int) -> Hold:
    """A reserved wallet ticket with its hold, as `betengine.place(reserve=True)` writes them
    (inside the caller's unit of work)."""
    ticket_id = str(uuid.uuid4())
    hold = ledger.place_hold(wallet, amount, now=NOW, reference=ticket_id)
    Ticket.create(
        id=ticket_id,
        channel="test",
        operator="op",
        external_id=ticket_id,
        currency="MXN",
        status=tickets.RESERVED,
        price=amount,
        stake=amount,
        hold=hold.id,
        created_at=NOW,
        updated_at=NOW,
    )
    return hold


def _balance(account: Account) -> tuple[int, int]:
    row = Account.get_by_id(account.id)
    return row.balance, row.held


def test_racing_withdrawals_succeed_exactly_as_far_as_the_money_goes(db) -> None:
    wallet = _wallet("ana")
    cash = _account("house:cash:MXN", "house_cash", DEBIT)
    _fund(wallet, cash, 1000)

    def withdraw(i: int) -> int:
        with unit_of_work(database):
            ledger.post("wallet.withdrawal", [Leg(wallet, 100), Leg(cash, -100)], now=NOW)
            return ledger.balance_of(wallet).balance  # as this transaction leaves it

    results = in_threads(THREADS, withdraw)
    balances = [r for r in results if isinstance(r, int)]
    refusals = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(balances) == 10
    assert len(refusals) == THREADS - 10, [r for r in results if isinstance(r, Exception)]
    assert sorted(balances) == list(range(0, 1000, 100))  # one after another, never below 0
    assert _balance(wallet) == (0, 0)
    assert LedgerTxn.select().where(LedgerTxn.kind == "wallet.withdrawal").count() == 10
    assert reconcile().ok


def test_racing_holds_never_reserve_more_than_available(db) -> None:
    wallet = _wallet("ana")
    cash = _account("house:cash:MXN", "house_cash", DEBIT)
    _fund(wallet, cash, 1000)

    def hold(i: int) -> str:
        with unit_of_work(database):
            return _reserve(wallet, 100).id

    results = in_threads(THREADS, hold)
    placed = [r for r in results if isinstance(r, str)]
    assert len(placed) == 10
    assert all(isinstance(r, InsufficientFunds) for r in results if not isinstance(r, str))
    assert _balance(wallet) == (1000, 1000)
    assert reconcile().ok

    stakes = _account("operator:op:stakes:MXN", "house_stakes", CREDIT)

    def settle(i: int) -> None:
        """Half the holds are posted (one of them partly), half released, all at once."""
        hold = Hold.get_by_id(placed[i])
        with unit_of_work(database):
            if i % 2:
                ledger.release_hold(hold, now=NOW)
                status = tickets.CANCELLED
            else:
                amount = 40 if i == 0 else 100
                ledger.post_hold(
                    hold,
                    amount,
                    [Leg(stakes, -amount)],
                    kind="bet.stake",
                    now=NOW,
                    reference=hold.reference,
                )
                status = tickets.OPEN
            Ticket.update(status=status).where(Ticket.id == hold.reference).execute()

    assert in_threads(len(placed), settle) == [None] * len(placed)
    assert _balance(wallet) == (1000 - 440, 0)
    assert _balance(stakes) == (440, 0)
    assert reconcile().ok


def test_opposite_transfers_between_two_wallets_do_not_deadlock(db) -> None:
    """Locks are taken in ascending account id order whatever the legs' order."""
    a, b = _wallet("ana"), _wallet("bea")
    cash = _account("house:cash:MXN", "house_cash", DEBIT)
    _fund(a, cash, 10_000)
    _fund(b, cash, 10_000)

    def shuffle(i: int) -> None:
        source, target = (a, b) if i % 2 else (b, a)
        for _ in range(5):
            with unit_of_work(database):
                ledger.post("wallet.transfer", [Leg(source, 10), Leg(target, -10)], now=NOW)

    transfer = TxnKind("wallet.transfer", frozenset({"player_wallet"}), "wallet to wallet")
    with ledger_kinds.registered(transfer):  # the ledger's mechanics, no service posts it
        assert in_threads(THREADS, shuffle) == [None] * THREADS
    assert _balance(a) == _balance(b) == (10_000, 0)
    assert LedgerTxn.select().where(LedgerTxn.kind == "wallet.transfer").count() == THREADS * 5
    assert reconcile().ok


def test_racing_reversals_of_one_transaction_reverse_it_once(db) -> None:
    wallet = _wallet("ana")
    cash = _account("house:cash:MXN", "house_cash", DEBIT)
    deposit = _fund(wallet, cash, 700)

    def undo(i: int) -> int:
        with unit_of_work(database):
            return ledger.reverse(LedgerTxn.get_by_id(deposit.id), now=NOW).id

    results = in_threads(16, undo)
    assert len([r for r in results if isinstance(r, int)]) == 1
    assert all(isinstance(r, CoreError) for r in results if not isinstance(r, int)), results
    assert _balance(wallet) == (0, 0)
    assert reconcile().ok


def test_a_reversal_that_loses_the_race_is_told_already_reversed(db) -> None:
    """The second of two reversals of one deposit must answer `already_reversed` (SPEC 6:
    twice -> ALREADY_REVERSED), not `insufficient_funds` from re-checking the floor after
    the first committed. The first holds its transaction open until the second waits."""
    wallet = _wallet("ana")
    cash = _account("house:cash:MXN", "house_cash", DEBIT)
    deposit = _fund(wallet, cash, 700)
    reversed_once = threading.Event()
    outcomes: dict[str, Any] = {}

    def reverse(name: str) -> None:
        try:
            if name == "second":
                reversed_once.wait(10)
            with unit_of_work(database):
                ledger.reverse(LedgerTxn.get_by_id(deposit.id), now=NOW)
                if name == "first":
                    reversed_once.set()
                    _wait_until_blocked_by_me()
            outcomes[name] = "ok"
        except Exception as exc:  # the test reports what went wrong
            outcomes[name] = exc
        finally:
            database.close()

    threads = [threading.Thread(target=reverse, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes["first"] == "ok"
    assert isinstance(outcomes["second"], AlreadyReversed), outcomes
    assert _balance(wallet) == (0, 0)


def _wait_until_blocked_by_me(timeout: float = 5.0) -> None:
    """Return once another session waits for a lock this session holds (PostgreSQL); on
    SQLite the other writer waits at BEGIN IMMEDIATE, so a short pause stands in."""
    if not is_postgres(database):
        time.sleep(0.3)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = database.execute_sql(
            "SELECT count(*) FROM pg_locks WHERE NOT granted "
            "AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.02)


def test_posting_a_hold_while_the_wallet_is_debited_does_not_deadlock(db, monkeypatch) -> None:
    """`post_hold` and a plain `post` on the same wallet and counter account must lock in
    one order. Here the counter account has the lower id (created first, as an operator's
    stakes account is before a new player's wallet): the hold's poster pauses after its
    first lock until the other transaction waits on it, then carries on."""
    stakes = _account("operator:op:stakes:MXN", "house_stakes", CREDIT)
    wallet = _wallet("ana")
    cash = _account("house:cash:MXN", "house_cash", DEBIT)
    assert stakes.id < wallet.id
    _fund(wallet, cash, 1000)
    with unit_of_work(database):
        hold = _reserve(wallet, 300)

    first_lock_taken = threading.Event()
    real_lock = ledger._lock

    def lock_then_pause(account_ids):  # type: ignore[no-untyped-def]
        rows = real_lock(account_ids)
        if threading.current_thread().name == "poster" and not first_lock_taken.is_set():
            first_lock_taken.set()
            _wait_until_blocked_by_me()
        return rows

    monkeypatch.setattr(ledger, "_lock", lock_then_pause)
    outcomes: dict[str, Any] = {}

    def post_the_hold() -> None:
        try:
            with unit_of_work(database):
                ledger.post_hold(
                    Hold.get_by_id(hold.id),
                    300,
                    [Leg(stakes, -300)],
                    kind="bet.stake",
                    now=NOW,
                    reference=hold.reference,
                )
                Ticket.update(status=tickets.OPEN).where(Ticket.id == hold.reference).execute()
            outcomes["poster"] = "ok"
        except Exception as exc:  # the test reports what went wrong
            outcomes["poster"] = exc
        finally:
            database.close()

    def place_a_bet() -> None:
        first_lock_taken.wait(10)
        try:
            with unit_of_work(database):
                ledger.post("bet.stake", [Leg(wallet, 100), Leg(stakes, -100)], now=NOW)
            outcomes["bettor"] = "ok"
        except Exception as exc:  # the test reports what went wrong
            outcomes["bettor"] = exc
        finally:
            database.close()

    threads = [
        threading.Thread(target=post_the_hold, name="poster"),
        threading.Thread(target=place_a_bet, name="bettor"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == {"poster": "ok", "bettor": "ok"}
    assert _balance(wallet) == (600, 0)
    assert reconcile().ok


def test_many_wallets_settle_concurrently_and_reconcile(db) -> None:
    """Each thread has its own wallet: deposits, holds, postings and withdrawals in parallel
    leave every account exactly where a serial run would."""
    cash = _account("house:cash:MXN", "house_cash", DEBIT)
    stakes = _account("operator:op:stakes:MXN", "house_stakes", CREDIT)
    threads = THREADS
    wallets = [_wallet(f"p{i}") for i in range(threads)]

    def life(i: int) -> None:
        wallet = wallets[i]
        _fund(wallet, cash, 500)
        with unit_of_work(database):
            hold = _reserve(wallet, 200)
        with unit_of_work(database):
            ledger.post_hold(hold, 150, [Leg(stakes, -150)], kind="bet.stake", now=NOW)
            Ticket.update(status=tickets.OPEN).where(Ticket.id == hold.reference).execute()
        with unit_of_work(database):
            ledger.post("wallet.withdrawal", [Leg(wallet, 350), Leg(cash, -350)], now=NOW)

    assert in_threads(threads, life) == [None] * threads
    assert {_balance(w) for w in wallets} == {(0, 0)}
    assert _balance(cash) == (150 * threads, 0)
    assert _balance(stakes) == (150 * threads, 0)
    assert reconcile().ok
