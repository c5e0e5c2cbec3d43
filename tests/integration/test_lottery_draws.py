"""Draws on a real database (SPEC 9): creation rules, results evaluated against prizes
computed by hand, the prize liability booked in the ledger, reconcile clean, results twice
refused, and winners left payable (EVALUATED, `won`, payout)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.core import accounts, ledger, tickets
from gateway.core.errors import Conflict, Forbidden, IdempotencyConflict, Invalid, NotFound
from gateway.core.lottery import CompanyNotFound, draws, sales
from gateway.core.principal import ADMIN, VENTANA, Principal
from gateway.core.reconcile import reconcile
from gateway.store.models import LotteryDraw, Settlement, Ticket
from signing.keys import Keyring, generate_keypair
from signing.receipts import security_number, verify_receipt
from tests import factories as f

ADMIN_USER = Principal(user_id="admin-1", role=ADMIN)
PRIZES = {
    "base": {"6": 5_000_000, "5": 100_000, "4": 5_000, "3": 1_500},
    "rematch": {"6": 1_000_000, "5": 20_000, "3": 300},
    "second_rematch": {"6": 200_000, "4": 700},
}
KEYS = Keyring.from_texts([("t", generate_keypair()[0], True)])


def sign(receipt: Any) -> str:
    return security_number(KEYS.current.signing_key, receipt)


class Scripted(sales.Randomness):
    """Boards from a script, numbers from `secrets` as usual."""

    def __init__(self, boards: Iterator[str]) -> None:
        super().__init__()
        self._boards = boards

    def board(self) -> str:
        return next(self._boards)


def make_draw(clock: Any, payee: str, number: str = "100", **overrides: Any) -> draws.DrawView:
    fields: dict[str, Any] = dict(
        payee_id=payee,
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
    )
    fields.update(overrides)
    return draws.create(f.ctx(clock), ADMIN_USER, draws.NewDraw(**fields)).result


def sell(
    clock: Any,
    banca: str,
    ventana: str,
    ref: str,
    boards: list[str],
    *,
    rematch: bool = False,
    second: bool = False,
    draw: str = "100",
) -> sales.LotterySale:
    count = len(boards)
    seller = Principal(
        user_id="pos",
        role=VENTANA,
        ventana_id=ventana,
        banca_id=banca,
        permissions=frozenset({"lottery_tickets_create"}),
    )
    cmd = sales.Purchase(
        payee_id=banca,
        payer_reference=ref,
        draw_number=draw,
        combination_count=count,
        rematch=rematch,
        second_rematch=second,
        total_amount=sales.price((1500, 1000, 500), count, rematch, second),
        branch_name="Tienda",
        branch_street="Calle 1",
        branch_city="CDMX",
        branch_neighborhood="Centro",
    )
    return sales.purchase(f.ctx(clock, "pos"), seller, cmd, sign, Scripted(iter(boards))).result


@pytest.fixture
def network(db, clock):  # type: ignore[no-untyped-def]
    banca, ventana = f.banca_and_ventana(clock)
    make_draw(clock, banca)
    return banca, ventana


def test_results_are_evaluated_against_hand_computed_prizes(db, clock, network):
    banca, ventana = network
    # drawn: 3 11 19 27 35 43
    a = sell(clock, banca, ventana, "a", ["3,11,19,27,35,43"])  # 6 matches, base only
    b = sell(
        clock, banca, ventana, "b", ["3,11,19,27,35,44", "1,2,4,5,6,7"], rematch=True
    )  # 5 matches + 0: base 100000 + rematch 20000
    c = sell(
        clock,
        banca,
        ventana,
        "c",
        ["3,11,19,28,36,44", "3,11,19,27,50,51"],
        rematch=True,
        second=True,
    )
    # board 1: 3 matches → 1500 + 300 + 0; board 2: 4 matches → 5000 + 0 + 700
    d = sell(clock, banca, ventana, "d", ["1,2,4,5,6,7"], rematch=True, second=True)  # loses
    e = sell(clock, banca, ventana, "e", ["3,11,20,21,22,23"])  # 2 matches: 0
    expected = {
        a.ticket_id: 5_000_000,
        b.ticket_id: 120_000,
        c.ticket_id: 1_500 + 300 + 5_000 + 700,
        d.ticket_id: 0,
        e.ticket_id: 0,
    }

    view = draws.record_results(f.ctx(clock), ADMIN_USER, "100", [43, 35, 27, 19, 11, 3]).result
    assert (view.status, view.numbers, view.evaluated, view.winners) == (
        "resulted",
        [3, 11, 19, 27, 35, 43],
        5,
        3,
    )
    assert view.payout_total == sum(expected.values())
    for ticket_id, payout in expected.items():
        t = Ticket.get_by_id(ticket_id)
        assert (t.status, t.payout) == (tickets.EVALUATED, payout)
        assert t.result == (tickets.WON if payout else tickets.LOST)
        actions = [s.action for s in Settlement.select().where(Settlement.ticket == ticket_id)]
        assert actions == (["ticket_win"] if payout else [])

    liability = ledger.balance_of(accounts.prize_liability(banca, "MXN", clock.now()))
    payouts = ledger.balance_of(accounts.payouts(banca, "MXN", clock.now()))
    assert liability.balance == payouts.balance == sum(expected.values())
    report = reconcile()
    assert report.ok, report.render()


def test_results_twice_are_refused_and_close_sales(db, clock, network):
    banca, ventana = network
    sell(clock, banca, ventana, "a", ["1,2,3,4,5,6"])
    draws.record_results(f.ctx(clock), ADMIN_USER, "100", [1, 2, 3, 4, 5, 6])
    with pytest.raises(Conflict):
        draws.record_results(f.ctx(clock), ADMIN_USER, "100", [1, 2, 3, 4, 5, 7])
    assert LotteryDraw.get(LotteryDraw.draw_number == "100").numbers == "1,2,3,4,5,6"
    with pytest.raises(Invalid):
        sell(clock, banca, ventana, "b", ["1,2,3,4,5,6"])


def test_a_draw_without_winners_books_nothing(db, clock, network):
    banca, ventana = network
    sell(clock, banca, ventana, "a", ["1,2,3,4,5,6"])
    view = draws.record_results(f.ctx(clock), ADMIN_USER, "100", [51, 52, 53, 54, 55, 56]).result
    assert (view.winners, view.payout_total, view.evaluated) == (0, 0, 1)
    assert LotteryDraw.get(LotteryDraw.draw_number == "100").liability_txn_id is None
    assert reconcile().ok


@pytest.mark.parametrize(
    "numbers",
    [
        [1, 2, 3, 4, 5],
        [1, 2, 3, 4, 5, 5],
        [0, 1, 2, 3, 4, 5],
        [1, 2, 3, 4, 5, 57],
        [1, 2, 3, 4, 5, 6, 7],
    ],
)
def test_results_need_six_distinct_numbers_from_1_to_56(db, clock, network, numbers):
    with pytest.raises(Invalid):
        draws.record_results(f.ctx(clock), ADMIN_USER, "100", numbers)


def test_draw_rules(db, clock, network):
    banca, _ = network
    with pytest.raises(Conflict):
        make_draw(clock, banca, "100")
    with pytest.raises(CompanyNotFound):
        make_draw(clock, "no-such-banca", "101")
    with pytest.raises(Invalid):
        make_draw(clock, banca, "102", closes_at=clock.now())
    with pytest.raises(Invalid):
        make_draw(clock, banca, "103", minimum_number_of_boards=4, maximum_number_of_boards=3)
    with pytest.raises(Invalid):
        make_draw(clock, banca, "104", prizes={"base": {"7": 1}})
    with pytest.raises(Forbidden):
        draws.create(
            f.ctx(clock),
            Principal(user_id="v", role=VENTANA, ventana_id="x"),
            draws.NewDraw(banca, "105", dt.date(2026, 1, 1), clock.now(), 1, 0, 0, 1, 6, {}, "UTC"),
        )
    with pytest.raises(NotFound):
        draws.record_results(f.ctx(clock), ADMIN_USER, "nope", [1, 2, 3, 4, 5, 6])


def test_the_active_draw_is_the_open_one_closing_first(db, clock, network):
    banca, _ = network
    make_draw(clock, banca, "099", closes_at=clock.now() + dt.timedelta(hours=2))
    assert draws.active_view(banca, clock.now()).draw_number == "099"
    clock.advance(3 * 3600)
    assert draws.active_view(banca, clock.now()).draw_number == "100"


def test_the_payer_reference_is_claimed_once(db, clock, network):
    banca, ventana = network
    first = sell(clock, banca, ventana, "r", ["1,2,3,4,5,6"])
    again = sell(clock, banca, ventana, "r", ["7,8,9,10,11,12"])
    assert again == first
    with pytest.raises(IdempotencyConflict):
        sell(clock, banca, ventana, "r", ["1,2,3,4,5,6", "7,8,9,10,11,12"])


def test_a_stored_receipt_verifies(db, clock, network):
    banca, ventana = network
    sale = sell(clock, banca, ventana, "v", ["1,2,3,4,5,6"])
    assert verify_receipt(KEYS.verify_keys(), sale.receipt()) == (True, None)
