"""`reconcile()` finds every kind of breach SPEC section 10 names, and only those: each test
tampers with the database the way a bug or an intruder would (raw SQL, bypassing the
ledger) and expects exactly the matching check to fail."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from gateway.core import betengine, ledger, ledger_kinds, tickets
from gateway.core.audit import Actor
from gateway.core.betengine import Amounts, Origin, PlaceTicket, TicketEvent
from gateway.core.commands import Context
from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, Leg
from gateway.core.ledger_kinds import TxnKind
from gateway.core.players import CashMovement, NewPlayer, create_player, move_cash
from gateway.core.principal import ADMIN, Principal
from gateway.core.reconcile import Report, reconcile
from gateway.store import fastsql
from gateway.store.database import database, unit_of_work
from gateway.store.models import Account, Hold, LedgerTxn, Player, Ticket

NOW = dt.datetime(2026, 11, 21, 12, 0, 0)
CHECKS = {
    "transactions_balance",
    "transactions_have_two_entries",
    "entry_currencies",
    "cached_balances",
    "held_amounts",
    "holds_match_reserved_tickets",
    "payments_within_payouts",
    "paid_tickets_fully_paid",
    "floors",
    "reversals_mirror",
    "registry_payments_in_books",
    "daily_activity_matches_ledger",
}


def _account(
    code: str, kind: str, side: str, floor: int | None = None, currency: str = "MXN"
) -> Account:
    with unit_of_work(database):
        return ledger.ensure_account(AccountSpec(code, kind, currency, side, floor), NOW)


def _wallet(name: str = "ana") -> Account:
    return _account(f"player:{name}:wallet:MXN", "player_wallet", CREDIT, 0)


def _cash() -> Account:
    return _account("house:cash:MXN", "house_cash", DEBIT)


def _post(kind: str, *legs: Leg, **kwargs: object) -> LedgerTxn:
    with unit_of_work(database):
        return ledger.post(kind, list(legs), now=NOW, **kwargs)  # type: ignore[arg-type]


def _failed(report: Report) -> set[str]:
    return {check.name for check in report.breaches}


def _ticket(status: str, **fields: object) -> Ticket:
    ticket_id = str(uuid.uuid4())
    return Ticket.create(
        id=ticket_id,
        channel="retail",
        operator="banca-1",
        external_id=ticket_id,
        currency="MXN",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def _raw_txn(
    db, kind: str, entries: list[tuple[int, int, str]], reverses: int | None = None
) -> int:
    """A transaction written with plain SQL, as a bug outside the ledger would write it."""
    with db.atomic():
        txn_id = fastsql.execute(
            "INSERT INTO ledger_txn (kind, reverses_id, created_at) VALUES (%s, %s, %s) "
            "RETURNING id",
            (kind, reverses, NOW),
        ).fetchone()[0]
        for account_id, amount, currency in entries:
            fastsql.execute(
                "INSERT INTO entry (txn_id, account_id, amount, currency) VALUES (%s, %s, %s, %s)",
                (txn_id, account_id, amount, currency),
            )
    return int(txn_id)


def _set_balance(account: Account, balance: int) -> None:
    with unit_of_work(database):
        Account.update(balance=balance).where(Account.id == account.id).execute()


# --- clean books -------------------------------------------------------------------------------


def test_an_empty_database_reconciles(db) -> None:
    report = reconcile()
    assert report.ok
    assert {check.name for check in report.checks} == CHECKS
    assert report.warnings == []
    assert report.totals == {
        "accounts": 0,
        "transactions": 0,
        "entries": 0,
        "open_holds": 0,
        "tickets": 0,
    }


def test_books_written_through_the_ledger_reconcile(db) -> None:
    wallet, cash = _wallet(), _cash()
    stakes = _account("operator:op:stakes:MXN", "house_stakes", CREDIT)
    _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    withdrawal = _post("wallet.withdrawal", Leg(wallet, 1000), Leg(cash, -1000))
    with unit_of_work(database):
        ledger.reverse(LedgerTxn.get_by_id(withdrawal.id), now=NOW)
        _post("wallet.deposit", Leg(wallet, -2000), Leg(cash, 2000))
        ticket = _ticket(tickets.RESERVED, price=700, stake=700)
        hold = ledger.place_hold(wallet, 700, now=NOW, reference=ticket.id)
        Ticket.update(hold=hold.id).where(Ticket.id == ticket.id).execute()
    _ticket(tickets.PAID, payout=900, paid_amount=900)
    _ticket(tickets.EVALUATED, payout=900, paid_amount=400)
    _post("bet.stake", Leg(wallet, 300), Leg(stakes, -300))
    report = reconcile()
    assert report.ok, report.render()
    assert report.warnings == []
    assert report.totals["transactions"] == 5
    assert report.totals["open_holds"] == 1


def test_a_bet_engine_lifecycle_reconciles_and_a_rolled_back_win_is_player_debt(db) -> None:
    """A win paid to the wallet and withdrawn, then rolled back: the wallet goes below zero,
    which is reported as a warning, never a breach."""
    ctx = Context(actor=Actor("partner", "betstack"), now=NOW)
    admin = Principal(user_id="admin", role=ADMIN)
    player = create_player(
        ctx, admin, NewPlayer(msisdn="+5215512345678", lang="es", currency="MXN", operator="acme")
    ).result.id
    move_cash(ctx, admin, CashMovement(player, 1000, "cash", "fund-0001"), deposit=True)
    stake = Amounts(price=300, stake=300, gross_payout=5000, net_payout=5000)
    betengine.place(
        ctx,
        PlaceTicket(
            operator="acme",
            ticket_id="T-1",
            player_ref=player,
            currency="MXN",
            amounts=stake,
            origin=Origin("test:acme", "create"),
        ),
        reserve_ttl_s=600,
    )
    betengine.place(
        ctx,
        PlaceTicket(
            operator="acme",
            ticket_id="T-2",
            player_ref=player,
            currency="MXN",
            amounts=stake,
            reserve=True,
            origin=Origin("test:acme", "reserve"),
        ),
        reserve_ttl_s=600,
    )
    assert reconcile().ok
    betengine.handle(
        ctx,
        TicketEvent(
            operator="acme",
            command=betengine.SETTLE_WON,
            ticket_id="T-1",
            origin=Origin("test:acme", "win"),
        ),
    )
    assert reconcile().ok
    wallet = Account.get(Account.code == f"player:{player}:wallet:MXN")
    available = wallet.balance - wallet.held
    move_cash(ctx, admin, CashMovement(player, available, "cash", "cashout-01"), deposit=False)

    betengine.handle(
        ctx,
        TicketEvent(
            operator="acme",
            command=betengine.ROLLBACK,
            ticket_id="T-1",
            origin=Origin("test:acme", "rollback"),
        ),
    )

    report = reconcile()
    assert report.ok, report.render()
    assert Account.get_by_id(wallet.id).balance == 300 - 5000
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith(f"player debt: account {wallet.id} {wallet.code} ")
    assert "balance -4700 held 300 available -5000" in report.warnings[0]
    assert "warnings (1):" in report.render()


# --- breaches ----------------------------------------------------------------------------------


def test_a_tampered_cached_balance_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    _set_balance(wallet, 6000)
    report = reconcile()
    assert not report.ok
    assert _failed(report) == {"cached_balances"}
    check = report.check("cached_balances")
    assert check.count == 1
    assert f"account {wallet.id} {wallet.code} (credit-normal) caches 6000" in check.detail
    assert "its entries give 5000" in check.detail


def test_an_unbalanced_transaction_inserted_by_raw_sql_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    txn_id = _raw_txn(db, "forged", [(wallet.id, -500, "MXN"), (cash.id, 400, "MXN")])
    _set_balance(wallet, 500)  # the intruder keeps the cached balances consistent
    _set_balance(cash, 400)
    report = reconcile()
    assert _failed(report) == {"transactions_balance"}
    assert f"txn {txn_id} MXN sums to -100" in report.check("transactions_balance").detail


def test_a_transaction_with_a_single_entry_is_detected(db) -> None:
    cash = _cash()
    txn_id = _raw_txn(db, "forged", [(cash.id, 0, "MXN")])
    report = reconcile()
    assert _failed(report) == {"transactions_have_two_entries"}
    assert f"txn {txn_id} (forged) has 1" in report.check("transactions_have_two_entries").detail


def test_an_entry_in_another_currency_than_its_account_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    _raw_txn(db, "forged", [(wallet.id, -100, "USD"), (cash.id, 100, "USD")])
    _set_balance(wallet, 100)
    _set_balance(cash, 100)
    report = reconcile()
    assert _failed(report) == {"entry_currencies"}
    assert report.check("entry_currencies").count == 2


def test_a_held_amount_that_differs_from_open_holds_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    with unit_of_work(db):
        Account.update(held=250).where(Account.id == wallet.id).execute()
    report = reconcile()
    assert _failed(report) == {"held_amounts"}
    assert "holds 250, its open holds sum to 0" in report.check("held_amounts").detail


def test_an_open_hold_without_a_reserved_ticket_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    with unit_of_work(db):
        hold = ledger.place_hold(wallet, 800, now=NOW, reference="no-such-ticket")
    report = reconcile()
    assert _failed(report) == {"holds_match_reserved_tickets"}
    detail = report.check("holds_match_reserved_tickets").detail
    assert f"open hold {hold.id} (800) is not the hold of a reserved ticket" in detail


def test_an_open_hold_whose_ticket_moved_on_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    with unit_of_work(db):
        ticket = _ticket(tickets.RESERVED, price=800, stake=800)
        hold = ledger.place_hold(wallet, 800, now=NOW, reference=ticket.id)
        Ticket.update(hold=hold.id).where(Ticket.id == ticket.id).execute()
    assert reconcile().ok
    with unit_of_work(db):  # the ticket was cancelled but its hold was never released
        Ticket.update(status=tickets.CANCELLED).where(Ticket.id == ticket.id).execute()
    assert _failed(reconcile()) == {"holds_match_reserved_tickets"}


def test_a_reserved_ticket_whose_hold_is_closed_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    with unit_of_work(db):
        ticket = _ticket(tickets.RESERVED, price=800, stake=800)
        hold = ledger.place_hold(wallet, 800, now=NOW, reference=ticket.id)
        Ticket.update(hold=hold.id).where(Ticket.id == ticket.id).execute()
        ledger.release_hold(Hold.get_by_id(hold.id), now=NOW)
    report = reconcile()
    assert _failed(report) == {"holds_match_reserved_tickets"}
    detail = report.check("holds_match_reserved_tickets").detail
    assert f"reserved ticket {ticket.id} names hold {hold.id}, which is released" in detail


def test_a_reserved_wallet_ticket_without_a_hold_is_detected(db) -> None:
    player = Player.create(
        id=str(uuid.uuid4()), msisdn="+1", currency="MXN", created_at=NOW, updated_at=NOW
    )
    _ticket(tickets.RESERVED, price=800, stake=800, player=player.id, psp="")
    _ticket(tickets.RESERVED, price=800, stake=800, player=player.id, psp="card")  # no hold
    report = reconcile()
    assert _failed(report) == {"holds_match_reserved_tickets"}
    assert report.check("holds_match_reserved_tickets").count == 1


def test_a_ticket_paid_more_than_its_payout_is_detected(db) -> None:
    ticket = _ticket(tickets.EVALUATED, payout=1000, paid_amount=1001)
    report = reconcile()
    assert _failed(report) == {"payments_within_payouts"}
    assert (
        f"ticket {ticket.id} (retail) paid 1001 of payout 1000"
        in report.check("payments_within_payouts").detail
    )


def test_a_paid_ticket_that_is_not_fully_paid_is_detected(db) -> None:
    ticket = _ticket(tickets.PAID, payout=1000, paid_amount=600)
    _ticket(tickets.EVALUATED, payout=1000, paid_amount=600)  # a partial payment: fine
    report = reconcile()
    assert _failed(report) == {"paid_tickets_fully_paid"}
    assert report.check("paid_tickets_fully_paid").count == 1
    assert ticket.id in report.check("paid_tickets_fully_paid").detail


def test_an_account_other_than_a_wallet_below_its_floor_is_a_breach(db) -> None:
    float_ = _account("ventana:v1:float:MXN", "window_float", DEBIT, floor=0)
    cash = _cash()
    out = TxnKind("test.float.out", frozenset({"window_float", "house_cash"}), "float out")
    with ledger_kinds.registered(out):
        _post("test.float.out", Leg(float_, -300), Leg(cash, 300), allow_overdraft=[float_.id])
    report = reconcile()
    assert _failed(report) == {"floors"}
    assert report.warnings == []
    assert "available -300 below its floor 0" in report.check("floors").detail


def test_player_debt_is_a_warning_not_a_breach(db) -> None:
    wallet = _wallet()
    payouts = _account("operator:op:payouts:MXN", "house_payouts", DEBIT)
    _post("bet.win.reversal", Leg(wallet, 1200), Leg(payouts, -1200), allow_overdraft=[wallet.id])
    report = reconcile()
    assert report.ok
    assert report.check("floors").ok
    assert report.warnings == [
        f"player debt: account {wallet.id} {wallet.code} balance -1200 held 0 "
        "available -1200 below its floor 0"
    ]


def test_a_reversal_that_does_not_mirror_its_original_is_detected(db) -> None:
    wallet, cash = _wallet(), _cash()
    original = _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    reversal = _raw_txn(
        db,
        "wallet.deposit.reversal",
        [(wallet.id, 4000, "MXN"), (cash.id, -4000, "MXN")],
        reverses=original.id,
    )
    _set_balance(wallet, 1000)
    _set_balance(cash, 1000)
    report = reconcile()
    assert _failed(report) == {"reversals_mirror"}
    detail = report.check("reversals_mirror").detail
    assert f"reversal txn {reversal}: 1 x +4000 MXN on account {wallet.id}" in detail
    assert report.check("reversals_mirror").count == 4  # two extra entries, two missing


def test_a_reversal_whose_amounts_are_split_differently_is_detected(db) -> None:
    """Same sums per account, other entries: a reversal mirrors entry for entry."""
    wallet, cash = _wallet(), _cash()
    original = _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    _raw_txn(
        db,
        "wallet.deposit.reversal",
        [(wallet.id, 3000, "MXN"), (wallet.id, 2000, "MXN"), (cash.id, -5000, "MXN")],
        reverses=original.id,
    )
    _set_balance(wallet, 0)
    _set_balance(cash, 0)
    assert _failed(reconcile()) == {"reversals_mirror"}


# --- the report ----------------------------------------------------------------------------------


def test_the_report_names_a_sample_and_counts_the_rest(db) -> None:
    cash = _cash()
    wallets = [_wallet(f"p{i}") for i in range(13)]
    for wallet in wallets:
        _post("wallet.deposit", Leg(wallet, -100), Leg(cash, 100))
        _set_balance(wallet, 99)
    report = reconcile(sample=10)
    check = report.check("cached_balances")
    assert check.count == 13
    assert check.detail.startswith("13 accounts' cached balances differ from their entries: ")
    assert check.detail.endswith("; and 3 more")
    assert check.detail.count("caches 99") == 10


def test_the_report_renders_as_text_and_json(db) -> None:
    wallet, cash = _wallet(), _cash()
    _post("wallet.deposit", Leg(wallet, -5000), Leg(cash, 5000))
    _set_balance(wallet, 1)
    report = reconcile()
    text = report.render()
    assert text.splitlines()[0] == "pamgate reconciliation: BREACH (1 failed)"
    assert "[BREACH] cached_balances" in text
    assert "[ok    ] transactions_balance" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert data["totals"]["entries"] == 2
    assert {c["name"]: c["ok"] for c in data["checks"]}["cached_balances"] is False
    assert data["warnings"] == []


def test_reconcile_inside_a_transaction_reads_the_callers_view(db) -> None:
    wallet, cash = _wallet(), _cash()
    with unit_of_work(db):
        ledger.post("wallet.deposit", [Leg(wallet, -5000), Leg(cash, 5000)], now=NOW)
        assert reconcile().totals["transactions"] == 1
    assert reconcile().ok
