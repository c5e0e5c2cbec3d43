"""Lottery draws (SPEC 9): creation (ADMIN), the active draw of a payee, and results.

A payee's active draw is its open draw that closes first; sales close at `closes_at`.
Recording results closes the draw and evaluates every ticket sold for it in one pass, in
batches (never a query per ticket): each board wins `prizes.base[matches]`, plus
`prizes.rematch[matches]` when the ticket played rematch, plus
`prizes.second_rematch[matches]` when it played that. Every OPEN ticket of the draw
becomes EVALUATED (`won` with its payout, or `lost`), and the draw's total prize is booked
as one `prize.liability` transaction (house payouts → the payee's prize liability).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.core import accounts, ledger, policy, tickets
from gateway.core.commands import Context, Done, Outcome, run
from gateway.core.errors import Conflict, Invalid, NotFound
from gateway.core.lottery import (
    CHANNEL,
    CURRENCY,
    MAX_BOARDS,
    NUMBERS,
    PICKS,
    CompanyNotFound,
    NoActiveDraw,
)
from gateway.core.principal import Principal
from gateway.core.results import result
from gateway.core.tickets import settlements
from gateway.progress import ProgressCallback
from gateway.store import fastsql
from gateway.store.database import database, is_postgres, locked
from gateway.store.models import Banca, LotteryDraw, LotteryTicket, Settlement, Ticket

OPEN, RESULTED = "open", "resulted"
PRIZE_TABLES = ("base", "rematch", "second_rematch")
MAX_AMOUNT = 10**13  # cents: far inside 64 bits even summed over millions of tickets
BATCH = 5000  # tickets fetched at a time while evaluating
UPDATE_BATCH = 500  # winners updated per statement


@dataclass(frozen=True)
class NewDraw:
    payee_id: str
    draw_number: str
    draw_date: dt.date
    closes_at: dt.datetime  # naive UTC
    base_price: int
    rematch: int
    second_rematch: int
    minimum_number_of_boards: int
    maximum_number_of_boards: int
    prizes: Mapping[str, Mapping[str, int]]
    timezone: str


@result
@dataclass(frozen=True)
class DrawView:
    draw_number: str
    payee_id: str
    draw_date: str  # YYYY-MM-DD
    closes_at: dt.datetime
    timezone: str
    currency: str
    base_price: int
    rematch: int
    second_rematch: int
    minimum_number_of_boards: int
    maximum_number_of_boards: int
    prizes: dict[str, dict[str, int]]
    status: str
    numbers: list[int] | None
    winners: int
    payout_total: int
    evaluated: int


def view(d: LotteryDraw, evaluated: int = 0) -> DrawView:
    return DrawView(
        draw_number=d.draw_number,
        payee_id=d.payee_id,
        draw_date=str(d.draw_date),
        closes_at=d.closes_at,
        timezone=d.timezone,
        currency=d.currency,
        base_price=d.base_price,
        rematch=d.rematch_price,
        second_rematch=d.second_rematch_price,
        minimum_number_of_boards=d.min_boards,
        maximum_number_of_boards=d.max_boards,
        prizes=json.loads(d.prizes),
        status=d.status,
        numbers=[int(n) for n in d.numbers.split(",")] if d.numbers else None,
        winners=d.winners,
        payout_total=d.payout_total,
        evaluated=evaluated,
    )


def _amount(value: int, field: str) -> int:
    if not 0 <= value <= MAX_AMOUNT:
        raise Invalid(f"must be between 0 and {MAX_AMOUNT} cents", field=field)
    return value


def _check_prizes(prizes: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for kind in PRIZE_TABLES:
        entries = prizes.get(kind, {})
        for matches, amount in entries.items():
            if matches not in {str(m) for m in range(PICKS + 1)}:
                raise Invalid('match counts are "0" to "6"', field=f"prizes.{kind}")
            _amount(amount, f"prizes.{kind}.{matches}")
        table[kind] = {m: entries[m] for m in sorted(entries)}
    return table


def create(ctx: Context, principal: Principal, cmd: NewDraw) -> Outcome:
    """A new open draw; its number is unique across pamgate (`Conflict` when taken)."""
    policy.manage_draws(principal)
    for name in ("base_price", "rematch", "second_rematch"):
        _amount(getattr(cmd, name), name)
    if cmd.base_price <= 0:
        raise Invalid("must be more than 0", field="base_price")
    low, high = cmd.minimum_number_of_boards, cmd.maximum_number_of_boards
    if not 1 <= low <= high <= MAX_BOARDS:
        raise Invalid(
            f"board limits must satisfy 1 <= minimum <= maximum <= {MAX_BOARDS}",
            field="maximum_number_of_boards",
        )
    if cmd.closes_at <= ctx.now:
        raise Invalid("must be in the future", field="closes_at")
    prizes = _check_prizes(cmd.prizes)

    def body() -> Done:
        if Banca.get_or_none(Banca.id == cmd.payee_id) is None:
            raise CompanyNotFound("Company not found", field="payee_id")
        draw_id = str(uuid.uuid4())
        row = {
            "id": draw_id,
            "payee_id": cmd.payee_id,
            "draw_number": cmd.draw_number,
            "draw_date": cmd.draw_date,
            "closes_at": cmd.closes_at,
            "timezone": cmd.timezone,
            "currency": CURRENCY,
            "base_price": cmd.base_price,
            "rematch_price": cmd.rematch,
            "second_rematch_price": cmd.second_rematch,
            "min_boards": low,
            "max_boards": high,
            "prizes": json.dumps(prizes, sort_keys=True, separators=(",", ":")),
            "status": OPEN,
            "numbers": None,
            "winners": 0,
            "payout_total": 0,
            "liability_txn_id": None,
            "created_at": ctx.now,
            "resulted_at": None,
        }
        if not fastsql.insert_ignore(LotteryDraw._meta.table_name, row):
            raise Conflict(f"draw number {cmd.draw_number} already exists", field="draw_number")
        return Done(view(LotteryDraw.get_by_id(draw_id)), created=True, target_id=draw_id)

    return run(ctx, "LOTTERY_DRAW_CREATE", body, target_type="draw")


def active(payee_id: str, now: dt.datetime) -> LotteryDraw | None:
    """The payee's open draw that closes first, or None."""
    return (
        LotteryDraw.select()
        .where(
            (LotteryDraw.payee == payee_id)
            & (LotteryDraw.status == OPEN)
            & (LotteryDraw.closes_at > now)
        )
        .order_by(LotteryDraw.closes_at, LotteryDraw.draw_number)
        .first()
    )


def active_view(payee_id: str, now: dt.datetime) -> DrawView:
    """`GET …/lottery_tickets/new`: the payee's active draw."""
    if Banca.get_or_none(Banca.id == payee_id) is None:
        raise CompanyNotFound("Company not found", field="payee_id")
    draw = active(payee_id, now)
    if draw is None:
        raise NoActiveDraw("No active draw for this company", field="payee_id")
    return view(draw)


def _prize_rows(prizes: Mapping[str, Mapping[str, int]]) -> tuple[list[int], ...]:
    return tuple(
        [int(prizes.get(kind, {}).get(str(m), 0)) for m in range(PICKS + 1)]
        for kind in PRIZE_TABLES
    )


def payout_of(
    boards: str, rematch: bool, second_rematch: bool, drawn: set[str], prizes: tuple[list[int], ...]
) -> int:
    """What a ticket wins: the sum over its boards of the prize for its matches."""
    base, first, second = prizes
    total = 0
    for board in boards.split("|"):
        matches = sum(1 for n in board.split(",") if n in drawn)
        total += base[matches]
        if rematch:
            total += first[matches]
            if second_rematch:
                total += second[matches]
    return total


def record_results(
    ctx: Context,
    principal: Principal,
    draw_number: str,
    numbers: Sequence[int],
    *,
    progress: ProgressCallback | None = None,
) -> Outcome:
    """Close the draw, evaluate its tickets and book the prizes; `Conflict` the second
    time. `progress`: (tickets evaluated so far, the draw's open tickets)."""
    policy.manage_draws(principal)
    if (
        len(numbers) != PICKS
        or len(set(numbers)) != PICKS
        or any(n not in NUMBERS for n in numbers)
    ):
        raise Invalid("numbers must be 6 distinct integers from 1 to 56", field="numbers")
    ordered = sorted(numbers)

    def body() -> Done:
        draw = locked(LotteryDraw.select().where(LotteryDraw.draw_number == draw_number)).first()
        if draw is None:
            raise NotFound(f"draw {draw_number} not found")
        if draw.status != OPEN:
            raise Conflict(f"results of draw {draw_number} are already recorded")
        evaluated, winners, total = _evaluate(ctx, draw, ordered, progress)
        txn = None
        if total:
            txn = ledger.post(
                "prize.liability",
                [
                    ledger.Leg(accounts.payouts(draw.payee_id, draw.currency, ctx.now), total),
                    ledger.Leg(
                        accounts.prize_liability(draw.payee_id, draw.currency, ctx.now), -total
                    ),
                ],
                now=ctx.now,
                reference=f"draw:{draw.draw_number}",
                actor=ctx.actor.id,
                request_id=ctx.request_id,
                memo=f"prizes of draw {draw.draw_number}",
            )
        LotteryDraw.update(
            status=RESULTED,
            numbers=",".join(str(n) for n in ordered),
            winners=winners,
            payout_total=total,
            liability_txn=txn.id if txn else None,
            resulted_at=ctx.now,
        ).where(LotteryDraw.id == draw.id).execute()
        return Done(
            view(LotteryDraw.get_by_id(draw.id), evaluated),
            target_id=draw.id,
            details={"evaluated": evaluated, "winners": winners, "payout": total},
        )

    return run(ctx, "LOTTERY_DRAW_RESULTS", body, target_type="draw", target_id=draw_number)


_T = Ticket._meta.table_name
_LT = LotteryTicket._meta.table_name
_S = Settlement._meta.table_name


def _evaluate(
    ctx: Context,
    draw: LotteryDraw,
    numbers: list[int],
    progress: ProgressCallback | None = None,
) -> tuple[int, int, int]:
    """Every OPEN ticket of the draw → EVALUATED; returns (evaluated, winners, total)."""
    tickets.check(tickets.OPEN, tickets.EVALUATED)  # the state machine allows the move
    prizes = _prize_rows(json.loads(draw.prizes))
    drawn = {str(n) for n in numbers}
    winners: list[tuple[str, int]] = []
    evaluated = 0
    expected = None
    if progress is not None:
        expected = fastsql.execute(
            f"SELECT COUNT(*) FROM {_LT} lt JOIN {_T} t ON t.id = lt.ticket_id "  # noqa: S608
            f"WHERE lt.draw_id = %s AND t.status = %s",
            (draw.id, tickets.OPEN),
        ).fetchone()[0]
    # One query, read in batches: a keyset page per batch would make PostgreSQL find and
    # sort the draw's rows again for every page.
    cursor = fastsql.execute(
        f"SELECT lt.ticket_id, lt.boards, lt.rematch, lt.second_rematch "  # noqa: S608
        f"FROM {_LT} lt JOIN {_T} t ON t.id = lt.ticket_id "
        f"WHERE lt.draw_id = %s AND t.status = %s",
        (draw.id, tickets.OPEN),
    )
    while True:
        rows = cursor.fetchmany(BATCH)
        if not rows:
            break
        for ticket_id, boards, rematch, second in rows:
            won = payout_of(boards, bool(rematch), bool(second), drawn, prizes)
            if won:
                winners.append((ticket_id, won))
        evaluated += len(rows)
        if progress is not None:
            progress(evaluated, max(int(expected or 0), evaluated))
    if not evaluated:
        return 0, 0, 0
    in_draw = f"SELECT ticket_id FROM {_LT} WHERE draw_id = %s"  # noqa: S608
    fastsql.execute(
        f"UPDATE {_T} SET status = %s, result = %s, updated_at = %s "  # noqa: S608
        f"WHERE status = %s AND channel = %s AND id IN ({in_draw})",
        (tickets.EVALUATED, tickets.LOST, ctx.now, tickets.OPEN, CHANNEL, draw.id),
    )
    for start in range(0, len(winners), UPDATE_BATCH):
        chunk = winners[start : start + UPDATE_BATCH]
        cases = " ".join("WHEN %s THEN %s" for _ in chunk)
        fastsql.execute(
            f"UPDATE {_T} SET result = %s, payout = CASE id {cases} ELSE payout END "  # noqa: S608
            f"WHERE id IN ({fastsql.placeholders(len(chunk))})",
            [tickets.WON, *[v for pair in chunk for v in pair], *[t for t, _ in chunk]],
        )
    # What settled each winner (no money per ticket: the draw's one liability transaction
    # holds it). A loss moves nothing and is not recorded: a row per losing ticket would
    # cost a fifth of the evaluation of a large draw.
    for start in range(0, len(winners), UPDATE_BATCH):
        chunk = winners[start : start + UPDATE_BATCH]
        fastsql.execute(
            f"INSERT INTO {_S} (ticket_id, generation, action, txn_id, "  # noqa: S608
            f"reversed_by_id, prev_status, prev_result, created_at) "
            f"SELECT id, generation, %s, NULL, NULL, %s, %s, %s FROM {_T} "
            f"WHERE id IN ({fastsql.placeholders(len(chunk))})",
            [settlements.WON, tickets.OPEN, tickets.PENDING, ctx.now, *[t for t, _ in chunk]],
        )
    return evaluated, len(winners), sum(won for _, won in winners)


def lock_for_sale(draw: LotteryDraw) -> LotteryDraw | None:
    """Re-read the draw under a share lock (PostgreSQL), so that results, which lock it for
    update, wait for sales in flight and sales wait for results; None if it closed."""
    if is_postgres(database):
        fastsql.execute(
            f"SELECT id FROM {LotteryDraw._meta.table_name} "  # noqa: S608
            "WHERE id = %s FOR SHARE",
            (draw.id,),
        )
        draw = LotteryDraw.get_by_id(draw.id)
    return draw if draw.status == OPEN else None
