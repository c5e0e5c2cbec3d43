"""Every ledger transaction has a declared kind that names the accounts it may touch:
`ledger.post` refuses an unknown kind, or an account its kind may not touch, and writes
nothing; a reversal touches the accounts of its original."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.core import accounts, ledger, ledger_kinds
from gateway.core.ledger import Leg
from gateway.core.ledger_kinds import AccountNotAllowed, TxnKind, UnknownTxnKind
from gateway.store.database import unit_of_work
from gateway.store.models import Entry, LedgerTxn

NOW = dt.datetime(2026, 11, 21, 12, 0, 0)


def _counts() -> tuple[int, int]:
    return LedgerTxn.select().count(), Entry.select().count()


@pytest.fixture
def books(db):  # type: ignore[no-untyped-def]
    with unit_of_work(db):
        made = {
            "wallet": accounts.player_wallet("ana", "MXN", NOW),
            "cash": accounts.house_cash("MXN", NOW),
            "window": accounts.window_cash("v1", "MXN", NOW),
            "stakes": accounts.stakes("acme", "MXN", NOW),
            "payouts": accounts.payouts("acme", "MXN", NOW),
            "excise": accounts.excise_tax("MXN", NOW),
            "psp": accounts.psp_clearing("card", "MXN", NOW),
        }
        ledger.post(
            "wallet.deposit", [Leg(made["wallet"], -5000), Leg(made["cash"], 5000)], now=NOW
        )
    return made


def test_every_kind_has_its_reversal_on_the_same_accounts() -> None:
    for kind in ledger_kinds.DECLARED:
        reversal = ledger_kinds.KINDS[kind.name + ".reversal"]
        assert reversal.accounts == kind.accounts
        assert ledger_kinds.reversal_name(reversal.name) == kind.name


def test_the_account_kinds_opened_by_accounts_are_all_touched_by_some_kind() -> None:
    touched = set().union(*(k.accounts for k in ledger_kinds.DECLARED))
    assert {
        "player_wallet",
        "window_cash",
        "house_cash",
        "house_stakes",
        "house_payouts",
        "tax_liability",
        "psp_clearing",
        "prize_liability",
        "payment_clearing",
        "payments_received",
    } <= touched


def test_an_unknown_kind_is_refused_and_writes_nothing(books) -> None:  # type: ignore[no-untyped-def]
    before = _counts()
    with pytest.raises(UnknownTxnKind) as refused, unit_of_work(ledger.database):
        ledger.post("wallet.gift", [Leg(books["wallet"], -100), Leg(books["cash"], 100)], now=NOW)
    assert refused.value.code == "unknown_transaction_kind"
    assert refused.value.details == {"kind": "wallet.gift"}
    assert _counts() == before


@pytest.mark.parametrize(
    ("kind", "legs", "forbidden"),
    [
        ("wallet.deposit", [("wallet", -100), ("stakes", 100)], "house_stakes"),
        ("bet.stake", [("wallet", 100), ("cash", -100)], "house_cash"),
        ("bet.stake.psp", [("wallet", 100), ("stakes", -100)], "player_wallet"),
        ("bet.win", [("stakes", 100), ("wallet", -100)], "house_stakes"),
        ("bet.refund", [("wallet", -100), ("payouts", 100)], "house_payouts"),
        ("bet.void", [("window", 100), ("stakes", -100)], "window_cash"),
        ("account.payment", [("window", -100), ("wallet", 100)], "player_wallet"),
        ("bet.win.reversal", [("wallet", 100), ("cash", -100)], "house_cash"),
    ],
)
def test_an_account_the_kind_may_not_touch_is_refused_and_writes_nothing(
    books, kind: str, legs: list[tuple[str, int]], forbidden: str
) -> None:  # type: ignore[no-untyped-def]
    before = _counts()
    balance = books["wallet"].__class__.get_by_id(books["wallet"].id).balance
    with pytest.raises(AccountNotAllowed) as refused, unit_of_work(ledger.database):
        ledger.post(kind, [Leg(books[name], amount) for name, amount in legs], now=NOW)
    assert refused.value.code == "account_not_allowed"
    assert refused.value.details == {"kind": kind, "account_kind": forbidden}
    assert _counts() == before
    assert books["wallet"].__class__.get_by_id(books["wallet"].id).balance == balance


def test_a_zero_leg_on_any_account_is_dropped_before_the_check(books) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(ledger.database):
        txn = ledger.post(
            "wallet.withdrawal",
            [Leg(books["wallet"], 100), Leg(books["cash"], -100), Leg(books["stakes"], 0)],
            now=NOW,
        )
    assert Entry.select().where(Entry.txn == txn.id).count() == 2


def test_a_reversal_is_allowed_on_the_accounts_of_its_original(books) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(ledger.database):
        stake = ledger.post(
            "bet.stake",
            [Leg(books["wallet"], 300), Leg(books["stakes"], -250), Leg(books["excise"], -50)],
            now=NOW,
        )
    with unit_of_work(ledger.database):
        reversal = ledger.reverse(stake, now=NOW)
    with unit_of_work(ledger.database):
        again = ledger.reverse(reversal, now=NOW)
    assert (reversal.kind, again.kind) == ("bet.stake.reversal", "bet.stake")


def test_a_reversal_under_a_kind_that_may_not_touch_the_accounts_is_refused(books) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(ledger.database):
        deposit = ledger.post(
            "wallet.deposit", [Leg(books["wallet"], -100), Leg(books["cash"], 100)], now=NOW
        )
    before = _counts()
    with pytest.raises(AccountNotAllowed), unit_of_work(ledger.database):
        ledger.reverse(deposit, now=NOW, kind="bet.win.reversal")
    assert _counts() == before


def test_only_a_kind_that_posts_holds_may_post_one(books) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(ledger.database):
        hold = ledger.place_hold(books["wallet"], 300, now=NOW)
    for kind in ("wallet.withdrawal", "no.such.kind"):
        with pytest.raises(UnknownTxnKind), unit_of_work(ledger.database):
            ledger.post_hold(hold, 300, [Leg(books["stakes"], -300)], kind=kind, now=NOW)
    with unit_of_work(ledger.database):
        txn = ledger.post_hold(hold, 300, [Leg(books["stakes"], -300)], kind="bet.stake", now=NOW)
    assert txn.kind == "bet.stake"


def test_registered_kinds_exist_only_inside_their_block(books) -> None:  # type: ignore[no-untyped-def]
    extra = TxnKind("test.move", frozenset({"player_wallet", "house_cash"}), "a test kind")
    with ledger_kinds.registered(extra):
        assert ledger_kinds.get("test.move.reversal").accounts == extra.accounts
        with pytest.raises(ValueError, match="already declared"), ledger_kinds.registered(extra):
            pass
    with pytest.raises(UnknownTxnKind):
        ledger_kinds.get("test.move")
    with (
        pytest.raises(ValueError, match="already declared"),
        ledger_kinds.registered(TxnKind("bet.win", frozenset(), "")),
    ):
        pass
