"""The ledger: the only writer of money.

Every movement is a `LedgerTxn` of two or more `Entry` rows (signed minor units: positive
debits, negative credits) that must sum to zero per currency; `post` is the one function
that writes them, and the only place where the cached `Account.balance` changes, in the
same database transaction. Entries are never updated or deleted (the database refuses);
a correction is `reverse`, a new transaction naming the one it mirrors.

Holds are two-phase reservations on an account (TigerBeetle's pending transfers): they
reduce `available` (= balance - held), never `balance`, and are posted (fully or partly),
released or expired. Floors are enforced on `available` under row locks taken in
ascending account id order, so concurrent requests can never push an account below its
floor. Callers must already be inside `unit_of_work`.

Every transaction has a declared kind (`ledger_kinds`) that names the kinds of account it
may touch; `post` refuses anything else. The hand-written SQL takes its table and column
names from the models' metadata.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from peewee import IntegrityError, fn

from gateway.core import ledger_kinds
from gateway.core.errors import AlreadyReversed, CoreError, InsufficientFunds, NotFound, Unbalanced
from gateway.store import fastsql
from gateway.store.database import database, is_postgres, locked
from gateway.store.models import Account, Entry, Hold, LedgerTxn

DEBIT = "debit"
CREDIT = "credit"


@dataclass(frozen=True)
class Leg:
    """One side of a movement: `amount` > 0 debits the account, < 0 credits it."""

    account: Account
    amount: int


@dataclass(frozen=True)
class AccountSpec:
    code: str
    kind: str
    currency: str
    normal_side: str
    floor: int | None = None
    owner_type: str | None = None
    owner_id: str | None = None
    caches_balance: bool = True

    def __post_init__(self) -> None:
        if self.floor is not None and not self.caches_balance:
            raise ValueError("an account with a floor must cache its balance")


@dataclass(frozen=True)
class Balance:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held


def _natural(account: Account, amount: int) -> int:
    """Change of the account's balance in its normal direction for a signed entry amount."""
    return amount if account.normal_side == DEBIT else -amount


def _require_transaction() -> None:
    if not database.in_transaction():
        raise RuntimeError("ledger writes must run inside unit_of_work()")


# Account code → account row, per database, filled only after the creating or reading
# transaction commits (accounts are never deleted and their code, currency, side and floor
# never change; balances are always re-read under lock by `post`).
_KNOWN: WeakKeyDictionary[Any, dict[str, Account]] = WeakKeyDictionary()


# Callbacks told the kind of every committed ledger transaction, per database (metrics).
_OBSERVERS: WeakKeyDictionary[Any, list[Callable[[str], None]]] = WeakKeyDictionary()


def observe_commits(db: Any, callback: Callable[[str], None]) -> None:
    """Call `callback(kind)` after each ledger transaction on `db` commits."""
    _OBSERVERS.setdefault(db, []).append(callback)


def _known() -> dict[str, Account]:
    return _KNOWN.setdefault(database.obj, {})


def ensure_account(spec: AccountSpec, now: dt.datetime) -> Account:
    """The account with `spec.code`, created on first use (safe under concurrent creation).

    Never call it inside a savepoint that may roll back while the outer transaction commits.
    """
    known = _known()
    account = known.get(spec.code)
    if account is not None:
        return account
    account = _account_by_code(spec.code)
    if account is None:
        try:
            with database.atomic():
                account = Account.create(
                    code=spec.code,
                    kind=spec.kind,
                    currency=spec.currency,
                    normal_side=spec.normal_side,
                    floor=spec.floor,
                    owner_type=spec.owner_type,
                    owner_id=spec.owner_id,
                    caches_balance=spec.caches_balance,
                    created_at=now,
                )
        except IntegrityError:
            account = Account.get(Account.code == spec.code)
    found = account
    database.after_commit(lambda: known.__setitem__(spec.code, found))
    return account


@dataclass
class _Row:
    """An account row as `post` needs it; balance and held read under lock when cached."""

    id: int
    code: str
    kind: str
    currency: str
    normal_side: str
    floor: int | None
    caches_balance: bool
    balance: int = 0
    held: int = 0


def _column(model: Any, field: str) -> str:
    return str(model._meta.fields[field].column_name)


_ACCOUNT = Account._meta.table_name
_TXN = LedgerTxn._meta.table_name
_ENTRY = Entry._meta.table_name
_ROW_FIELDS = (
    "id",
    "code",
    "kind",
    "currency",
    "normal_side",
    "floor",
    "caches_balance",
    "balance",
    "held",
)
_COLUMNS = ", ".join(_column(Account, f) for f in _ROW_FIELDS)
_CACHES = _ROW_FIELDS.index("caches_balance")  # the row's fields up to here never change
_ACCOUNT_ID = _column(Account, "id")
_BALANCE = _column(Account, "balance")
_TXN_COLUMNS = tuple(
    _column(LedgerTxn, f)
    for f in ("kind", "reference", "reverses", "actor", "request_id", "memo", "created_at")
)
_TXN_ID = _column(LedgerTxn, "id")
# the transaction row's values as `INSERT … SELECT` takes them: typed where a NULL would leave
# a prepared statement's parameter without a type (`reverses_id`)
_TXN_VALUES = ", ".join(
    "CAST(%s AS BIGINT)" if column == _column(LedgerTxn, "reverses") else "%s"
    for column in _TXN_COLUMNS
)
_ENTRY_COLUMNS = tuple(_column(Entry, f) for f in ("txn", "account", "amount", "currency"))


_ACCOUNT_FIELDS = tuple(Account._meta.sorted_fields)
_ACCOUNT_BY_CODE = (
    f"SELECT {', '.join(f.column_name for f in _ACCOUNT_FIELDS)} FROM {_ACCOUNT} "  # noqa: S608
    f"WHERE {_column(Account, 'code')} = %s"
)


def _account_by_code(code: str) -> Account | None:
    """The account with `code`, read with hand-written SQL: every process looks each wallet
    up once (then `ensure_account` remembers it), and peewee building the query cost more
    than the lookup itself. Values are converted as peewee converts a row it reads."""
    row = fastsql.execute(_ACCOUNT_BY_CODE, (code,)).fetchone()
    if row is None:
        return None
    account = Account(
        __no_default__=True,
        **{f.name: f.python_value(v) for f, v in zip(_ACCOUNT_FIELDS, row, strict=True)},
    )
    account._dirty.clear()
    return account


def _lock(account_ids: Iterable[int]) -> dict[int, _Row]:
    """Lock the rows (ascending ids) of accounts that cache their balance."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    cursor = fastsql.execute(
        f"SELECT {_COLUMNS} FROM {_ACCOUNT} "  # noqa: S608 - placeholders only
        f"WHERE {_ACCOUNT_ID} IN ({fastsql.placeholders(len(ids))}) "
        f"ORDER BY {_ACCOUNT_ID}{fastsql.for_update()}",
        ids,
    )
    found = {row[0]: _Row(*row) for row in cursor.fetchall()}
    if len(found) != len(ids):
        raise NotFound("account not found")
    return found


def _rows(legs: Sequence[Leg]) -> dict[int, _Row]:
    """Every account of the movement: cached ones locked and read, busy house accounts
    described from their (immutable) metadata without touching their row."""
    rows: dict[int, _Row] = {}
    unknown: list[int] = []
    for leg in legs:
        a = leg.account
        if a.currency is None or a.caches_balance is None or a.kind is None:  # Account(id=…)
            unknown.append(a.id)
        elif not a.caches_balance:
            rows[a.id] = _Row(a.id, a.code, a.kind, a.currency, a.normal_side, a.floor, False)
    if unknown:
        cursor = fastsql.execute(
            f"SELECT {_COLUMNS} FROM {_ACCOUNT} "  # noqa: S608 - placeholders only
            f"WHERE {_ACCOUNT_ID} IN ({fastsql.placeholders(len(set(unknown)))})",
            sorted(set(unknown)),
        )
        for row in cursor.fetchall():
            if not row[_CACHES]:
                rows[row[0]] = _Row(*row[: _CACHES + 1])
    cached = {leg.account.id for leg in legs} - set(rows)
    rows.update(_lock(cached))
    if len(rows) != len({leg.account.id for leg in legs}):
        raise NotFound("account not found")
    return rows


def _lean_account(legs: Sequence[Leg]) -> Account | None:
    """The one account of the movement that caches its balance, when every account's
    metadata is at hand (rows read or cached, not `Account(id=…)`) and no other leg's
    account caches one: the usual shape (a player's wallet against house accounts), posted
    without reading the wallet first (`_post_lean`). None: the general path (`_rows`)."""
    found: Account | None = None
    for leg in legs:
        a = leg.account
        if a.currency is None or a.caches_balance is None or a.kind is None or not a.normal_side:
            return None
        if a.caches_balance:
            if found is not None and found.id != a.id:
                return None
            found = a
    return found


def _described(legs: Sequence[Leg]) -> dict[int, _Row]:
    """Every account of the movement from its (immutable) metadata, no statement."""
    return {
        leg.account.id: _Row(
            leg.account.id,
            leg.account.code,
            leg.account.kind,
            leg.account.currency,
            leg.account.normal_side,
            leg.account.floor,
            bool(leg.account.caches_balance),
        )
        for leg in legs
    }


@lru_cache(maxsize=8)
def _lean_sql(postgres: bool, guarded: bool) -> str:
    """The balance change, its floor check and (PostgreSQL) the transaction row in one
    statement; the row is inserted only when the change was allowed."""
    floor = _column(Account, "floor")
    held = _column(Account, "held")
    guard = f" AND ({floor} IS NULL OR {_BALANCE} + %s - {held} >= {floor})" if guarded else ""
    update = (
        f"UPDATE {_ACCOUNT} SET {_BALANCE} = {_BALANCE} + %s "  # noqa: S608 - placeholders only
        f"WHERE {_ACCOUNT_ID} = %s{guard} RETURNING {_ACCOUNT_ID}"
    )
    if not postgres:
        return update
    return (
        f"WITH u AS ({update}) "  # noqa: S608 - identifiers from the models
        f"INSERT INTO {_TXN} ({', '.join(_TXN_COLUMNS)}) "
        f"SELECT {_TXN_VALUES} WHERE EXISTS (SELECT 1 FROM u) "
        f"RETURNING {_TXN_ID}"
    )


def _post_lean(account: Account, delta: int, exempt: bool, txn: tuple[Any, ...]) -> int:
    """Change the one cached balance (row-locked by the UPDATE; a debit below the floor
    changes nothing) and write the transaction row: one round trip on PostgreSQL, where
    the `UPDATE … RETURNING` and the insert are one statement. Returns the new txn id."""
    postgres = is_postgres(database)
    guarded = delta < 0 and not exempt
    params: list[Any] = [delta, account.id, *([delta] if guarded else [])]
    if postgres:
        row = fastsql.execute(_lean_sql(True, guarded), [*params, *txn]).fetchone()
        txn_id = None if row is None else int(row[0])
    else:
        allowed = fastsql.execute(_lean_sql(False, guarded), params).fetchall()
        txn_id = (
            fastsql.insert(_TXN, dict(zip(_TXN_COLUMNS, txn, strict=True)), returning_id=True)
            if allowed
            else None
        )
    if txn_id is None:  # refused: nothing was written; say why
        found = fastsql.execute(
            f"SELECT {_BALANCE}, {_column(Account, 'held')} FROM {_ACCOUNT} "  # noqa: S608
            f"WHERE {_ACCOUNT_ID} = %s",
            (account.id,),
        ).fetchone()
        if found is None:
            raise NotFound("account not found")
        raise InsufficientFunds(
            "insufficient funds",
            account=account.code,
            available=int(found[0]) - int(found[1]),
            needed=-delta,
        )
    return txn_id


def balance_of(account: Account) -> Balance:
    row = Account.get_by_id(account.id)
    if row.caches_balance:
        return Balance(balance=row.balance, held=row.held)
    total = (
        Entry.select(fn.COALESCE(fn.SUM(Entry.amount), 0)).where(Entry.account == row.id).scalar()
    )
    return Balance(balance=int(total) if row.normal_side == DEBIT else -int(total), held=0)


def post(
    kind: str,
    legs: Sequence[Leg],
    *,
    now: dt.datetime,
    reference: str | None = None,
    reverses: LedgerTxn | None = None,
    actor: str | None = None,
    request_id: str | None = None,
    memo: str | None = None,
    allow_overdraft: Iterable[int] = (),
) -> LedgerTxn:
    """Write one balanced transaction and update the cached balances, or raise.

    `kind` must be declared in `ledger_kinds` and name the kind of every account touched.
    `allow_overdraft` names account ids that may go below their floor (only a rollback of a
    settled win does this; `reconcile` reports the result as player debt).
    """
    _require_transaction()
    legs = [leg for leg in legs if leg.amount != 0]
    if len(legs) < 2:
        raise Unbalanced("a transaction needs at least two non-zero entries")
    lean = _lean_account(legs)
    accounts = _described(legs) if lean is not None else _rows(legs)
    ledger_kinds.check(kind, {row.kind for row in accounts.values()})
    per_currency: dict[str, int] = defaultdict(int)
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        account = accounts[leg.account.id]
        per_currency[account.currency] += leg.amount
        deltas[account.id] += _natural(account, leg.amount)
    unbalanced = {cur: total for cur, total in per_currency.items() if total != 0}
    if unbalanced:
        raise Unbalanced("entries do not sum to zero per currency", per_currency=unbalanced)
    exempt = set(allow_overdraft)
    for account_id, delta in deltas.items():
        if lean is not None:  # the floor is checked by the balance's UPDATE itself
            break
        account = accounts[account_id]
        floor = account.floor
        below = floor is not None and account.balance + delta - account.held < floor
        if delta < 0 and below and account_id not in exempt:
            raise InsufficientFunds(
                "insufficient funds",
                account=account.code,
                available=account.balance - account.held,
                needed=-delta,
            )
    txn_values = (kind, reference, reverses.id if reverses else None, actor, request_id, memo, now)
    txn_id: int | None
    if lean is not None:
        txn_id = _post_lean(lean, deltas[lean.id], lean.id in exempt, txn_values)
        changed = []
    else:
        txn_id = fastsql.insert(
            _TXN, dict(zip(_TXN_COLUMNS, txn_values, strict=True)), returning_id=True
        )
        changed = sorted(
            (account_id, delta)
            for account_id, delta in deltas.items()
            if delta and accounts[account_id].caches_balance
        )
    fastsql.insert_many(
        _ENTRY,
        _ENTRY_COLUMNS,
        [(txn_id, leg.account.id, leg.amount, accounts[leg.account.id].currency) for leg in legs],
    )
    if changed:
        cases = " ".join("WHEN %s THEN %s" for _ in changed)
        fastsql.defer(
            f"UPDATE {_ACCOUNT} SET {_BALANCE} = {_BALANCE} + "  # noqa: S608 - placeholders only
            f"CASE {_ACCOUNT_ID} {cases} ELSE 0 END "
            f"WHERE {_ACCOUNT_ID} IN ({fastsql.placeholders(len(changed))})",
            [v for pair in changed for v in pair] + [account_id for account_id, _ in changed],
        )
    txn = LedgerTxn(
        id=txn_id,
        kind=kind,
        reference=reference,
        reverses=reverses,
        actor=actor,
        request_id=request_id,
        memo=memo,
        created_at=now,
    )
    observers = _OBSERVERS.get(database.obj)
    if observers:
        database.after_commit(lambda: [notify(kind) for notify in observers])
    return txn


def reverse(
    original: LedgerTxn,
    *,
    now: dt.datetime,
    kind: str | None = None,
    actor: str | None = None,
    request_id: str | None = None,
    memo: str | None = None,
    allow_overdraft: Iterable[int] = (),
) -> LedgerTxn:
    """Post the mirror of `original` (every entry negated), linked to it; once only."""
    _require_transaction()
    # Lock the original first: of two concurrent reversals the second waits, then sees the
    # first one's reversal (rather than failing on balances the first already changed).
    fastsql.execute(
        f"SELECT {_TXN_ID} FROM {_TXN} WHERE {_TXN_ID} = %s{fastsql.for_update()}",  # noqa: S608
        (original.id,),
    )
    if LedgerTxn.select().where(LedgerTxn.reverses == original.id).exists():
        raise AlreadyReversed("transaction already reversed", txn=original.id)
    legs = [
        Leg(account=Account(id=e.account_id), amount=-e.amount)
        for e in Entry.select().where(Entry.txn == original.id).order_by(Entry.id)
    ]
    try:
        with database.atomic():
            return post(
                kind or ledger_kinds.reversal_name(original.kind),
                legs,
                now=now,
                reference=original.reference,
                reverses=original,
                actor=actor,
                request_id=request_id,
                memo=memo,
                allow_overdraft=allow_overdraft,
            )
    except IntegrityError:
        raise AlreadyReversed("transaction already reversed", txn=original.id) from None


# --- holds ---------------------------------------------------------------------------------


def place_hold(
    account: Account,
    amount: int,
    *,
    now: dt.datetime,
    expires_at: dt.datetime | None = None,
    reference: str | None = None,
) -> Hold:
    """Reserve `amount` of the account's available balance, or raise InsufficientFunds."""
    _require_transaction()
    if amount <= 0:
        raise Unbalanced("a hold must be positive")
    locked_account = _lock([account.id])[account.id]
    if not locked_account.caches_balance:
        raise Unbalanced("holds need an account that caches its balance")
    available = locked_account.balance - locked_account.held
    if locked_account.floor is not None and available - amount < locked_account.floor:
        raise InsufficientFunds(
            "insufficient funds", account=locked_account.code, available=available, needed=amount
        )
    Account.update(held=Account.held + amount).where(Account.id == account.id).execute()
    return Hold.create(
        id=str(uuid.uuid4()),
        account=account.id,
        amount=amount,
        status="open",
        reference=reference,
        expires_at=expires_at,
        created_at=now,
    )


def _close_hold(hold: Hold, status: str, now: dt.datetime) -> Hold:
    fresh = locked(Hold.select().where(Hold.id == hold.id)).get()
    if fresh.status != "open":
        raise CoreError(f"hold is {fresh.status}", hold=hold.id)
    _lock([fresh.account_id])
    Account.update(held=Account.held - fresh.amount).where(Account.id == fresh.account_id).execute()
    Hold.update(status=status, closed_at=now).where(Hold.id == fresh.id).execute()
    fresh.status = status
    fresh.closed_at = now
    return fresh


def release_hold(hold: Hold, *, now: dt.datetime, expired: bool = False) -> Hold:
    """Give the reserved amount back to `available` (status released or expired)."""
    _require_transaction()
    return _close_hold(hold, "expired" if expired else "released", now)


def post_hold(
    hold: Hold,
    amount: int,
    counter_legs: Sequence[Leg],
    *,
    kind: str,
    now: dt.datetime,
    reference: str | None = None,
    actor: str | None = None,
    request_id: str | None = None,
) -> LedgerTxn:
    """Turn (part of) a hold into a real movement: debit the held account `amount` and credit
    `counter_legs` (which must sum to -amount). An unposted remainder is released. `kind`
    must be one that posts holds (`TxnKind.posts_holds`)."""
    _require_transaction()
    if not ledger_kinds.get(kind).posts_holds:
        raise ledger_kinds.UnknownTxnKind(f"{kind} does not post holds", kind=kind)
    if amount <= 0 or amount > hold.amount:
        raise Unbalanced("posted amount must be between 1 and the held amount")
    # Lock order everywhere: the hold row, then every account of the movement that is
    # locked at all (those caching their balance), ascending, as `post` will.
    fresh = locked(Hold.select().where(Hold.id == hold.id)).get()
    _rows([Leg(Account(id=fresh.account_id), 0), *counter_legs])
    closed = _close_hold(fresh, "posted", now)
    account = Account.get_by_id(closed.account_id)
    debit = amount if account.normal_side == CREDIT else -amount
    txn = post(
        kind,
        [Leg(account, debit), *counter_legs],
        now=now,
        reference=reference,
        actor=actor,
        request_id=request_id,
    )
    Hold.update(posted_amount=amount, posted_txn=txn.id).where(Hold.id == closed.id).execute()
    return txn


def due_holds(now: dt.datetime, limit: int = 100) -> list[Hold]:
    """Open holds past their deadline (claimed with SKIP LOCKED on PostgreSQL)."""
    query = (
        Hold.select()
        .where((Hold.status == "open") & (Hold.expires_at <= now))
        .order_by(Hold.expires_at)
        .limit(limit)
    )
    return list(locked(query, skip_locked=True))
