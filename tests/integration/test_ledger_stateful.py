"""A hypothesis state machine drives the ledger through random sequences of deposits,
withdrawals, transfers, holds (placed, posted fully or partly, released, expired) and
reversals of earlier transactions, and after every step checks the database two ways:
`reconcile()` must find no breach, and every balance must equal a plain Python model.

Each example works on accounts and tickets of its own (a fresh tag), so examples share the
test's database without seeing each other; holds an example leaves open are released in
its teardown so that `due_holds` of the next example only finds its own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gateway.core import ledger, ledger_kinds, tickets
from gateway.core.errors import AlreadyReversed, InsufficientFunds
from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, Leg
from gateway.core.ledger_kinds import TxnKind
from gateway.core.reconcile import reconcile
from gateway.store.database import database, unit_of_work
from gateway.store.models import Account, Hold, LedgerTxn, Ticket

START = dt.datetime(2026, 11, 21, 12, 0, 0)
WALLETS = 3
amounts = st.integers(min_value=1, max_value=5_000)


@dataclass
class ModelAccount:
    id: int
    code: str
    normal_side: str
    floor: int | None
    balance: int = 0
    held: int = 0

    def change(self, entry_amount: int) -> int:
        """The change of `balance` for a signed entry amount (debits are positive)."""
        return entry_amount if self.normal_side == DEBIT else -entry_amount


@dataclass
class ModelHold:
    id: str
    account_id: int
    amount: int
    expires_at: dt.datetime
    ticket_id: str


class LedgerMachine(RuleBasedStateMachine):
    """The model: balances and held amounts per account, the open holds, and every posted
    transaction with its signed entries (so a reversal can be predicted)."""

    @initialize(
        funds=st.lists(
            st.integers(min_value=0, max_value=20_000), min_size=WALLETS, max_size=WALLETS
        )
    )
    def open_accounts(self, funds: list[int]) -> None:
        self.tag = uuid.uuid4().hex[:12]
        self.now = START
        self.accounts: dict[int, ModelAccount] = {}
        self.holds: dict[str, ModelHold] = {}
        self.txns: list[tuple[int, dict[int, int]]] = []  # txn id, account id -> entry sum
        self.reversed: set[int] = set()
        specs = [
            AccountSpec(f"sm:{self.tag}:wallet:{i}", "player_wallet", "MXN", CREDIT, 0)
            for i in range(WALLETS)
        ]
        specs += [
            AccountSpec(f"sm:{self.tag}:cash", "house_cash", "MXN", DEBIT),
            AccountSpec(f"sm:{self.tag}:stakes", "house_stakes", "MXN", CREDIT),
        ]
        with unit_of_work(database):
            made = [ledger.ensure_account(spec, self.now) for spec in specs]
        for account in made:
            self.accounts[account.id] = ModelAccount(
                account.id, account.code, account.normal_side, account.floor
            )
        self.wallets = [a.id for a in made[:WALLETS]]
        self.cash, self.stakes = made[WALLETS].id, made[WALLETS + 1].id
        for wallet, amount in zip(self.wallets, funds, strict=True):
            if amount:
                self.post("wallet.deposit", {wallet: -amount, self.cash: amount})

    def teardown(self) -> None:
        if not getattr(self, "holds", None):
            return
        with unit_of_work(database):
            for hold in self.holds.values():
                ledger.release_hold(Hold.get_by_id(hold.id), now=self.now)
                Ticket.update(status=tickets.CANCELLED).where(Ticket.id == hold.ticket_id).execute()

    # --- helpers -------------------------------------------------------------------------

    def tick(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now

    def refused(self, entries: dict[int, int], exempt: frozenset[int] = frozenset()) -> bool:
        """Would `ledger.post` refuse these entries for a floor (its rule, restated)?"""
        for account_id, amount in entries.items():
            acc = self.accounts[account_id]
            delta = acc.change(amount)
            if (
                delta < 0
                and acc.floor is not None
                and account_id not in exempt
                and acc.balance + delta - acc.held < acc.floor
            ):
                return True
        return False

    def apply(self, txn_id: int, entries: dict[int, int]) -> None:
        for account_id, amount in entries.items():
            self.accounts[account_id].balance += self.accounts[account_id].change(amount)
        self.txns.append((txn_id, entries))

    def post(self, kind: str, entries: dict[int, int]) -> None:
        """Post entries (account id -> signed amount); the model predicts a refusal."""
        expect_refusal = self.refused(entries)
        legs = [Leg(Account.get_by_id(a), amount) for a, amount in entries.items()]
        try:
            with unit_of_work(database):
                txn = ledger.post(kind, legs, now=self.tick())
        except InsufficientFunds:
            assert expect_refusal, f"{kind} {entries} refused, model expected success"
            return
        assert not expect_refusal, f"{kind} {entries} accepted, model expected refusal"
        self.apply(txn.id, entries)

    # --- rules ---------------------------------------------------------------------------

    @rule(data=st.data(), amount=amounts)
    def deposit(self, data: st.DataObject, amount: int) -> None:
        wallet = data.draw(st.sampled_from(self.wallets), label="wallet")
        self.post("wallet.deposit", {wallet: -amount, self.cash: amount})

    @rule(data=st.data(), amount=amounts)
    def withdraw(self, data: st.DataObject, amount: int) -> None:
        wallet = data.draw(st.sampled_from(self.wallets), label="wallet")
        self.post("wallet.withdrawal", {wallet: amount, self.cash: -amount})

    @rule(data=st.data(), amount=amounts)
    def transfer(self, data: st.DataObject, amount: int) -> None:
        source = data.draw(st.sampled_from(self.wallets), label="from")
        target = data.draw(st.sampled_from([w for w in self.wallets if w != source]), label="to")
        self.post("wallet.transfer", {source: amount, target: -amount})

    @rule(
        data=st.data(),
        amount=st.integers(min_value=1, max_value=3_000),
        ttl=st.integers(min_value=1, max_value=600),
    )
    def place_hold(self, data: st.DataObject, amount: int, ttl: int) -> None:
        """A reserved wallet ticket and its hold, as `betengine.place(reserve=True)` writes."""
        wallet_id = data.draw(st.sampled_from(self.wallets), label="wallet")
        acc = self.accounts[wallet_id]
        expect_refusal = acc.balance - acc.held - amount < acc.floor  # type: ignore[operator]
        now = self.tick()
        ticket_id = str(uuid.uuid4())
        expires_at = now + dt.timedelta(seconds=ttl)
        try:
            with unit_of_work(database):
                hold = ledger.place_hold(
                    Account.get_by_id(wallet_id),
                    amount,
                    now=now,
                    expires_at=expires_at,
                    reference=ticket_id,
                )
                Ticket.create(
                    id=ticket_id,
                    channel="statemachine",
                    operator=self.tag,
                    external_id=ticket_id,
                    currency="MXN",
                    status=tickets.RESERVED,
                    price=amount,
                    stake=amount,
                    hold=hold.id,
                    expires_at=expires_at,
                    created_at=now,
                    updated_at=now,
                )
        except InsufficientFunds:
            assert expect_refusal, "hold refused, model expected success"
            return
        assert not expect_refusal, "hold accepted, model expected refusal"
        acc.held += amount
        self.holds[hold.id] = ModelHold(hold.id, wallet_id, amount, expires_at, ticket_id)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def post_hold_fully(self, data: st.DataObject) -> None:
        self.post_hold(data, partly=False)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def post_hold_partly(self, data: st.DataObject) -> None:
        """The unposted remainder goes back to available."""
        self.post_hold(data, partly=True)

    def post_hold(self, data: st.DataObject, *, partly: bool) -> None:
        hold = data.draw(st.sampled_from(list(self.holds.values())), label="hold")
        amount = (
            data.draw(st.integers(min_value=1, max_value=hold.amount), label="amount")
            if partly
            else hold.amount
        )
        acc = self.accounts[hold.account_id]
        # the hold is closed first (held drops by its whole amount), then the debit posts
        after = acc.balance + acc.change(amount) - (acc.held - hold.amount)
        expect_refusal = after < acc.floor  # type: ignore[operator]
        now = self.tick()
        try:
            with unit_of_work(database):
                txn = ledger.post_hold(
                    Hold.get_by_id(hold.id),
                    amount,
                    [Leg(Account.get_by_id(self.stakes), -amount)],
                    kind="bet.stake",
                    now=now,
                    reference=hold.ticket_id,
                )
                Ticket.update(status=tickets.OPEN, expires_at=None, updated_at=now).where(
                    Ticket.id == hold.ticket_id
                ).execute()
        except InsufficientFunds:
            assert expect_refusal, "posting refused, model expected success"
            return
        assert not expect_refusal, "posting accepted, model expected refusal"
        acc.held -= hold.amount
        del self.holds[hold.id]
        self.apply(txn.id, {hold.account_id: amount, self.stakes: -amount})

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release_hold(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from(list(self.holds.values())), label="hold")
        now = self.tick()
        with unit_of_work(database):
            closed = ledger.release_hold(Hold.get_by_id(hold.id), now=now)
            Ticket.update(status=tickets.CANCELLED, updated_at=now).where(
                Ticket.id == hold.ticket_id
            ).execute()
        assert closed.status == "released"
        self.accounts[hold.account_id].held -= hold.amount
        del self.holds[hold.id]

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def expire_due_holds(self, data: st.DataObject) -> None:
        """Move the clock past one hold's deadline; every due hold (and only those) expires."""
        target = data.draw(st.sampled_from(list(self.holds.values())), label="hold")
        self.now = max(self.now, target.expires_at)
        now = self.tick()
        expected = {h.id for h in self.holds.values() if h.expires_at <= now}
        with unit_of_work(database):
            due = ledger.due_holds(now, limit=10_000)
            assert {h.id for h in due} == expected
            for hold in due:
                assert ledger.release_hold(hold, now=now, expired=True).status == "expired"
                Ticket.update(status=tickets.EXPIRED, updated_at=now).where(
                    Ticket.id == self.holds[hold.id].ticket_id
                ).execute()
        for hold_id in expected:
            gone = self.holds.pop(hold_id)
            self.accounts[gone.account_id].held -= gone.amount

    @precondition(lambda self: self.txns)
    @rule(data=st.data(), overdraft=st.booleans())
    def reverse(self, data: st.DataObject, overdraft: bool) -> None:
        """Reverse any earlier transaction (a reversal too); with `overdraft`, as a rollback
        of a settled win does, wallets may go below their floor."""
        txn_id, entries = data.draw(st.sampled_from(self.txns), label="txn")
        mirror = {account_id: -amount for account_id, amount in entries.items()}
        exempt = frozenset(self.wallets) if overdraft else frozenset()
        expect = (
            "twice"
            if txn_id in self.reversed
            else "floor"
            if self.refused(mirror, exempt)
            else "ok"
        )
        try:
            with unit_of_work(database):
                # an explicit kind: the default one grows with every level of reversal
                # (see test_ledger.py::test_reversal_chains_keep_a_kind_that_fits_the_column)
                reversal = ledger.reverse(
                    LedgerTxn.get_by_id(txn_id),
                    now=self.tick(),
                    kind="sm.reversal",
                    allow_overdraft=exempt,
                )
        except AlreadyReversed:
            assert expect == "twice"
            return
        except InsufficientFunds:
            assert expect == "floor"
            return
        assert expect == "ok", f"reversal of {txn_id} accepted, model expected {expect}"
        assert reversal.reverses_id == txn_id
        self.reversed.add(txn_id)
        self.apply(reversal.id, mirror)

    # --- the invariants ------------------------------------------------------------------

    @invariant()
    def books_reconcile(self) -> None:
        report = reconcile(sample=10_000)
        assert report.ok, report.render()
        in_debt = {
            acc.code
            for acc in self.accounts.values()
            if acc.floor is not None and acc.balance - acc.held < acc.floor
        }
        warned = {
            acc.code
            for acc in self.accounts.values()
            if any(f" {acc.code} " in warning for warning in report.warnings)
        }
        assert warned == in_debt, report.render()

    @invariant()
    def balances_match_the_model(self) -> None:
        rows = {
            a.id: (a.balance, a.held)
            for a in Account.select().where(Account.id.in_(list(self.accounts)))
        }
        assert rows == {a.id: (a.balance, a.held) for a in self.accounts.values()}
        assert all(acc.held >= 0 for acc in self.accounts.values())


# kinds of the ledger's mechanics that no service posts: wallet to wallet, and one reversal
# kind for every level of reversal
MECHANICS = (
    TxnKind("wallet.transfer", frozenset({"player_wallet"}), "wallet to wallet"),
    TxnKind(
        "sm.reversal",
        frozenset({"player_wallet", "house_cash", "house_stakes"}),
        "a reversal of anything the machine posted",
    ),
)


def test_ledger_state_machine(db) -> None:
    with ledger_kinds.registered(*MECHANICS):
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=30,
                stateful_step_count=40,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
