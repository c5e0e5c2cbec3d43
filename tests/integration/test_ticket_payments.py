"""Paying winning lottery tickets at a window (SPEC 6) on a real database: partial and final
payments, every refusal in order, idempotency scoped to the caller, reversal, maker-checker,
the ledger moving prize liability to window cash, reconcile clean, and two cashiers racing
for one ticket on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.core import accounts, ledger, network, payouts, tickets
from gateway.core.errors import AlreadyReversed, Forbidden, IdempotencyConflict
from gateway.core.lottery import draws, sales
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal
from gateway.core.reconcile import reconcile
from gateway.store.database import is_postgres
from gateway.store.models import AuditRecord, Ticket, TicketPayment
from signing.keys import Keyring, generate_keypair
from signing.receipts import security_number
from tests import factories as f
from tests.concurrency import in_threads

ADMIN_USER = Principal(user_id="admin-1", role=ADMIN)
CHECKER = Principal(user_id="admin-2", role=ADMIN)
PRIZES = {"base": {"6": 5_000_000, "5": 100_000, "4": 5_000, "3": 1_500}}
DRAWN = [3, 11, 19, 27, 35, 43]
SIX = "3,11,19,27,35,43"  # 5_000_000
FIVE = "3,11,19,27,35,44"  # 100_000
NONE = "1,2,4,5,6,7"
KEYS = Keyring.from_texts([("t", generate_keypair()[0], True)])


class _Scripted(sales.Randomness):
    def __init__(self, boards: Iterator[str]) -> None:
        super().__init__()
        self._boards = boards

    def board(self) -> str:
        return next(self._boards)


@dataclass
class Shop:
    """A banca with two windows (one with a seller each) and a resulted draw."""

    banca: str
    ventana: str
    other_ventana: str
    vendedor: str
    other_vendedor: str
    winners: dict[str, str]  # name → ticket id


def _sell(clock: Any, banca: str, ventana: str, vendedor: str | None, ref: str, board: str) -> str:
    seller = Principal(
        user_id="pos",
        role=VENDEDOR if vendedor else VENTANA,
        ventana_id=ventana,
        vendedor_id=vendedor,
        banca_id=banca,
        permissions=frozenset({"lottery_tickets_create"}),
    )
    cmd = sales.Purchase(
        payee_id=banca,
        payer_reference=ref,
        draw_number="100",
        combination_count=1,
        rematch=False,
        second_rematch=False,
        total_amount=sales.price((1500, 1000, 500), 1, False, False),
        branch_name="Tienda",
        branch_street="Calle 1",
        branch_city="CDMX",
        branch_neighborhood="Centro",
    )
    sign = lambda receipt: security_number(KEYS.current.signing_key, receipt)  # noqa: E731
    sale = sales.purchase(f.ctx(clock, "pos"), seller, cmd, sign, _Scripted(iter([board])))
    return str(sale.result.ticket_id)


def make_shop(clock: Any) -> Shop:
    """Winners sold through the real lottery services and evaluated by recording results:
    `big` (5,000,000 at window 1 by seller 1), `small` (100,000 at window 1 by seller 1),
    `other` (100,000 at window 2 by seller 2), `loser`, `open` (a later draw, not resulted)."""
    banca, ventana = f.banca_and_ventana(clock)
    ctx = f.ctx(clock)
    other = network.create_ventana(
        ctx, ADMIN_USER, network.NewVentana(banca_id=banca, name="Ventana 2", commission_bps=0)
    ).result.id
    seller = network.create_vendedor(
        ctx, ADMIN_USER, network.NewVendedor(ventana_id=ventana, name="V1", commission_bps=0)
    ).result.id
    other_seller = network.create_vendedor(
        ctx, ADMIN_USER, network.NewVendedor(ventana_id=other, name="V2", commission_bps=0)
    ).result.id
    for number in ("100", "101"):
        draws.create(
            ctx,
            ADMIN_USER,
            draws.NewDraw(
                payee_id=banca,
                draw_number=number,
                draw_date=dt.date(2026, 11, 22),
                closes_at=clock.now() + dt.timedelta(days=1),
                base_price=1500,
                rematch=1000,
                second_rematch=500,
                minimum_number_of_boards=1,
                maximum_number_of_boards=6,
                prizes=PRIZES,
                timezone="America/Mexico_City",
            ),
        )
    winners = {
        "big": _sell(clock, banca, ventana, seller, "big", SIX),
        "small": _sell(clock, banca, ventana, seller, "small", FIVE),
        "other": _sell(clock, banca, other, other_seller, "other", FIVE),
        "loser": _sell(clock, banca, ventana, seller, "loser", NONE),
    }
    draws.record_results(ctx, ADMIN_USER, "100", list(DRAWN))
    return Shop(banca, ventana, other, seller, other_seller, winners)


def cashier(shop: Shop, *, other: bool = False, user: str = "cashier-1") -> Principal:
    return Principal(
        user_id=user, role=VENTANA, ventana_id=shop.other_ventana if other else shop.ventana
    )


def seller_of(shop: Shop, *, other: bool = False) -> Principal:
    return Principal(
        user_id="seller-1" if not other else "seller-2",
        role=VENDEDOR,
        vendedor_id=shop.other_vendedor if other else shop.vendedor,
    )


def pay_cmd(ticket: str, amount: int, key: str, **kw: Any) -> payouts.PayTicket:
    fields: dict[str, Any] = dict(
        ticket_id=ticket,
        amount=amount,
        method="cash",
        is_final=False,
        notes=None,
        idempotency_key=key,
        ventana_id=None,
    )
    fields.update(kw)
    return payouts.PayTicket(**fields)


@pytest.fixture
def shop(db: Any, clock: Any) -> Shop:
    return make_shop(clock)


def _cash(shop: Shop, clock: Any, *, other: bool = False) -> int:
    window = shop.other_ventana if other else shop.ventana
    return ledger.balance_of(accounts.window_cash(window, "MXN", clock.now())).balance


def _liability(shop: Shop, clock: Any) -> int:
    return ledger.balance_of(accounts.prize_liability(shop.banca, "MXN", clock.now())).balance


def test_partial_then_final_payment_moves_liability_to_window_cash(db, clock, shop):
    big = shop.winners["big"]
    cash0, owed0 = _cash(shop, clock), _liability(shop, clock)
    first = payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(big, 2_000_000, "pay-0001"))
    assert first.created and not first.replayed
    assert Ticket.get_by_id(big).status == tickets.EVALUATED
    second = payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(big, 3_000_000, "pay-0002"))
    assert second.result.amount == 3_000_000
    ticket = Ticket.get_by_id(big)
    assert (ticket.status, ticket.paid_amount) == (tickets.PAID, 5_000_000)
    assert _cash(shop, clock) == cash0 - 5_000_000
    assert _liability(shop, clock) == owed0 - 5_000_000
    h = payouts.history(cashier(shop), big)
    assert (h.total_payout, h.total_paid, h.remaining, len(h.payments)) == (
        5_000_000,
        5_000_000,
        0,
        2,
    )
    assert reconcile().ok


def test_is_final_closes_a_partly_paid_ticket(db, clock, shop):
    big = shop.winners["big"]
    payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(big, 1_000, "pay-0001", is_final=True))
    assert Ticket.get_by_id(big).status == tickets.PAID
    with pytest.raises(payouts.NotPayable):
        payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(big, 1_000, "pay-0002"))


def test_patch_finalises_a_partial_payment_and_refuses_a_reversed_one(db, clock, shop):
    big = shop.winners["big"]
    paid = payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(big, 1_000, "pay-0001")).result
    done = payouts.update(f.ctx(clock), cashier(shop), paid.id, is_final=True, notes="fin")
    assert (done.result.is_final, done.result.notes) == (True, "fin")
    assert Ticket.get_by_id(big).status == tickets.PAID
    payouts.reverse(f.ctx(clock), cashier(shop), paid.id, "error")
    with pytest.raises(payouts.PaymentReversed):
        payouts.update(f.ctx(clock), cashier(shop), paid.id, is_final=True, notes=None)


def test_replay_is_cached_even_after_paid_and_altered_replay_conflicts(db, clock, shop):
    small = shop.winners["small"]
    cmd = pay_cmd(small, 100_000, "pay-0001", is_final=True)
    first = payouts.pay(f.ctx(clock), cashier(shop), cmd)
    again = payouts.pay(f.ctx(clock), cashier(shop), cmd)
    assert again.replayed and again.result == first.result
    with pytest.raises(IdempotencyConflict):
        payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(small, 99_000, "pay-0001"))
    # the key is the caller's: another cashier's same key is a new payment (refused: PAID)
    with pytest.raises(payouts.NotPayable):
        payouts.pay(f.ctx(clock), cashier(shop, user="cashier-2"), cmd)
    assert TicketPayment.select().count() == 1
    actions = [
        (r.action, r.result) for r in AuditRecord.select().where(AuditRecord.action == "TICKET_PAY")
    ]
    assert ("TICKET_PAY", "ok") in actions and ("TICKET_PAY", "replayed") in actions


def test_refusals_in_spec_order(db, clock, shop):
    ctx = f.ctx(clock)
    with pytest.raises(payouts.PaymentTicketNotFound):
        payouts.pay(
            ctx, cashier(shop), pay_cmd("00000000-0000-4000-8000-000000000000", 1, "k-000001")
        )
    with pytest.raises(Forbidden):
        payouts.pay(ctx, cashier(shop, other=True), pay_cmd(shop.winners["big"], 1, "k-000002"))
    with pytest.raises(Forbidden):  # ventanaId from a non-ADMIN
        payouts.pay(
            ctx, cashier(shop), pay_cmd(shop.winners["big"], 1, "k-000003", ventana_id=shop.ventana)
        )
    with pytest.raises(payouts.NotAWinner):
        payouts.pay(ctx, cashier(shop), pay_cmd(shop.winners["loser"], 1, "k-000004"))
    with pytest.raises(payouts.ExceedsRemaining):
        payouts.pay(ctx, cashier(shop), pay_cmd(shop.winners["small"], 100_001, "k-000005"))
    payouts.pay(ctx, cashier(shop), pay_cmd(shop.winners["small"], 60_000, "k-000006"))
    with pytest.raises(payouts.ExceedsRemaining):  # against what remains, not the payout
        payouts.pay(ctx, cashier(shop), pay_cmd(shop.winners["small"], 40_001, "k-000007"))
    assert reconcile().ok


def test_rbac(db, clock, shop):
    big, other = shop.winners["big"], shop.winners["other"]
    ctx = f.ctx(clock)
    # a seller pays its own ticket from its window's cash, not another seller's
    mine = payouts.pay(ctx, seller_of(shop), pay_cmd(big, 1_000, "s-000001")).result
    assert mine.ventana_id == shop.ventana
    with pytest.raises(Forbidden):
        payouts.pay(ctx, seller_of(shop), pay_cmd(other, 1_000, "s-000002"))
    with pytest.raises(Forbidden):
        payouts.pay(ctx, seller_of(shop, other=True), pay_cmd(big, 1_000, "s-000003"))
    with pytest.raises(Forbidden):
        payouts.history(cashier(shop, other=True), big)
    # ADMIN without ventanaId pays from the selling window; with it, from the one named
    cash2 = _cash(shop, clock, other=True)
    by_admin = payouts.pay(ctx, ADMIN_USER, pay_cmd(other, 1_000, "a-000001")).result
    assert by_admin.ventana_id == shop.other_ventana
    named = payouts.pay(
        ctx, ADMIN_USER, pay_cmd(other, 1_000, "a-000002", ventana_id=shop.ventana)
    ).result
    assert named.ventana_id == shop.ventana
    assert _cash(shop, clock, other=True) == cash2 - 1_000
    # reversing: ADMIN or the paying window's VENTANA, never a seller or another window
    with pytest.raises(Forbidden):
        payouts.reverse(ctx, seller_of(shop), mine.id, "no")
    with pytest.raises(Forbidden):
        payouts.reverse(ctx, cashier(shop, other=True), mine.id, "no")
    payouts.reverse(ctx, cashier(shop), mine.id, "yes")
    assert reconcile().ok


def test_reverse_mirrors_the_ledger_and_reopens_a_paid_ticket(db, clock, shop):
    small = shop.winners["small"]
    cash0, owed0 = _cash(shop, clock), _liability(shop, clock)
    paid = payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(small, 100_000, "pay-0001")).result
    assert Ticket.get_by_id(small).status == tickets.PAID
    undone = payouts.reverse(f.ctx(clock), ADMIN_USER, paid.id, "wrong ticket").result
    assert undone.is_reversed
    ticket = Ticket.get_by_id(small)
    assert (ticket.status, ticket.paid_amount) == (tickets.EVALUATED, 0)
    assert (_cash(shop, clock), _liability(shop, clock)) == (cash0, owed0)
    row = TicketPayment.get_by_id(paid.id)
    assert row.reversal_txn.reverses_id == row.txn_id
    with pytest.raises(AlreadyReversed):
        payouts.reverse(f.ctx(clock), ADMIN_USER, paid.id, "again")
    # payable again
    payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(small, 100_000, "pay-0002"))
    assert reconcile().ok


def test_maker_checker_above_threshold(db, clock, shop):
    big = shop.winners["big"]
    cash0 = _cash(shop, clock)
    pending = payouts.pay(
        f.ctx(clock), ADMIN_USER, pay_cmd(big, 5_000_000, "pay-0001"), approval_threshold=1_000_000
    ).result
    assert pending.pending_approval
    assert _cash(shop, clock) == cash0
    assert Ticket.get_by_id(big).status == tickets.EVALUATED
    with pytest.raises(payouts.ExceedsRemaining):  # the pending amount is reserved
        payouts.pay(f.ctx(clock), cashier(shop), pay_cmd(big, 1, "pay-0002"))
    with pytest.raises(Forbidden):  # not by its maker
        payouts.approve(f.ctx(clock), ADMIN_USER, pending.id)
    with pytest.raises(Forbidden):  # not by a cashier
        payouts.approve(f.ctx(clock), cashier(shop), pending.id)
    approved = payouts.approve(f.ctx(clock, "admin-2"), CHECKER, pending.id).result
    assert not approved.pending_approval and approved.approved_by == "admin-2"
    assert _cash(shop, clock) == cash0 - 5_000_000
    assert Ticket.get_by_id(big).status == tickets.PAID
    with pytest.raises(payouts.NotPending):
        payouts.approve(f.ctx(clock, "admin-2"), CHECKER, pending.id)
    # below the threshold: paid at once
    small = payouts.pay(
        f.ctx(clock),
        cashier(shop),
        pay_cmd(shop.winners["small"], 1_000, "pay-0003"),
        approval_threshold=1_000_000,
    ).result
    assert not small.pending_approval
    assert reconcile().ok


def test_reversing_a_pending_payment_moves_no_money(db, clock, shop):
    big = shop.winners["big"]
    pending = payouts.pay(
        f.ctx(clock), ADMIN_USER, pay_cmd(big, 2_000_000, "pay-0001"), approval_threshold=1
    ).result
    payouts.reverse(f.ctx(clock), ADMIN_USER, pending.id, "cancel")
    assert Ticket.get_by_id(big).paid_amount == 0
    assert TicketPayment.get_by_id(pending.id).reversal_txn_id is None
    assert reconcile().ok


def test_two_cashiers_one_ticket_never_overpaid(db, clock, shop):
    if not is_postgres(db):
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers)")
    small = shop.winners["small"]

    for round_ in range(5):

        def work(i: int, r: int = round_) -> Any:
            who = cashier(shop, user=f"cashier-{i}")
            cmd = pay_cmd(small, 100_000, f"race-{r}-{i}")
            return payouts.pay(f.ctx(clock, who.user_id), who, cmd)

        outcomes = in_threads(2, work)
        ok = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(ok) == 1
        assert all(
            isinstance(e, payouts.PaymentInProgress | payouts.ExceedsRemaining | payouts.NotPayable)
            for e in refused
        ), refused
        ticket = Ticket.get_by_id(small)
        assert ticket.paid_amount <= ticket.payout
        if ok:
            payouts.reverse(f.ctx(clock), ADMIN_USER, ok[0].result.id, "again")
    assert reconcile().ok
