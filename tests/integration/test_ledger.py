"""The ledger's rules on a real database: balance per currency, floors, holds, reversals,
append-only entries and cached balances (SPEC section 10, ARCHITECTURE convention 7)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from peewee import DatabaseError

from gateway.core import ledger, ledger_kinds
from gateway.core.errors import AlreadyReversed, CoreError, InsufficientFunds, Unbalanced
from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, Leg
from gateway.core.ledger_kinds import TxnKind
from gateway.core.reconcile import reconcile
from gateway.store.database import unit_of_work
from gateway.store.models import Account, Entry, Hold, LedgerTxn

NOW = dt.datetime(2026, 11, 21, 12, 0, 0)


def _account(
    db, code: str, kind: str, side: str, floor: int | None = None, currency: str = "MXN"
) -> Account:
    with unit_of_work(db):
        return ledger.ensure_account(AccountSpec(code, kind, currency, side, floor), NOW)


def _wallet(db, name: str = "ana", currency: str = "MXN") -> Account:
    return _account(db, f"player:{name}:wallet:{currency}", "player_wallet", CREDIT, 0, currency)


def _cash(db, currency: str = "MXN") -> Account:
    return _account(db, f"house:cash:{currency}", "house_cash", DEBIT, None, currency)


def _stakes(db, currency: str = "MXN") -> Account:
    return _account(db, f"operator:op:stakes:{currency}", "house_stakes", CREDIT, None, currency)


def _deposit(db, wallet: Account, cash: Account, amount: int) -> LedgerTxn:
    with unit_of_work(db):
        return ledger.post(
            "wallet.deposit", [Leg(wallet, -amount), Leg(cash, amount)], now=NOW, reference="dep"
        )


def _withdraw(db, wallet: Account, cash: Account, amount: int) -> LedgerTxn:
    with unit_of_work(db):
        return ledger.post("wallet.withdrawal", [Leg(wallet, amount), Leg(cash, -amount)], now=NOW)


def _hold(db, account: Account, amount: int, **kwargs: object) -> Hold:
    with unit_of_work(db):
        return ledger.place_hold(account, amount, now=NOW, **kwargs)  # type: ignore[arg-type]


def _bal(account: Account) -> tuple[int, int, int]:
    b = ledger.balance_of(account)
    return b.balance, b.held, b.available


def _counts() -> tuple[int, int]:
    return LedgerTxn.select().count(), Entry.select().count()


# --- balance ----------------------------------------------------------------------------


def test_balanced_transaction_writes_its_entries_and_moves_cached_balances(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    txn = _deposit(db, wallet, cash, 2500)
    entries = sorted((e.account_id, e.amount, e.currency) for e in txn.entries)
    assert entries == sorted([(wallet.id, -2500, "MXN"), (cash.id, 2500, "MXN")])
    assert LedgerTxn.get_by_id(txn.id).kind == "wallet.deposit"
    assert _bal(wallet) == (2500, 0, 2500)  # credit-normal: a credit raises it
    assert _bal(cash) == (2500, 0, 2500)  # debit-normal: a debit raises it


def test_unbalanced_transaction_is_refused_and_writes_nothing(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 1000)
    before = _counts()
    with pytest.raises(Unbalanced) as refused, unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(wallet, -500), Leg(cash, 499)], now=NOW)
    assert refused.value.details["per_currency"] == {"MXN": -1}
    assert _counts() == before
    assert _bal(wallet) == (1000, 0, 1000)
    assert _bal(cash) == (1000, 0, 1000)


def test_transaction_must_balance_in_each_currency_separately(db) -> None:
    mxn, usd = _cash(db, "MXN"), _cash(db, "USD")
    before = _counts()
    with pytest.raises(Unbalanced), unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(mxn, 100), Leg(usd, -100)], now=NOW)
    assert _counts() == before


def test_a_transaction_needs_two_non_zero_entries(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    with pytest.raises(Unbalanced), unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(cash, 0), Leg(wallet, 0)], now=NOW)
    with pytest.raises(Unbalanced), unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(cash, 0)], now=NOW)
    assert _counts() == (0, 0)


def test_zero_legs_are_dropped(db) -> None:
    wallet, cash, stakes = _wallet(db), _cash(db), _stakes(db)
    txn = _deposit(db, wallet, cash, 300)
    with unit_of_work(db):
        txn = ledger.post(
            "wallet.deposit", [Leg(cash, 10), Leg(stakes, 0), Leg(wallet, -10)], now=NOW
        )
    assert Entry.select().where(Entry.txn == txn.id).count() == 2


def test_ledger_writes_outside_a_unit_of_work_are_refused(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    with pytest.raises(RuntimeError, match="unit_of_work"):
        ledger.post("wallet.deposit", [Leg(wallet, -1), Leg(cash, 1)], now=NOW)
    with pytest.raises(RuntimeError, match="unit_of_work"):
        ledger.place_hold(wallet, 1, now=NOW)


def test_a_failure_later_in_the_unit_of_work_rolls_the_posting_back(db) -> None:
    wallet, cash = _wallet(db), _cash(db)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(wallet, -700), Leg(cash, 700)], now=NOW)
        raise Boom
    assert _counts() == (0, 0)
    assert _bal(wallet) == (0, 0, 0)


def test_ensure_account_returns_the_existing_account(db) -> None:
    first = _wallet(db)
    again = _wallet(db)
    assert again.id == first.id
    assert Account.select().where(Account.code == first.code).count() == 1


def test_an_account_another_process_created_is_read_as_peewee_reads_it(db) -> None:
    """`ensure_account` of an account this process has not seen (not remembered yet) reads
    it with hand-written SQL: every field as peewee's own query gives it, and nothing to
    save (a `save()` of it would write no column)."""
    wallet = _wallet(db, "eva")
    house = _cash(db)
    ledger._KNOWN.clear()  # as in another process
    for original in (wallet, house):
        with unit_of_work(db):
            read = ledger.ensure_account(
                AccountSpec(original.code, original.kind, original.currency, "x", None), NOW
            )
        expected = Account.get_by_id(original.id)
        assert read.__data__ == expected.__data__
        assert isinstance(read.caches_balance, bool) and isinstance(read.created_at, dt.datetime)
        assert read.floor == expected.floor and read.id == original.id
        assert read.dirty_fields == []
    assert Account.select().where(Account.code.in_([wallet.code, house.code])).count() == 2


# --- floors -------------------------------------------------------------------------------


def test_withdrawal_beyond_the_balance_is_refused_and_writes_nothing(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 1000)
    before = _counts()
    with pytest.raises(InsufficientFunds) as refused:
        _withdraw(db, wallet, cash, 1001)
    assert refused.value.details == {"account": wallet.code, "available": 1000, "needed": 1001}
    assert _counts() == before
    _withdraw(db, wallet, cash, 1000)
    assert _bal(wallet) == (0, 0, 0)


def test_the_floor_applies_to_the_available_amount(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 1000)
    _hold(db, wallet, 600)
    with pytest.raises(InsufficientFunds):
        _withdraw(db, wallet, cash, 401)
    _withdraw(db, wallet, cash, 400)
    assert _bal(wallet) == (600, 600, 0)


def test_an_account_without_a_floor_may_go_negative(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 100)
    _withdraw(db, wallet, cash, 100)
    window = _account(db, "ventana:v1:cash:MXN", "window_cash", DEBIT)
    with unit_of_work(db):  # the house pays out more cash than it took in
        ledger.post("account.payment", [Leg(cash, -250), Leg(window, 250)], now=NOW)
    assert _bal(cash) == (-250, 0, -250)


def test_allow_overdraft_lets_a_named_account_below_its_floor(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    with unit_of_work(db):
        ledger.post(
            "wallet.withdrawal",
            [Leg(wallet, 300), Leg(cash, -300)],
            now=NOW,
            allow_overdraft=[wallet.id],
        )
    assert _bal(wallet) == (-300, 0, -300)


def test_a_credit_to_an_account_below_its_floor_is_allowed(db) -> None:
    """Money coming in is never refused, even into an account in debt."""
    wallet, cash = _wallet(db), _cash(db)
    with unit_of_work(db):
        ledger.post(
            "wallet.withdrawal",
            [Leg(wallet, 300), Leg(cash, -300)],
            now=NOW,
            allow_overdraft=[wallet.id],
        )
    _deposit(db, wallet, cash, 100)
    assert _bal(wallet) == (-200, 0, -200)


# --- holds -------------------------------------------------------------------------------


def test_a_hold_reduces_available_never_balance(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 1000)
    hold = _hold(db, wallet, 300, reference="ticket-1")
    assert (hold.status, hold.amount, hold.reference) == ("open", 300, "ticket-1")
    assert _bal(wallet) == (1000, 300, 700)
    assert _counts() == (1, 2)  # a hold writes no ledger transaction


def test_a_hold_beyond_available_is_refused(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 500)
    _hold(db, wallet, 400)
    with pytest.raises(InsufficientFunds):
        _hold(db, wallet, 101)
    assert Hold.select().count() == 1
    assert _bal(wallet) == (500, 400, 100)


@pytest.mark.parametrize("amount", [0, -5])
def test_a_hold_must_be_positive(db, amount: int) -> None:
    wallet = _wallet(db)
    with pytest.raises(Unbalanced):
        _hold(db, wallet, amount)


def test_posting_a_hold_fully_moves_the_money(db) -> None:
    wallet, cash, stakes = _wallet(db), _cash(db), _stakes(db)
    _deposit(db, wallet, cash, 1000)
    hold = _hold(db, wallet, 400)
    with unit_of_work(db):
        txn = ledger.post_hold(
            hold, 400, [Leg(stakes, -400)], kind="bet.stake", now=NOW, reference="ticket-1"
        )
    assert _bal(wallet) == (600, 0, 600)
    assert _bal(stakes) == (400, 0, 400)
    row = Hold.get_by_id(hold.id)
    assert (row.status, row.posted_amount, row.posted_txn_id) == ("posted", 400, txn.id)
    assert row.closed_at == NOW


def test_posting_part_of_a_hold_releases_the_remainder(db) -> None:
    wallet, cash, stakes = _wallet(db), _cash(db), _stakes(db)
    _deposit(db, wallet, cash, 1000)
    hold = _hold(db, wallet, 400)
    with unit_of_work(db):
        ledger.post_hold(hold, 150, [Leg(stakes, -150)], kind="bet.stake", now=NOW)
    assert _bal(wallet) == (850, 0, 850)
    row = Hold.get_by_id(hold.id)
    assert (row.status, row.posted_amount) == ("posted", 150)


@pytest.mark.parametrize("amount", [0, 401])
def test_a_hold_posts_between_one_and_its_amount(db, amount: int) -> None:
    wallet, cash, stakes = _wallet(db), _cash(db), _stakes(db)
    _deposit(db, wallet, cash, 1000)
    hold = _hold(db, wallet, 400)
    with pytest.raises(Unbalanced), unit_of_work(db):
        ledger.post_hold(hold, amount, [Leg(stakes, -amount)], kind="bet.stake", now=NOW)
    assert Hold.get_by_id(hold.id).status == "open"
    assert _bal(wallet) == (1000, 400, 600)


def test_a_posted_hold_whose_counter_legs_do_not_balance_stays_open(db) -> None:
    wallet, cash, stakes = _wallet(db), _cash(db), _stakes(db)
    _deposit(db, wallet, cash, 1000)
    hold = _hold(db, wallet, 400)
    with pytest.raises(Unbalanced), unit_of_work(db):
        ledger.post_hold(hold, 400, [Leg(stakes, -300)], kind="bet.stake", now=NOW)
    assert Hold.get_by_id(hold.id).status == "open"
    assert _bal(wallet) == (1000, 400, 600)
    assert _counts() == (1, 2)


def test_releasing_a_hold_gives_back_available(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 1000)
    hold = _hold(db, wallet, 400)
    with unit_of_work(db):
        released = ledger.release_hold(hold, now=NOW)
    assert released.status == "released"
    assert Hold.get_by_id(hold.id).status == "released"
    assert _bal(wallet) == (1000, 0, 1000)


def test_a_closed_hold_cannot_be_posted_or_released_again(db) -> None:
    wallet, cash, stakes = _wallet(db), _cash(db), _stakes(db)
    _deposit(db, wallet, cash, 1000)
    hold = _hold(db, wallet, 400)
    with unit_of_work(db):
        ledger.release_hold(hold, now=NOW)
    with pytest.raises(CoreError, match="released"), unit_of_work(db):
        ledger.release_hold(hold, now=NOW)
    with pytest.raises(CoreError, match="released"), unit_of_work(db):
        ledger.post_hold(hold, 400, [Leg(stakes, -400)], kind="bet.stake", now=NOW)
    assert _bal(wallet) == (1000, 0, 1000)
    assert _bal(stakes) == (0, 0, 0)


def test_holds_past_their_deadline_are_due_and_expire(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 1000)
    soon = _hold(db, wallet, 100, expires_at=NOW + dt.timedelta(minutes=5))
    later = _hold(db, wallet, 200, expires_at=NOW + dt.timedelta(minutes=30))
    _hold(db, wallet, 300)  # no deadline: never due
    at = NOW + dt.timedelta(minutes=10)
    with unit_of_work(db):
        due = ledger.due_holds(at)
        assert [h.id for h in due] == [soon.id]
        for hold in due:
            ledger.release_hold(hold, now=at, expired=True)
    assert Hold.get_by_id(soon.id).status == "expired"
    assert Hold.get_by_id(later.id).status == "open"
    assert _bal(wallet) == (1000, 500, 500)
    with unit_of_work(db):
        assert ledger.due_holds(at) == []
        assert [h.id for h in ledger.due_holds(at + dt.timedelta(hours=1))] == [later.id]


# --- reversals ----------------------------------------------------------------------------


def test_a_reversal_mirrors_its_original(db) -> None:
    wallet, cash, stakes = _wallet(db), _cash(db), _stakes(db)
    excise = _account(db, "tax:excise:MXN", "tax_liability", CREDIT)
    _deposit(db, wallet, cash, 1000)
    with unit_of_work(db):
        original = ledger.post(
            "bet.stake",
            [Leg(wallet, 300), Leg(stakes, -250), Leg(excise, -50)],
            now=NOW,
            reference="t-9",
        )
    with unit_of_work(db):
        reversal = ledger.reverse(original, now=NOW, actor="ops", memo="mistake")
    assert reversal.reverses_id == original.id
    assert (reversal.kind, reversal.reference, reversal.actor) == (
        "bet.stake.reversal",
        "t-9",
        "ops",
    )
    mine = sorted((e.account_id, e.amount) for e in reversal.entries)
    theirs = sorted((e.account_id, -e.amount) for e in original.entries)
    assert mine == theirs
    assert _bal(wallet) == (1000, 0, 1000)
    assert _bal(stakes) == (0, 0, 0)
    assert reconcile().ok


def test_a_transaction_is_reversed_only_once(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    original = _deposit(db, wallet, cash, 1000)
    with unit_of_work(db):
        ledger.reverse(original, now=NOW)
    with pytest.raises(AlreadyReversed), unit_of_work(db):
        ledger.reverse(original, now=NOW)
    assert _bal(wallet) == (0, 0, 0)
    assert LedgerTxn.select().where(LedgerTxn.reverses == original.id).count() == 1


def test_a_reversal_may_not_push_a_wallet_below_its_floor_unless_allowed(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    deposit = _deposit(db, wallet, cash, 1000)
    _withdraw(db, wallet, cash, 800)
    with pytest.raises(InsufficientFunds), unit_of_work(db):
        ledger.reverse(deposit, now=NOW)
    assert LedgerTxn.select().where(LedgerTxn.reverses == deposit.id).count() == 0
    with unit_of_work(db):
        ledger.reverse(deposit, now=NOW, allow_overdraft=[wallet.id])
    assert _bal(wallet) == (-800, 0, -800)


def test_a_reversal_can_itself_be_reversed(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    deposit = _deposit(db, wallet, cash, 1000)
    with unit_of_work(db):
        undo = ledger.reverse(deposit, now=NOW)
    with unit_of_work(db):
        redo = ledger.reverse(undo, now=NOW, kind="wallet.deposit")  # an explicit kind
    assert redo.reverses_id == undo.id
    assert _bal(wallet) == (1000, 0, 1000)
    assert reconcile().ok


def test_reversal_chains_keep_a_kind_that_fits_the_column(db) -> None:
    """Reversing a reversal (and so on) must not build a kind longer than the column
    (`LedgerTxn.kind` is varchar(40): PostgreSQL refuses the insert, SQLite stores it)."""
    wallet, cash = _wallet(db), _cash(db)
    _deposit(db, wallet, cash, 100)
    txn = _withdraw(db, wallet, cash, 100)  # "wallet.withdrawal": 17 characters
    for _ in range(4):
        with unit_of_work(db):
            txn = ledger.reverse(txn, now=NOW, allow_overdraft=[wallet.id])
        assert len(txn.kind) <= LedgerTxn.kind.max_length
    assert _bal(wallet) == (0, 0, 0)


# --- append-only --------------------------------------------------------------------------


def test_entries_cannot_be_updated_or_deleted(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    txn = _deposit(db, wallet, cash, 1000)
    entry = Entry.select().where(Entry.txn == txn.id).first()
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        Entry.update(amount=-999_999).where(Entry.id == entry.id).execute()
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        Entry.delete().where(Entry.id == entry.id).execute()
    assert Entry.get_by_id(entry.id).amount == entry.amount
    assert Entry.select().count() == 2


def test_transactions_cannot_be_updated_or_deleted(db) -> None:
    wallet, cash = _wallet(db), _cash(db)
    txn = _deposit(db, wallet, cash, 1000)
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        LedgerTxn.update(kind="other").where(LedgerTxn.id == txn.id).execute()
    with pytest.raises(DatabaseError, match="append-only"), unit_of_work(db):
        LedgerTxn.delete().where(LedgerTxn.id == txn.id).execute()
    assert LedgerTxn.get_by_id(txn.id).kind == "wallet.deposit"


# --- cached balances ----------------------------------------------------------------------


def test_cached_balances_equal_the_sum_of_entries(db) -> None:
    wallets = [_wallet(db, f"p{i}") for i in range(3)]
    cash, stakes = _cash(db), _stakes(db)
    for i, wallet in enumerate(wallets):
        _deposit(db, wallet, cash, 1000 * (i + 1))
    transfer = TxnKind("test.transfer", frozenset({"player_wallet"}), "wallet to wallet")
    with ledger_kinds.registered(transfer), unit_of_work(db):
        ledger.post("test.transfer", [Leg(wallets[2], 700), Leg(wallets[0], -700)], now=NOW)
        ledger.post("bet.stake", [Leg(wallets[1], 1500), Leg(stakes, -1500)], now=NOW)
    _withdraw(db, wallets[0], cash, 200)
    for account in [*wallets, cash, stakes]:
        row = Account.get_by_id(account.id)
        total = sum(e.amount for e in Entry.select().where(Entry.account == account.id))
        assert row.balance == (total if row.normal_side == DEBIT else -total)
    assert [_bal(w)[0] for w in wallets] == [1500, 500, 2300]
    assert _bal(cash)[0] == 5800
    assert reconcile().ok


def test_entries_take_the_currency_of_their_account(db) -> None:
    a = _account(db, f"a:{uuid.uuid4()}", "x", DEBIT, None, "BTC")
    b = _account(db, f"b:{uuid.uuid4()}", "x", CREDIT, None, "BTC")
    btc = TxnKind("test.btc", frozenset({"x"}), "between two test accounts")
    with ledger_kinds.registered(btc), unit_of_work(db):
        txn = ledger.post("test.btc", [Leg(a, 1), Leg(b, -1)], now=NOW)
    assert {e.currency for e in txn.entries} == {"BTC"}
