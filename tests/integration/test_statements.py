"""Daily statements and account payments on a real database: seed 002's arithmetic, the
carry-over of `remainingBalance`, back-dated payments changing every later day, reversals,
`isSaldado`, a window summing its sellers, a banca summing its windows, lottery sales and
prize payments counted by the real services, the ledger balanced and reconcile clean."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway.core import network, payouts, settlements, statements
from gateway.core.errors import Forbidden, IdempotencyConflict
from gateway.core.principal import ADMIN, VENDEDOR, Principal
from gateway.core.reconcile import reconcile
from gateway.store.database import is_postgres
from gateway.store.models import AccountPayment, AuditRecord, DailyActivity, LedgerTxn
from tests import factories as f
from tests.concurrency import in_threads
from tests.integration.test_ticket_payments import Shop, cashier, make_shop, seller_of

ADMIN_USER = Principal(user_id="admin-1", role=ADMIN)
# the fixed clock stands at 2026-11-21 12:00 UTC: 06:00 of the 21st in Costa Rica
TODAY = dt.date(2026, 11, 21)
D = dt.timedelta(days=1)


@pytest.fixture
def shop(db: Any, clock: Any) -> Shop:
    return make_shop(clock)


def settle(
    clock: Any,
    who: Principal,
    kind: str,
    ident: str,
    amount: int,
    *,
    day: dt.date = TODAY,
    type_: str = "payment",
    key: str = "settle-0001",
    final: bool = False,
    time: str = "05:00",
) -> Any:
    cmd = settlements.SettleAccount(
        kind=kind,
        dimension_id=ident,
        day=day,
        time=time,
        amount=amount,
        type=type_,
        method="cash",
        notes=None,
        is_final=final,
        idempotency_key=key,
    )
    return settlements.settle(f.ctx(clock, who.user_id), who, cmd)


def days(kind: str, ident: str, first: dt.date, last: dt.date) -> list[statements.StatementDay]:
    return statements.statements(ADMIN_USER, kind, ident, first, last)


def window(clock: Any, bps: int) -> tuple[str, str]:
    return f.banca_and_ventana(clock, commission_bps=bps)


def test_seed_002_example_comes_out(db, clock):
    """Sales 500000, payouts 250000, commission 3.5 %, paid 100000: remaining 132500."""
    banca, ventana = window(clock, 350)
    day = TODAY - D
    statements.record(statements.Position(banca, ventana), day, "MXN", sales=500000_00)
    statements.record(statements.Position(banca, ventana), day, "MXN", payouts=250000_00)
    out = settle(clock, ADMIN_USER, "ventana", ventana, 100000_00, day=day, time="14:30")
    s = out.result.statement
    assert (s.total_sales, s.total_payouts, s.total_commission, s.total_paid) == (
        500000_00,
        250000_00,
        17500_00,
        100000_00,
    )
    assert s.remaining_balance == 132500_00 and s.balance == 132500_00
    assert s.is_saldado is False and s.day == day
    p = out.result.payment
    assert (p.kind, p.dimension_id, p.type, p.amount, p.time) == (
        "ventana",
        ventana,
        "payment",
        100000_00,
        "14:30",
    )
    # sales written straight into the daily rows have no ledger behind them
    assert not reconcile().check("daily_activity_matches_ledger").ok


def test_remaining_balance_carries_over_and_a_back_dated_payment_changes_later_days(db, clock):
    banca, ventana = window(clock, 0)
    pos = statements.Position(banca, ventana)
    for i, sales in enumerate((1000, 2000, 4000)):
        statements.record(pos, TODAY - 3 * D + i * D, "MXN", sales=sales)
    before = [d.remaining_balance for d in days("ventana", ventana, TODAY - 3 * D, TODAY)]
    assert before == [1000, 3000, 7000, 7000]
    settle(clock, ADMIN_USER, "ventana", ventana, 500, day=TODAY - 2 * D)  # back-dated
    after = days("ventana", ventana, TODAY - 3 * D, TODAY)
    assert [d.remaining_balance for d in after] == [1000, 2500, 6500, 6500]
    assert [d.total_paid for d in after] == [0, 500, 0, 0]
    # a later range starts from the carried balance
    assert [d.remaining_balance for d in days("ventana", ventana, TODAY - D, TODAY)] == [
        6500,
        6500,
    ]
    # a collection raises what is owed
    settle(clock, ADMIN_USER, "ventana", ventana, 250, type_="collection", key="collect-01")
    last = days("ventana", ventana, TODAY, TODAY)[0]
    assert (last.total_collected, last.balance, last.remaining_balance) == (250, 250, 6750)


def test_a_reversal_takes_the_payment_out_of_its_day_and_every_later_day(db, clock):
    banca, ventana = window(clock, 0)
    statements.record(statements.Position(banca, ventana), TODAY - 2 * D, "MXN", sales=1000)
    out = settle(clock, ADMIN_USER, "ventana", ventana, 1000, day=TODAY - 2 * D, key="pay-rev-1")
    assert out.result.statement.remaining_balance == 0
    assert out.result.statement.is_saldado is True
    rev = settlements.reverse(f.ctx(clock), ADMIN_USER, out.result.payment.id, "wrong window")
    assert rev.result.payment.is_reversed is True
    assert rev.result.statement.total_paid == 0 and rev.result.statement.is_saldado is False
    assert [d.remaining_balance for d in days("ventana", ventana, TODAY - 2 * D, TODAY)] == [
        1000,
        1000,
        1000,
    ]
    with pytest.raises(settlements.AccountPaymentReversed):
        settlements.reverse(f.ctx(clock), ADMIN_USER, out.result.payment.id, "again")
    with pytest.raises(settlements.AccountPaymentNotFound):
        settlements.reverse(f.ctx(clock), ADMIN_USER, "no-such-payment", "x")
    row = AccountPayment.get_by_id(out.result.payment.id)
    mirror = LedgerTxn.get_by_id(row.reversal_txn_id)
    assert mirror.reverses_id == row.txn_id
    actions = {r.action for r in AuditRecord.select()}
    assert {"ACCOUNT_PAYMENT_CREATE", "ACCOUNT_PAYMENT_REVERSE"} <= actions
    # sales written straight into the daily rows have no ledger behind them
    assert not reconcile().check("daily_activity_matches_ledger").ok


def test_is_saldado_on_zero_after_a_payment_or_on_a_final_payment(db, clock):
    banca, ventana = window(clock, 0)
    pos = statements.Position(banca, ventana)
    statements.record(pos, TODAY - D, "MXN", sales=800)
    # zero without a payment that day is not "saldado"
    statements.record(pos, TODAY - 2 * D, "MXN", sales=0)
    assert days("ventana", ventana, TODAY - 2 * D, TODAY - 2 * D)[0].is_saldado is False
    half = settle(clock, ADMIN_USER, "ventana", ventana, 400, day=TODAY - D, key="half-0001")
    assert half.result.statement.is_saldado is False
    final = settle(
        clock, ADMIN_USER, "ventana", ventana, 1, day=TODAY - D, key="fin-00001", final=True
    )
    assert final.result.statement.is_saldado is True  # isFinal, though 399 remain


def test_a_window_sums_its_sellers_and_a_banca_its_windows_each_with_its_rate(db, clock):
    banca, ventana = window(clock, 1000)  # 10 %
    ctx = f.ctx(clock)
    other = network.create_ventana(
        ctx, ADMIN_USER, network.NewVentana(banca_id=banca, name="V2", commission_bps=500)
    ).result.id
    seller = network.create_vendedor(
        ctx, ADMIN_USER, network.NewVendedor(ventana_id=ventana, name="S1", commission_bps=300)
    ).result.id
    day = TODAY - D
    statements.record(statements.Position(banca, ventana, seller), day, "MXN", sales=10000)
    statements.record(statements.Position(banca, ventana), day, "MXN", sales=5000, payouts=700)
    statements.record(statements.Position(banca, other), day, "MXN", sales=2000)
    s_seller = days("vendedor", seller, day, day)[0]
    assert (s_seller.total_sales, s_seller.total_commission) == (10000, 300)
    s_window = days("ventana", ventana, day, day)[0]
    assert (s_window.total_sales, s_window.total_payouts, s_window.total_commission) == (
        15000,
        700,
        1500,
    )
    s_banca = days("banca", banca, day, day)[0]
    assert (s_banca.total_sales, s_banca.total_commission) == (17000, 1500 + 100)
    # payments count only on the dimension they name
    settle(clock, ADMIN_USER, "vendedor", seller, 9700, day=day, key="seller-pay")
    assert days("vendedor", seller, day, day)[0].remaining_balance == 0
    assert days("ventana", ventana, day, day)[0].total_paid == 0
    settle(clock, ADMIN_USER, "banca", banca, 100, day=day, key="banca-pay1")
    assert days("banca", banca, day, day)[0].total_paid == 100
    # sales written straight into the daily rows have no ledger behind them
    assert not reconcile().check("daily_activity_matches_ledger").ok


def test_commission_rounds_half_even_per_day():
    assert statements.commission(1, 5000) == 0  # 0.5 → 0
    assert statements.commission(3, 5000) == 2  # 1.5 → 2
    assert statements.commission(500000_00, 350) == 17500_00


def test_lottery_sales_and_prize_payments_are_counted_by_the_real_services(shop, clock):
    """make_shop sold four 15.00 tickets by seller 1 / window 1 / window 2 and paid nothing."""
    day = TODAY
    window1 = days("ventana", shop.ventana, day, day)[0]
    assert window1.total_sales == 3 * 1500
    assert days("vendedor", shop.vendedor, day, day)[0].total_sales == 3 * 1500
    assert days("ventana", shop.other_ventana, day, day)[0].total_sales == 1500
    assert days("banca", shop.banca, day, day)[0].total_sales == 4 * 1500
    # the window pays a prize; its seller pays another
    pay = payouts.PayTicket(shop.winners["small"], 40000, "cash", False, None, "prize-0001", None)
    paid = payouts.pay(f.ctx(clock, "cashier-1"), cashier(shop), pay)
    seller = seller_of(shop)
    by_seller = payouts.PayTicket(shop.winners["big"], 500, "cash", False, None, "prize-0002", None)
    payouts.pay(f.ctx(clock, seller.user_id), seller, by_seller)
    assert days("ventana", shop.ventana, day, day)[0].total_payouts == 40500
    assert days("vendedor", shop.vendedor, day, day)[0].total_payouts == 500
    # a reversed prize payment no longer counts
    payouts.reverse(f.ctx(clock), ADMIN_USER, paid.result.id, "paid twice")
    assert days("ventana", shop.ventana, day, day)[0].total_payouts == 500
    assert reconcile().ok


def test_rbac_of_account_payments(shop, clock):
    own, other_window = cashier(shop), cashier(shop, other=True)
    assert settle(clock, own, "ventana", shop.ventana, 1, key="own-00001").created
    assert settle(clock, own, "vendedor", shop.vendedor, 1, key="own-00002").created
    refused = [
        (own, "ventana", shop.other_ventana),
        (own, "vendedor", shop.other_vendedor),
        (own, "banca", shop.banca),
        (other_window, "ventana", shop.ventana),
        (seller_of(shop), "vendedor", shop.vendedor),
        (Principal(user_id="x", role=VENDEDOR, vendedor_id=shop.vendedor), "ventana", shop.ventana),
    ]
    for who, kind, ident in refused:
        with pytest.raises(Forbidden):
            settle(clock, who, kind, ident, 1, key="refused-1")
    with pytest.raises(Forbidden):
        statements.statements(own, "ventana", shop.other_ventana, TODAY, TODAY)
    assert statements.statements(own, "vendedor", shop.vendedor, TODAY, TODAY)


def test_future_dates_and_times_are_refused_in_the_business_timezone(db, clock):
    _banca, ventana = window(clock, 0)
    with pytest.raises(settlements.FutureDate):
        settle(clock, ADMIN_USER, "ventana", ventana, 1, day=TODAY + D)
    with pytest.raises(settlements.FutureTime):
        settle(clock, ADMIN_USER, "ventana", ventana, 1, time="06:01")
    assert settle(clock, ADMIN_USER, "ventana", ventana, 1, time="06:00").created
    # 12:00 UTC is still the 21st in Costa Rica (UTC-6): 23:59 of yesterday is fine
    assert settle(
        clock, ADMIN_USER, "ventana", ventana, 1, day=TODAY - D, time="23:59", key="y-000001"
    ).created


def test_idempotency_is_per_caller_and_body(db, clock):
    _banca, ventana = window(clock, 0)
    first = settle(clock, ADMIN_USER, "ventana", ventana, 100, key="same-key-1")
    again = settle(clock, ADMIN_USER, "ventana", ventana, 100, key="same-key-1")
    assert again.replayed and again.result == first.result
    with pytest.raises(IdempotencyConflict):
        settle(clock, ADMIN_USER, "ventana", ventana, 101, key="same-key-1")
    other_admin = Principal(user_id="admin-9", role=ADMIN)
    assert settle(clock, other_admin, "ventana", ventana, 100, key="same-key-1").created
    assert days("ventana", ventana, TODAY, TODAY)[0].total_paid == 200


def test_concurrent_duplicates_pay_once_and_concurrent_payments_all_count(db, clock):
    if not is_postgres(db):
        pytest.skip("row locks and unique indexes under real concurrency: PostgreSQL")
    _banca, ventana = window(clock, 0)
    results = in_threads(
        8, lambda i: settle(clock, ADMIN_USER, "ventana", ventana, 100, key="dup-key-01")
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(1 for r in results if not r.replayed) == 1
    results = in_threads(
        8, lambda i: settle(clock, ADMIN_USER, "ventana", ventana, 10, key=f"many-{i:05d}")
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    s = days("ventana", ventana, TODAY, TODAY)[0]
    assert (s.total_paid, s.remaining_balance) == (180, -180)
    assert AccountPayment.select().count() == 9
    assert reconcile().ok


def test_reconcile_ties_the_daily_rows_to_the_ledger(shop, clock):
    """The shop's sales, a prize payment and an account payment reconcile; a daily row
    changed by hand (sales, payouts or payments) is named as a breach."""
    pay = payouts.PayTicket(shop.winners["small"], 1000, "cash", False, None, "prize-0009", None)
    payouts.pay(f.ctx(clock, "cashier-1"), cashier(shop), pay)
    settle(clock, ADMIN_USER, "ventana", shop.ventana, 700, key="recon-001")
    assert reconcile().check("daily_activity_matches_ledger").ok
    for column in ("sales", "payouts", "paid"):
        row = DailyActivity.select().where(DailyActivity.ventana == shop.ventana).first()
        DailyActivity.update({column: getattr(DailyActivity, column) + 1}).where(
            DailyActivity.id == row.id
        ).execute()
        check = reconcile().check("daily_activity_matches_ledger")
        assert not check.ok and f"MXN {column}" in check.detail, check.detail
        DailyActivity.update({column: getattr(DailyActivity, column) - 1}).where(
            DailyActivity.id == row.id
        ).execute()
    assert reconcile().ok


def test_a_ticket_finalised_below_its_payout_reconciles(shop, clock):
    pay = payouts.PayTicket(shop.winners["small"], 400, "cash", True, None, "final-0001", None)
    payouts.pay(f.ctx(clock, "cashier-1"), cashier(shop), pay)
    report = reconcile()
    assert report.ok, report.render()
    assert reconcile().check("paid_tickets_fully_paid").ok
