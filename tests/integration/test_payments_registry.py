"""The payments registry's core on a real database: each payment is money in the ledger
(recorded, corrected by the difference, voided by mirrors), `transaction_id` is unique among
live payments even under concurrent duplicates, links and voids never cross, callers see only
their window's payments, and `reconcile` catches a registry that disagrees with the books."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core import network
from gateway.core.errors import Forbidden
from gateway.core.ledger import balance_of
from gateway.core.principal import VENTANA, Principal
from gateway.core.reconcile import reconcile
from gateway.core.registry import books, catalog, links, payments
from gateway.store import fastsql
from gateway.store.database import is_postgres
from gateway.store.models import (
    Account,
    AuditRecord,
    LedgerTxn,
    PaymentTicketLink,
    RegistryPayment,
)
from gateway.store.schema_0009 import currency_id, method_id
from tests import factories as f
from tests.concurrency import in_threads

ADMIN = f.ADMIN_USER
CASH, CARD, LIGHTNING = method_id("Cash"), method_id("Credit Card"), method_id("Bitcoin Lightning")
EUR, BTC, MXN = currency_id("EUR"), currency_id("BTC"), currency_id("MXN")


def fields(
    amount: int, txn: str = "txn-1", method: str = LIGHTNING, currency: str = BTC
) -> payments.PaymentFields:
    return payments.PaymentFields(
        method_id=method, currency_id=currency, transaction_id=txn, amount=amount
    )


def record(clock: Any, amount: int, txn: str = "txn-1", who: Principal = ADMIN, **kw: Any) -> str:
    outcome = payments.record(f.ctx(clock, who.user_id), who, fields(amount, txn, **kw))
    assert outcome.created
    return str(outcome.result.id)


def balance(code: str) -> int:
    account = Account.get_or_none(Account.code == code)
    return 0 if account is None else balance_of(account).balance


def cashier(ventana_id: str, user: str = "cashier-1") -> Principal:
    return Principal(user_id=user, role=VENTANA, ventana_id=ventana_id)


def test_the_catalogue_is_seeded_by_the_migration(db: Any) -> None:
    assert [m.name for m in catalog.list_methods()] == ["Cash", "Credit Card", "Bitcoin Lightning"]
    assert [c.acronym for c in catalog.list_currencies()] == ["EUR", "USD", "BTC", "MXN", "CRC"]
    assert catalog.get_method(LIGHTNING).name == "Bitcoin Lightning"
    with pytest.raises(catalog.MethodNotFound):
        catalog.get_method(EUR)


def test_a_payment_is_a_ledger_transaction_in_satoshi(db: Any, clock: Any) -> None:
    pid = record(clock, 25_000)  # 0.00025 BTC
    txn = LedgerTxn.get(LedgerTxn.reference == pid)
    assert txn.kind == "payment.received" and txn.memo == "lightning"
    assert balance("payments:lightning:clearing:BTC") == 25_000
    assert balance("payments:received:BTC") == 25_000
    assert payments.get_payment(ADMIN, pid).amount == 25_000
    assert reconcile().ok


def test_update_posts_the_difference_and_nothing_when_unchanged(db: Any, clock: Any) -> None:
    pid = record(clock, 25_000)
    payments.update(f.ctx(clock), ADMIN, pid, fields(30_000))
    corrections = list(LedgerTxn.select().where(LedgerTxn.kind == "payment.corrected"))
    assert len(corrections) == 1
    assert sorted(e.amount for e in corrections[0].entries) == [-5_000, 5_000]
    assert balance("payments:received:BTC") == 30_000
    payments.update(f.ctx(clock), ADMIN, pid, fields(30_000))
    assert LedgerTxn.select().where(LedgerTxn.reference == pid).count() == 2
    assert reconcile().ok


def test_changing_method_and_currency_moves_the_money(db: Any, clock: Any) -> None:
    pid = record(clock, 25_000)
    payments.update(f.ctx(clock), ADMIN, pid, fields(4_550, method=CASH, currency=EUR))
    assert balance("payments:lightning:clearing:BTC") == 0
    assert balance("payments:received:BTC") == 0
    assert balance("payments:cash:clearing:EUR") == 4_550
    assert balance("payments:received:EUR") == 4_550
    payments.update(f.ctx(clock), ADMIN, pid, fields(4_550, method=CARD, currency=EUR))
    assert balance("payments:cash:clearing:EUR") == 0
    assert balance("payments:credit_card:clearing:EUR") == 4_550
    lines = [(b.currency, b.registry_total, b.received, b.agrees) for b in books.books()]
    assert lines == [("EUR", 4_550, 4_550, True), ("BTC", 0, 0, True)]
    assert reconcile().ok


def test_void_mirrors_every_transaction_and_keeps_the_history(db: Any, clock: Any) -> None:
    pid = record(clock, 25_000)
    payments.update(f.ctx(clock), ADMIN, pid, fields(30_000))
    payments.void(f.ctx(clock), ADMIN, pid)
    kinds = sorted(t.kind for t in LedgerTxn.select().where(LedgerTxn.reference == pid))
    assert kinds == [
        "payment.corrected",
        "payment.corrected.reversal",
        "payment.received",
        "payment.received.reversal",
    ]
    assert balance("payments:received:BTC") == 0
    assert payments.list_payments(ADMIN) == []
    with pytest.raises(payments.PaymentNotFound):
        payments.get_payment(ADMIN, pid)
    with pytest.raises(payments.PaymentNotFound):
        payments.void(f.ctx(clock), ADMIN, pid)
    assert RegistryPayment.get_by_id(pid).voided  # the row stays, out of the lists
    report = reconcile()
    assert report.ok, report.render()
    # the transaction id of a voided payment may be recorded again
    again = record(clock, 1_000)
    assert again != pid and [p.id for p in payments.list_payments(ADMIN)] == [again]


def test_a_live_transaction_id_is_taken_once(db: Any, clock: Any) -> None:
    record(clock, 25_000, "txn-1")
    other = record(clock, 10_000, "txn-2")
    before = LedgerTxn.select().count()
    with pytest.raises(payments.DuplicateTransaction):
        record(clock, 99, "txn-1", method=CASH, currency=EUR)
    with pytest.raises(payments.DuplicateTransaction):
        payments.update(f.ctx(clock), ADMIN, other, fields(10_000, "txn-1"))
    assert LedgerTxn.select().count() == before
    assert payments.get_payment(ADMIN, other).transaction_id == "txn-2"
    refused = AuditRecord.select().where(AuditRecord.result == "rejected:transaction_id_taken")
    assert refused.count() == 2


def test_unknown_method_currency_and_bad_amounts_write_nothing(db: Any, clock: Any) -> None:
    for bad, error in (
        (fields(100, method=EUR), catalog.UnknownMethod),
        (fields(100, currency=CASH), catalog.UnknownCurrency),
        (fields(0), payments.Invalid),
        (fields(-5), payments.Invalid),
        (fields(10**15 + 1), payments.Invalid),
    ):
        with pytest.raises(error):
            payments.record(f.ctx(clock), ADMIN, bad)
    assert RegistryPayment.select().count() == 0 and LedgerTxn.select().count() == 0


def test_split_and_mixed_payments_and_the_void_refusal(db: Any, clock: Any) -> None:
    first = record(clock, 25_000, "txn-1")
    second = record(clock, 300, "txn-2", method=CASH, currency=EUR)
    for pid, ticket in ((first, "T-1"), (first, "T-2"), (second, "T-1")):
        links.link(f.ctx(clock), ADMIN, pid, ticket)
    with pytest.raises(links.LinkExists):
        links.link(f.ctx(clock), ADMIN, first, "T-1")
    assert [v.ticket_id for v in links.tickets_of(ADMIN, first)] == ["T-1", "T-2"]
    assert {p.id for p in links.payments_of(ADMIN, "T-1")} == {first, second}
    before = LedgerTxn.select().count()
    with pytest.raises(payments.PaymentInUse):
        payments.void(f.ctx(clock), ADMIN, first)
    assert LedgerTxn.select().count() == before
    links.unlink(f.ctx(clock), ADMIN, first, "T-2")
    with pytest.raises(links.LinkNotFound):
        links.unlink(f.ctx(clock), ADMIN, first, "T-2")
    assert links.unlink_ticket(f.ctx(clock), ADMIN, "T-1").result.count == 2
    with pytest.raises(links.LinkNotFound):
        links.unlink_ticket(f.ctx(clock), ADMIN, "T-1")
    payments.void(f.ctx(clock), ADMIN, first)
    with pytest.raises(payments.PaymentNotFound):
        links.link(f.ctx(clock), ADMIN, first, "T-3")
    assert reconcile().ok


def test_a_window_sees_and_touches_only_its_own_payments(db: Any, clock: Any) -> None:
    _, mine = f.banca_and_ventana(clock)
    theirs = network.create_ventana(
        f.ctx(clock), ADMIN, network.NewVentana(network.list_bancas(ADMIN)[0].id, "Otra", 0)
    ).result.id
    me, other = cashier(mine), cashier(theirs, "cashier-2")
    own = record(clock, 100, "txn-mine", who=me)
    foreign = record(clock, 200, "txn-theirs", who=other)
    assert [p.id for p in payments.list_payments(me)] == [own]
    assert {p.id for p in payments.list_payments(ADMIN)} == {own, foreign}
    for attempt in (
        lambda: payments.get_payment(me, foreign),
        lambda: payments.update(f.ctx(clock), me, foreign, fields(1, "txn-theirs")),
        lambda: payments.void(f.ctx(clock), me, foreign),
        lambda: links.link(f.ctx(clock), me, foreign, "T-1"),
        lambda: links.tickets_of(me, foreign),
    ):
        with pytest.raises(payments.PaymentNotFound):
            attempt()
    links.link(f.ctx(clock), other, foreign, "T-1")
    assert links.payments_of(me, "T-1") == []
    with pytest.raises(links.LinkNotFound):
        links.unlink_ticket(f.ctx(clock), me, "T-1")
    assert PaymentTicketLink.select().count() == 1
    with pytest.raises(Forbidden):
        payments.list_payments(Principal(user_id="x", role=VENTANA))  # names no window


def test_reconcile_catches_a_registry_that_disagrees_with_the_books(db: Any, clock: Any) -> None:
    pid = record(clock, 25_000)
    fastsql.execute("UPDATE registry_payment SET amount = %s WHERE id = %s", (26_000, pid))
    report = reconcile()
    assert {c.name for c in report.breaches} == {"registry_payments_in_books"}
    assert pid in report.check("registry_payments_in_books").detail
    assert not books.books()[0].agrees


def test_racing_duplicate_transaction_ids_record_one_payment(db: Any, clock: Any) -> None:
    """Eight requests with one `transaction_id` at the same moment: one payment, one ledger
    transaction, seven `DuplicateTransaction` (on PostgreSQL the unique index makes the
    others wait for the first commit; SQLite serialises them)."""
    for round_ in range(3):
        txn = f"race-{round_}"

        def work(i: int, txn: str = txn) -> Any:
            return payments.record(f.ctx(clock, f"u{i}"), ADMIN, fields(1_000 + i, txn))

        outcomes = in_threads(8, work)
        ok = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(ok) == 1, outcomes
        assert all(isinstance(e, payments.DuplicateTransaction) for e in refused), refused
        assert RegistryPayment.select().where(RegistryPayment.transaction_id == txn).count() == 1
    assert LedgerTxn.select().count() == 3
    assert reconcile().ok


def test_racing_link_and_void_never_leave_a_link_to_a_voided_payment(db: Any, clock: Any) -> None:
    if not is_postgres(db):
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers)")
    for round_ in range(5):
        pid = record(clock, 500, f"lv-{round_}")

        def work(i: int, pid: str = pid) -> Any:
            if i == 0:
                return payments.void(f.ctx(clock), ADMIN, pid)
            return links.link(f.ctx(clock), ADMIN, pid, "T-race")

        void, link = in_threads(2, work)
        voided = RegistryPayment.get_by_id(pid).voided
        linked = PaymentTicketLink.select().where(PaymentTicketLink.payment == pid).exists()
        assert voided != linked, (void, link)
        if voided:
            assert isinstance(link, payments.PaymentNotFound)
        else:
            assert isinstance(void, payments.PaymentInUse)
    assert reconcile().ok


def test_racing_corrections_leave_the_books_equal_to_the_last_one(db: Any, clock: Any) -> None:
    pid = record(clock, 1_000)

    def work(i: int) -> Any:
        return payments.update(f.ctx(clock), ADMIN, pid, fields(2_000 + i * 100))

    outcomes = in_threads(6, work)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    final = payments.get_payment(ADMIN, pid).amount
    assert balance("payments:received:BTC") == final
    assert reconcile().ok


def test_reconcile_catches_payment_money_in_another_currency_or_for_no_payment(
    db: Any, clock: Any
) -> None:
    from gateway.core import accounts, ledger
    from gateway.store.database import unit_of_work

    pid = record(clock, 25_000)
    with unit_of_work(ledger.database):
        now = clock.now()
        for reference, currency in ((pid, "EUR"), ("no-such-payment", "BTC")):
            clearing = accounts.payment_clearing("cash", currency, now)
            received = accounts.payments_received(currency, now)
            legs = [ledger.Leg(clearing, 700), ledger.Leg(received, -700)]
            ledger.post("payment.received", legs, now=now, reference=reference)
    check = reconcile().check("registry_payments_in_books")
    assert not check.ok and check.count == 2
    assert f"payment {pid} book +700 EUR" in check.detail
    assert "payment no-such-payment book +700 BTC" in check.detail
