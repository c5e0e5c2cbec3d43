"""Reconciliation: check every money invariant of SPEC section 10 against the database.

`reconcile()` runs one SQL aggregate per invariant inside a single read-only snapshot
(PostgreSQL `REPEATABLE READ READ ONLY`, a deferred read transaction on SQLite WAL), so the
report describes one consistent moment even while the gateway keeps writing, and its cost is
a few scans of the ledger tables, never a walk over entries in Python. Only the offending
rows (at most `sample` per check) come back to Python, to be named in the report.

A breach fails the report (`pamgate reconcile` exits 1). A player wallet below its floor is
a *warning* instead ("player debt"): only the rollback of a settled win may do that. This
module reads; it must never write or repair anything: a breach is for a human to examine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from peewee import JOIN, Case, Expression, Select, Value, fn

from gateway.core import ledger_kinds, tickets
from gateway.core.betengine.postings import WALLET_PSPS
from gateway.core.ledger import CREDIT, DEBIT
from gateway.core.ledger_kinds import PAYMENT_CLEARING
from gateway.core.registry.payments import KINDS as REGISTRY_KINDS
from gateway.progress import ProgressCallback
from gateway.store.database import read_snapshot
from gateway.store.models import (
    Account,
    AccountPayment,
    DailyActivity,
    Entry,
    Hold,
    LedgerTxn,
    PaymentCurrency,
    RegistryPayment,
    Ticket,
    TicketPayment,
)

SAMPLE = 10
PLAYER_WALLET = "player_wallet"


@dataclass(frozen=True)
class Check:
    """One invariant: `ok`, and a one-line `detail` naming up to `SAMPLE` offenders."""

    name: str
    ok: bool
    detail: str
    count: int = 0  # offending rows (0 when ok)


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def breaches(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "totals": dict(self.totals),
            "checks": [asdict(check) for check in self.checks],
            "warnings": list(self.warnings),
        }

    def render(self) -> str:
        verdict = "OK" if self.ok else f"BREACH ({len(self.breaches)} failed)"
        lines = [f"pamgate reconciliation: {verdict}"]
        if self.totals:
            lines.append("  " + ", ".join(f"{name} {n}" for name, n in self.totals.items()))
        width = max((len(check.name) for check in self.checks), default=0)
        for check in self.checks:
            mark = "ok    " if check.ok else "BREACH"
            lines.append(f"  [{mark}] {check.name.ljust(width)}  {check.detail}")
        if self.warnings:
            lines.append(f"warnings ({len(self.warnings)}):")
            lines.extend(f"  - {warning}" for warning in self.warnings)
        return "\n".join(lines)


def reconcile(*, sample: int = SAMPLE, progress: ProgressCallback | None = None) -> Report:
    """Check every invariant in one snapshot; see the module docstring. `progress`: called
    with (checks done, checks in all) after each."""
    with read_snapshot():
        report = Report(totals=_totals())
        for done, run in enumerate(_CHECKS, 1):
            report.checks.append(run(report, sample))
            if progress is not None:
                progress(done, len(_CHECKS))
        return report


# --- helpers -----------------------------------------------------------------------------


def _offenders(query: Select, sample: int) -> tuple[list[tuple[Any, ...]], int]:
    """Up to `sample` offending rows and how many there are in all. PostgreSQL sums bigints
    as `numeric`: such values (always whole minor units here) come back as `int`."""
    rows = [
        tuple(int(v) if isinstance(v, Decimal) else v for v in row)
        for row in query.limit(sample).tuples()
    ]
    if len(rows) < sample:
        return rows, len(rows)
    return rows, query.order_by().limit(None).count()


def _check(
    name: str,
    rows: Sequence[tuple[Any, ...]],
    count: int,
    ok_text: str,
    what: str,
    describe: Callable[[tuple[Any, ...]], str],
) -> Check:
    if not count:
        return Check(name, True, ok_text)
    listed = "; ".join(describe(row) for row in rows)
    more = f"; and {count - len(rows)} more" if count > len(rows) else ""
    return Check(name, False, f"{count} {what}: {listed}{more}", count)


def _totals() -> dict[str, int]:
    return {
        "accounts": Account.select().count(),
        "transactions": LedgerTxn.select().count(),
        "entries": Entry.select().count(),
        "open_holds": Hold.select().where(Hold.status == "open").count(),
        "tickets": Ticket.select().count(),
    }


# --- (a) every transaction balances per currency and has two entries or more -----------------


def _transactions_balance(report: Report, sample: int) -> Check:
    total = fn.SUM(Entry.amount)
    query = (
        Entry.select(Entry.txn, Entry.currency, total)
        .group_by(Entry.txn, Entry.currency)
        .having(total != 0)
        .order_by(Entry.txn, Entry.currency)
    )
    rows, count = _offenders(query, sample)
    return _check(
        "transactions_balance",
        rows,
        count,
        "every transaction's entries sum to zero per currency",
        "transaction/currency pairs do not sum to zero",
        lambda r: f"txn {r[0]} {r[1]} sums to {r[2]:+d}",
    )


def _transactions_have_two_entries(report: Report, sample: int) -> Check:
    entries = fn.COUNT(Entry.id)
    query = (
        LedgerTxn.select(LedgerTxn.id, LedgerTxn.kind, entries)
        .join(Entry, JOIN.LEFT_OUTER, on=(Entry.txn == LedgerTxn.id))
        .group_by(LedgerTxn.id, LedgerTxn.kind)
        .having(entries < 2)
        .order_by(LedgerTxn.id)
    )
    rows, count = _offenders(query, sample)
    return _check(
        "transactions_have_two_entries",
        rows,
        count,
        "every transaction has at least two entries",
        "transactions have fewer than two entries",
        lambda r: f"txn {r[0]} ({r[1]}) has {r[2]}",
    )


def _entry_currencies(report: Report, sample: int) -> Check:
    query = (
        Entry.select(Entry.id, Entry.txn, Entry.currency, Account.code, Account.currency)
        .join(Account, on=(Entry.account == Account.id))
        .where(Entry.currency != Account.currency)
        .order_by(Entry.id)
    )
    rows, count = _offenders(query, sample)
    return _check(
        "entry_currencies",
        rows,
        count,
        "every entry is in its account's currency",
        "entries are not in their account's currency",
        lambda r: f"entry {r[0]} of txn {r[1]} is {r[2]}, account {r[3]} is {r[4]}",
    )


# --- (b) cached balances equal the entries ---------------------------------------------------


def _cached_balances(report: Report, sample: int) -> Check:
    sums = (
        Entry.select(Entry.account.alias("account_id"), fn.SUM(Entry.amount).alias("total"))
        .group_by(Entry.account)
        .alias("sums")
    )
    total = fn.COALESCE(sums.c.total, 0)
    cached = Account.caches_balance == True  # noqa: E712 - SQL comparison
    wrong = (
        (cached & (Account.normal_side == DEBIT) & (Account.balance != total))
        | (cached & (Account.normal_side == CREDIT) & (Account.balance + total != 0))
        | (~cached & ((Account.balance != 0) | (Account.held != 0)))
        | Account.normal_side.not_in([DEBIT, CREDIT])
    )
    query = (
        Account.select(Account.id, Account.code, Account.normal_side, Account.balance, total)
        .join(sums, JOIN.LEFT_OUTER, on=(sums.c.account_id == Account.id))
        .where(wrong)
        .order_by(Account.id)
    )
    rows, count = _offenders(query, sample)

    def describe(r: tuple[Any, ...]) -> str:
        expected = r[4] if r[2] == DEBIT else -r[4] if r[2] == CREDIT else None
        return f"account {r[0]} {r[1]} ({r[2]}-normal) caches {r[3]}, its entries give {expected}"

    return _check(
        "cached_balances",
        rows,
        count,
        "every cached balance equals the sum of its entries",
        "accounts' cached balances differ from their entries",
        describe,
    )


# --- (c) held amounts equal the open holds ------------------------------------------------------


def _held_amounts(report: Report, sample: int) -> Check:
    open_sums = (
        Hold.select(Hold.account.alias("account_id"), fn.SUM(Hold.amount).alias("total"))
        .where(Hold.status == "open")
        .group_by(Hold.account)
        .alias("open_sums")
    )
    total = fn.COALESCE(open_sums.c.total, 0)
    query = (
        Account.select(Account.id, Account.code, Account.held, total)
        .join(open_sums, JOIN.LEFT_OUTER, on=(open_sums.c.account_id == Account.id))
        .where((Account.held != total) | (Account.held < 0))
        .order_by(Account.id)
    )
    rows, count = _offenders(query, sample)
    bad_holds = (
        Hold.select(Hold.id, Hold.amount)
        .where((Hold.status == "open") & (Hold.amount <= 0))
        .order_by(Hold.id)
    )
    hold_rows, hold_count = _offenders(bad_holds, sample)
    described = [f"account {r[0]} {r[1]} holds {r[2]}, its open holds sum to {r[3]}" for r in rows]
    described += [f"open hold {r[0]} has non-positive amount {r[1]}" for r in hold_rows]
    return _check(
        "held_amounts",
        [(text,) for text in described[:sample]],
        count + hold_count,
        "every account's held amount equals its open holds and is not negative",
        "held amounts are wrong",
        lambda r: str(r[0]),
    )


# --- (d) open holds equal reserved wallet tickets --------------------------------------------


def _holds_match_reserved_tickets(report: Report, sample: int) -> Check:
    orphan_holds = (
        Hold.select(Hold.id, Hold.reference, Hold.amount)
        .join(
            Ticket,
            JOIN.LEFT_OUTER,
            on=(
                (Ticket.id == Hold.reference)
                & (Ticket.hold == Hold.id)
                & (Ticket.status == tickets.RESERVED)
            ),
        )
        .where((Hold.status == "open") & Ticket.id.is_null())
        .order_by(Hold.id)
    )
    closed_for_reserved = (
        Ticket.select(Ticket.id, Ticket.hold, Hold.status)
        .join(Hold, JOIN.LEFT_OUTER, on=(Hold.id == Ticket.hold))
        .where(
            (Ticket.status == tickets.RESERVED)
            & Ticket.hold.is_null(False)
            & (Hold.id.is_null() | (Hold.status != "open"))
        )
        .order_by(Ticket.id)
    )
    # a reserved ticket paid from a wallet reserves its price with a hold (betengine.place)
    unheld_wallet_tickets = (
        Ticket.select(Ticket.id, Ticket.price)
        .where(
            (Ticket.status == tickets.RESERVED)
            & Ticket.hold.is_null()
            & Ticket.player.is_null(False)
            & (Ticket.price > 0)
            & (Ticket.psp.is_null() | Ticket.psp.in_(list(WALLET_PSPS)))
        )
        .order_by(Ticket.id)
    )
    described: list[str] = []
    count = 0
    rows, n = _offenders(orphan_holds, sample)
    count += n
    described += [
        f"open hold {r[0]} ({r[2]}) is not the hold of a reserved ticket "
        f"(reference {r[1] or 'none'})"
        for r in rows
    ]
    rows, n = _offenders(closed_for_reserved, sample)
    count += n
    described += [
        f"reserved ticket {r[0]} names hold {r[1]}, which is {r[2] or 'missing'}" for r in rows
    ]
    rows, n = _offenders(unheld_wallet_tickets, sample)
    count += n
    described += [f"reserved wallet ticket {r[0]} ({r[1]}) has no hold" for r in rows]
    return _check(
        "holds_match_reserved_tickets",
        [(text,) for text in described[:sample]],
        count,
        "open holds and reserved wallet tickets match one to one",
        "holds and reserved tickets do not match",
        lambda r: str(r[0]),
    )


# --- (e), (f) ticket payments -------------------------------------------------------------------


def _payments_within_payouts(report: Report, sample: int) -> Check:
    query = (
        Ticket.select(Ticket.id, Ticket.channel, Ticket.paid_amount, Ticket.payout)
        .where((Ticket.paid_amount > Ticket.payout) | (Ticket.paid_amount < 0))
        .order_by(Ticket.id)
    )
    rows, count = _offenders(query, sample)
    return _check(
        "payments_within_payouts",
        rows,
        count,
        "no ticket is paid more than its payout",
        "tickets are paid more than their payout (or a negative amount)",
        lambda r: f"ticket {r[0]} ({r[1]}) paid {r[2]} of payout {r[3]}",
    )


def _finalised() -> Expression:
    """A PAID ticket below its payout is complete when a cashier finalised it: one of its
    payments is posted, not reversed and marked `isFinal`."""
    final = TicketPayment.select(TicketPayment.id).where(
        (TicketPayment.ticket == Ticket.id)
        & (TicketPayment.is_final == Value(True))
        & (TicketPayment.is_reversed == Value(False))
        & (TicketPayment.status == "posted")
    )
    return fn.EXISTS(final)


def _paid_tickets_fully_paid(report: Report, sample: int) -> Check:
    short = (Ticket.status == tickets.PAID) & (Ticket.paid_amount != Ticket.payout)
    query = (
        Ticket.select(Ticket.id, Ticket.channel, Ticket.paid_amount, Ticket.payout)
        .where(short & ~_finalised())
        .order_by(Ticket.id)
    )
    rows, count = _offenders(query, sample)
    return _check(
        "paid_tickets_fully_paid",
        rows,
        count,
        "every PAID ticket is fully paid or finalised",
        "PAID tickets are neither fully paid nor finalised",
        lambda r: f"ticket {r[0]} ({r[1]}) paid {r[2]} of payout {r[3]}",
    )


# --- (h) the statements' daily rows agree with the ledger and the account payments --------------


def _window_cash_by_kind(kinds: tuple[str, ...]) -> dict[str, int]:
    """Per currency, what transactions of `kinds` (and their reversals) moved on windows'
    cash accounts."""
    names = kinds + tuple(ledger_kinds.reversal_name(k) for k in kinds)
    rows = (
        Entry.select(Entry.currency, fn.SUM(Entry.amount))
        .join(LedgerTxn, on=(Entry.txn == LedgerTxn.id))
        .join(Account, on=(Entry.account == Account.id))
        .where(LedgerTxn.kind.in_(names) & (Account.kind == ledger_kinds.WINDOW_CASH))
        .group_by(Entry.currency)
        .tuples()
    )
    return {currency: int(total) for currency, total in rows}


def _daily_activity(report: Report, sample: int) -> Check:
    """Per currency: the sales in the daily rows are what lottery sales put in windows' cash,
    their payouts what ticket payments took out of it, their payments and collections the
    account payments not reversed. A statement is then the ledger, summed by day."""
    A = DailyActivity
    daily = {
        row[0]: [int(v) for v in row[1:]]
        for row in A.select(
            A.currency, fn.SUM(A.sales), fn.SUM(A.payouts), fn.SUM(A.paid), fn.SUM(A.collected)
        )
        .group_by(A.currency)
        .tuples()
    }
    P = AccountPayment
    settled: dict[tuple[str, str], int] = {
        (currency, type_): int(total)
        for currency, type_, total in P.select(P.currency, P.type, fn.SUM(P.amount))
        .where(P.is_reversed == Value(False))
        .group_by(P.currency, P.type)
        .tuples()
    }
    sold = _window_cash_by_kind(("lottery.sale",))
    prizes = _window_cash_by_kind(("ticket.payment",))
    currencies = set(daily) | set(sold) | set(prizes) | {c for c, _ in settled}
    problems: list[tuple[Any, ...]] = []
    for c in sorted(currencies):
        sales, payouts, paid, collected = daily.get(c, [0, 0, 0, 0])
        expected = (
            ("sales", sales, sold.get(c, 0)),
            ("payouts", payouts, -prizes.get(c, 0)),
            ("paid", paid, settled.get((c, "payment"), 0)),
            ("collected", collected, settled.get((c, "collection"), 0)),
        )
        problems += [(c, name, got, want) for name, got, want in expected if got != want]
    return _check(
        "daily_activity_matches_ledger",
        problems[:sample],
        len(problems),
        "the statements' daily rows agree with the ledger and the account payments",
        "daily totals disagree",
        lambda r: f"{r[0]} {r[1]}: daily rows {r[2]}, ledger {r[3]}",
    )


# --- (g) floors -------------------------------------------------------------------------------


def _floors(report: Report, sample: int) -> Check:
    below = Account.floor.is_null(False) & (Account.balance - Account.held < Account.floor)
    columns = (Account.id, Account.code, Account.balance, Account.held, Account.floor)

    def describe(r: tuple[Any, ...]) -> str:
        return (
            f"account {r[0]} {r[1]} balance {r[2]} held {r[3]} available {r[2] - r[3]} "
            f"below its floor {r[4]}"
        )

    debts, debt_count = _offenders(
        Account.select(*columns)
        .where(below & (Account.kind == PLAYER_WALLET))
        .order_by(Account.id),
        sample,
    )
    report.warnings += [f"player debt: {describe(r)}" for r in debts]
    if debt_count > len(debts):
        report.warnings.append(f"player debt: and {debt_count - len(debts)} more wallets")
    rows, count = _offenders(
        Account.select(*columns)
        .where(below & (Account.kind != PLAYER_WALLET))
        .order_by(Account.id),
        sample,
    )
    return _check(
        "floors",
        rows,
        count,
        "no account is below its floor (player debt is a warning)",
        "accounts are below their floor",
        describe,
    )


# --- (h) reversals mirror their originals -----------------------------------------------------


def _reversals_mirror(report: Report, sample: int) -> Check:
    """Each reversal's entries are its original's negated, entry for entry: as a multiset of
    (account, currency, amount), reversal entries (+1) and negated originals (-1) cancel."""
    reversal = LedgerTxn.alias("reversal")
    own = (
        Entry.select(
            reversal.id.alias("rid"),
            Entry.account.alias("account_id"),
            Entry.currency.alias("currency"),
            Entry.amount.alias("amount"),
            Value(1).alias("side"),
        )
        .join(reversal, on=(Entry.txn == reversal.id))
        .where(reversal.reverses.is_null(False))
    )
    mirrored = Entry.select(
        reversal.id.alias("rid"),
        Entry.account.alias("account_id"),
        Entry.currency.alias("currency"),
        (Value(0) - Entry.amount).alias("amount"),
        Value(-1).alias("side"),
    ).join(reversal, on=(Entry.txn == reversal.reverses))
    both = own.union_all(mirrored).alias("both")
    excess = fn.SUM(both.c.side)
    query = (
        both.select_from(both.c.rid, both.c.account_id, both.c.currency, both.c.amount, excess)
        .group_by(both.c.rid, both.c.account_id, both.c.currency, both.c.amount)
        .having(excess != 0)
        .order_by(both.c.rid, both.c.account_id)
    )
    rows, count = _offenders(query, sample)

    def describe(r: tuple[Any, ...]) -> str:
        side = "extra in the reversal" if r[4] > 0 else "missing from the reversal"
        return f"reversal txn {r[0]}: {abs(r[4])} x {r[3]:+d} {r[2]} on account {r[1]} {side}"

    return _check(
        "reversals_mirror",
        rows,
        count,
        "every reversal mirrors the transaction it reverses",
        "reversal entries do not mirror their originals",
        describe,
    )


# --- (i) the payments registry agrees with the books ------------------------------------------


def _registry_payments_in_books(report: Report, sample: int) -> Check:
    """Each registry payment's transactions leave exactly its amount (0 once voided) on its
    method's clearing account, in its currency, and nothing in any other currency; no such
    transaction names a payment the registry does not have."""
    mine = LedgerTxn.kind.in_(list(REGISTRY_KINDS)) & (Account.kind == PAYMENT_CLEARING)
    books = (
        Entry.select(
            LedgerTxn.reference.alias("payment_id"),
            Entry.currency.alias("currency"),
            fn.SUM(Entry.amount).alias("total"),
        )
        .join(LedgerTxn, on=(Entry.txn == LedgerTxn.id))
        .join(Account, on=(Entry.account == Account.id))
        .where(mine)
        .group_by(LedgerTxn.reference, Entry.currency)
        .alias("books")
    )
    booked = fn.COALESCE(books.c.total, 0)
    expected = Case(None, [(RegistryPayment.voided == Value(True), 0)], RegistryPayment.amount)
    wrong = (
        RegistryPayment.select(RegistryPayment.id, PaymentCurrency.acronym, expected, booked)
        .join(PaymentCurrency, on=(RegistryPayment.currency == PaymentCurrency.id))
        .join(
            books,
            JOIN.LEFT_OUTER,
            on=(
                (books.c.payment_id == RegistryPayment.id)
                & (books.c.currency == PaymentCurrency.acronym)
            ),
        )
        .where(booked != expected)
        .order_by(RegistryPayment.id)
    )
    rows, count = _offenders(wrong, sample)
    described = [f"payment {r[0]} is {r[2]} {r[1]}, its transactions book {r[3]}" for r in rows]
    own_currency = (
        RegistryPayment.select(RegistryPayment.id)
        .join(PaymentCurrency, on=(RegistryPayment.currency == PaymentCurrency.id))
        .where(
            (RegistryPayment.id == books.c.payment_id)
            & (PaymentCurrency.acronym == books.c.currency)
        )
    )
    stray = (
        books.select_from(books.c.payment_id, books.c.currency, books.c.total)
        .where((books.c.total != 0) & ~fn.EXISTS(own_currency))
        .order_by(books.c.payment_id, books.c.currency)
    )
    stray_rows, stray_count = _offenders(stray, sample)
    described += [
        f"transactions of payment {r[0]} book {r[2]:+d} {r[1]}, which is not its own "
        "currency (or no such payment)"
        for r in stray_rows
    ]
    return _check(
        "registry_payments_in_books",
        [(text,) for text in described[:sample]],
        count + stray_count,
        "every registry payment's amount equals its transactions (0 once deleted)",
        "registry payments differ from the ledger",
        lambda r: str(r[0]),
    )


_CHECKS: tuple[Callable[[Report, int], Check], ...] = (
    _transactions_balance,
    _transactions_have_two_entries,
    _entry_currencies,
    _cached_balances,
    _held_amounts,
    _holds_match_reserved_tickets,
    _payments_within_payouts,
    _paid_tickets_fully_paid,
    _floors,
    _reversals_mirror,
    _registry_payments_in_books,
    _daily_activity,
)
