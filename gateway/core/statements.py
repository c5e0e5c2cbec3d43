"""Daily statements of the sales network (SPEC 7): derived, never kept by hand.

Every money path that a statement counts adds its amount to one `DailyActivity` row in the
same transaction as its ledger posting (`record`): a lottery sale to its seller's row, a prize
payment to the paying position's row, an account payment to its dimension's own row, and
each reversal subtracts again. A statement then sums a handful of rows per day instead of
scanning tickets, so it answers in the same time with a million tickets behind it.

A row belongs to one position: (`ventana`, `vendedor`) for a seller, (`ventana`, "") for a
window acting itself, ("", "") for a banca itself. A window's statement sums the rows of the
window and its sellers; a banca's those of all its windows. Payments and collections count
only on the exact dimension they name. The upsert locks one row per position and day: a
seller's own concurrent sales queue behind each other, nobody else's do.

`remainingBalance` carries over: the balance of every earlier day is summed in the query, so a
payment dated in the past changes that day and every later one without rewriting anything.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from peewee import Case, fn

from gateway.core import policy
from gateway.core.errors import Invalid, NotFound
from gateway.core.principal import Principal, Scope
from gateway.core.results import result
from gateway.store import fastsql
from gateway.store.database import database
from gateway.store.models import Banca, DailyActivity, Vendedor, Ventana

BANCA, VENTANA, VENDEDOR = "banca", "ventana", "vendedor"
DIMENSIONS = (BANCA, VENTANA, VENDEDOR)
MAX_DAYS = 366  # the longest range one statement request may cover

_ZONE = {"tz": zoneinfo.ZoneInfo("America/Costa_Rica")}


def configure(timezone: str) -> None:
    """The business timezone (`PAMGATE_TIMEZONE`), set once by the composition root."""
    _ZONE["tz"] = zoneinfo.ZoneInfo(timezone)


def local(now: dt.datetime) -> dt.datetime:
    """A naive UTC time as a naive local time of the business timezone."""
    return now.replace(tzinfo=dt.UTC).astimezone(_ZONE["tz"]).replace(tzinfo=None)


def business_day(now: dt.datetime) -> dt.date:
    return local(now).date()


class DimensionNotFound(NotFound):
    code = "dimension_not_found"


@dataclass(frozen=True)
class Position:
    """Where an amount lands: a seller, a window itself, or a banca itself."""

    banca: str
    ventana: str = ""
    vendedor: str = ""


@dataclass(frozen=True)
class Dimension:
    """A statement's subject, resolved against the records."""

    kind: str
    id: str
    banca: str
    ventana: str
    vendedor: str
    currency: str
    commission_bps: int

    @property
    def scope(self) -> Scope:
        return Scope(
            banca_id=self.banca, ventana_id=self.ventana or None, vendedor_id=self.vendedor or None
        )

    @property
    def position(self) -> Position:
        return Position(self.banca, self.ventana, self.vendedor)


def dimension(kind: str, ident: str) -> Dimension:
    """The banca, ventana or vendedor named, with its banca's currency; 404 when unknown."""
    if kind == BANCA:
        b = Banca.get_or_none(Banca.id == ident)
        if b is not None:
            return Dimension(BANCA, b.id, b.id, "", "", b.currency, 0)
    elif kind == VENTANA:
        v = Ventana.select(Ventana, Banca).join(Banca).where(Ventana.id == ident).first()
        if v is not None:
            return Dimension(
                VENTANA, v.id, v.banca_id, v.id, "", v.banca.currency, v.commission_bps
            )
    elif kind == VENDEDOR:
        s = (
            Vendedor.select(Vendedor, Ventana, Banca)
            .join(Ventana)
            .join(Banca)
            .where(Vendedor.id == ident)
            .first()
        )
        if s is not None:
            return Dimension(
                VENDEDOR,
                s.id,
                s.ventana.banca_id,
                s.ventana_id,
                s.id,
                s.ventana.banca.currency,
                s.commission_bps,
            )
    raise DimensionNotFound(f"{kind} not found", field=f"{kind}Id")


# --- writing: one upsert, in the caller's transaction ----------------------------------------


def record(
    position: Position,
    day: dt.date,
    currency: str,
    *,
    sales: int = 0,
    payouts: int = 0,
    paid: int = 0,
    collected: int = 0,
    settlements: int = 0,
    finals: int = 0,
) -> None:
    """Add to a position's row of `day` (negative amounts take back a reversed movement)."""
    fastsql.defer(
        _RECORD_SQL,
        (
            position.banca,
            position.ventana,
            position.vendedor,
            day,
            currency,
            sales,
            payouts,
            paid,
            collected,
            settlements,
            finals,
        ),
    )


def _record_sql() -> str:
    """The upsert `record` runs: written once (peewee would rebuild it on every sale)."""
    a = DailyActivity._meta
    keys = [a.fields[f].column_name for f in ("banca", "ventana", "vendedor", "day", "currency")]
    sums = [a.fields[f].column_name for f in _AMOUNTS]
    columns = keys + sums
    added = ", ".join(f"{c} = {a.table_name}.{c} + EXCLUDED.{c}" for c in sums)
    return (
        f"INSERT INTO {a.table_name} ({', '.join(columns)}) "  # noqa: S608 - identifiers only
        f"VALUES ({fastsql.placeholders(len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"
    )


_AMOUNTS = ("sales", "payouts", "paid", "collected", "settlements", "finals")
_RECORD_SQL = _record_sql()


def record_sale(
    banca: str, ventana: str, vendedor: str | None, now: dt.datetime, currency: str, amount: int
) -> None:
    """A retail or lottery ticket sold by a seller (or the window itself); negative for a
    void or refund, counted on the day it happens."""
    record(Position(banca, ventana, vendedor or ""), business_day(now), currency, sales=amount)


def record_payout(
    banca: str, ventana: str, vendedor: str | None, when: dt.datetime, currency: str, amount: int
) -> None:
    """A prize paid at a window on the business day of `when`; negative when reversed (on
    the day it was paid, so that day's statement no longer counts it)."""
    record(Position(banca, ventana, vendedor or ""), business_day(when), currency, payouts=amount)


# --- reading ---------------------------------------------------------------------------------


@result
@dataclass(frozen=True)
class StatementDay:
    id: str
    kind: str
    dimension_id: str
    day: dt.date
    currency: str
    total_sales: int
    total_payouts: int
    total_commission: int
    total_paid: int
    total_collected: int
    balance: int
    remaining_balance: int
    is_saldado: bool


def commission(sales: int, bps: int) -> int:
    """`sales` times the rate, rounded half-even to a minor unit."""
    exact = Decimal(sales) * Decimal(bps) / Decimal(10000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass
class _Day:
    sales: int = 0
    payouts: int = 0
    commission: int = 0
    paid: int = 0
    collected: int = 0
    settlements: int = 0
    finals: int = 0

    @property
    def balance(self) -> int:
        return self.sales - self.payouts - self.commission - self.paid + self.collected


def _subtree(d: Dimension) -> Any:
    A = DailyActivity
    if d.kind == VENDEDOR:
        return (A.ventana == d.ventana) & (A.vendedor == d.vendedor)
    if d.kind == VENTANA:
        return A.ventana == d.ventana
    return A.banca == d.banca


def _own(d: Dimension) -> Any:
    """Which of the subtree's rows are the dimension's own (its account payments)."""
    A = DailyActivity
    if d.kind == VENDEDOR:
        return A.vendedor == d.vendedor
    if d.kind == VENTANA:
        return A.vendedor == ""
    return A.ventana == ""


def history_query(d: Dimension, until: dt.date) -> Any:
    """The one query a statement runs: per day up to `until` (and per window, for a banca),
    the subtree's sales and payouts and the dimension's own account payments."""
    A = DailyActivity
    group = A.vendedor if d.kind == VENDEDOR else A.ventana
    own = _own(d)

    def mine(column: Any) -> Any:
        return fn.SUM(Case(None, [(own, column)], 0))

    return (
        A.select(
            A.day,
            group,
            fn.SUM(A.sales),
            fn.SUM(A.payouts),
            mine(A.paid),
            mine(A.collected),
            mine(A.settlements),
            mine(A.finals),
        )
        .where((A.day <= until) & (A.currency == d.currency) & _subtree(d))
        .group_by(A.day, group)
    )


def _days(d: Dimension, until: dt.date) -> dict[dt.date, _Day]:
    """Every day with activity up to `until`, in one query (`history_query`), with the
    commission of each window (or the seller) rounded per day."""
    query = history_query(d, until)
    rates = _rates(d)
    days: dict[dt.date, _Day] = defaultdict(_Day)
    for day, who, sales, payouts, paid, collected, settlements, finals in database.execute(
        query
    ).fetchall():
        entry = days[as_date(day)]
        entry.sales += int(sales)
        entry.payouts += int(payouts)
        if who:  # a banca's own row sells nothing
            entry.commission += commission(int(sales), rates.get(who, 0))
        entry.paid += int(paid)
        entry.collected += int(collected)
        entry.settlements += int(settlements)
        entry.finals += int(finals)
    return days


def _rates(d: Dimension) -> dict[str, int]:
    """Commission rates by the id the rows are grouped by: the seller's own, the window's
    (for all its sellers' sales too), or each window of a banca."""
    if d.kind == VENDEDOR:
        return {d.vendedor: d.commission_bps}
    if d.kind == VENTANA:
        return {d.ventana: d.commission_bps}
    return {
        v.id: v.commission_bps
        for v in Ventana.select(Ventana.id, Ventana.commission_bps).where(Ventana.banca == d.banca)
    }


def as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def statement_id(d: Dimension, day: dt.date) -> str:
    """Stable per dimension and day, so clients can key on it."""
    return f"stmt-{d.kind}-{d.id}-{day:%Y%m%d}"


def _view(d: Dimension, day: dt.date, entry: _Day, remaining: int) -> StatementDay:
    saldado = entry.finals > 0 or (entry.settlements > 0 and remaining == 0)
    return StatementDay(
        id=statement_id(d, day),
        kind=d.kind,
        dimension_id=d.id,
        day=day,
        currency=d.currency,
        total_sales=entry.sales,
        total_payouts=entry.payouts,
        total_commission=entry.commission,
        total_paid=entry.paid,
        total_collected=entry.collected,
        balance=entry.balance,
        remaining_balance=remaining,
        is_saldado=saldado,
    )


def compute(d: Dimension, first: dt.date, last: dt.date) -> list[StatementDay]:
    """Every day from `first` to `last`, oldest first. `remainingBalance` carries over: the
    balance of every earlier day (commission rounded per day, as each day showed it) starts
    the range."""
    days = _days(d, last)
    remaining = sum(entry.balance for day, entry in days.items() if day < first)
    out: list[StatementDay] = []
    day = first
    while day <= last:
        entry = days.get(day) or _Day()
        remaining += entry.balance
        out.append(_view(d, day, entry, remaining))
        day += dt.timedelta(days=1)
    return out


def read_dimension(principal: Principal, d: Dimension) -> None:
    """Statements and account payments: ADMIN; a VENTANA its window and its sellers."""
    policy.settle_account(principal, d.kind, d.scope)


def statements(
    principal: Principal, kind: str, ident: str, first: dt.date, last: dt.date
) -> list[StatementDay]:
    """`GET …/statements`: the caller's view of one dimension's days (RBAC of SPEC 7)."""
    policy.settle_account_kind(principal, kind)
    if last < first:
        raise Invalid("from must not be after to", field="from")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(f"a statement covers at most {MAX_DAYS} days", field="to")
    d = dimension(kind, ident)
    read_dimension(principal, d)
    return compute(d, first, last)
