"""Selling a lottery ticket (SPEC 9, seed 003).

Checks, after the caller's token (the adapter): the payee must be a banca (`CompanyNotFound`)
that owns the selling window (`Forbidden`); `payer_reference` is claimed per payee (the
same request again gets the first ticket, a different one `IdempotencyConflict`; the
idempotency store's unique key decides between concurrent duplicates); then the draw must
be the payee's active draw, the board count within its limits, second rematch only with
rematch, and `total_amount` exactly `(base + rematch? + second_rematch?) * boards` cents.

The ticket gets one board per combination (6 distinct numbers from 1 to 56, ascending,
from `secrets`), random unique reference, serial and transaction numbers, a receipt whose
security number is the Ed25519 signature given by `sign` (SPEC 1c), and the sale is posted
to the ledger: the selling window's cash takes the price, the payee's stakes account earns
it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gateway.core import accounts, ledger, policy, statements, tickets
from gateway.core.commands import Context, Done, IdemKey, Outcome, run
from gateway.core.errors import IdempotencyConflict, Invalid
from gateway.core.idempotency import fingerprint
from gateway.core.lottery import CHANNEL, CURRENCY, NUMBERS, PICKS, CompanyNotFound, draws
from gateway.core.principal import Principal
from gateway.core.results import result
from gateway.store import fastsql
from gateway.store.models import Banca, LotteryTicket, Ticket, Ventana

Signer = Callable[[Mapping[str, object]], str]
ATTEMPTS = 5  # fresh random numbers after a (vanishingly rare) collision


@dataclass(frozen=True)
class Purchase:
    payee_id: str
    payer_reference: str
    draw_number: str
    combination_count: int
    rematch: bool
    second_rematch: bool
    total_amount: int  # cents
    branch_name: str
    branch_street: str
    branch_city: str
    branch_neighborhood: str


@result
@dataclass(frozen=True)
class LotterySale:
    """A sold ticket with its receipt; the adapter renders it (and its image)."""

    ticket_id: str
    client_id: int
    payee_id: str
    payer_reference: str
    draw_number: str
    draw_date: str  # YYYY-MM-DD
    combination_numbers: str
    combination_count: int
    rematch: bool
    second_rematch: bool
    total: int  # cents
    currency: str
    transaction_date: str  # DD/MM/YYYY HH:MM:SS in the draw's timezone
    store_id: str
    pos_id: str
    foreign_pos_id: str
    transaction_number: str
    reference_number: str
    session_id: str
    serial_number: str
    creation_date: int  # Unix ms
    security_number: str
    payment_id: str
    branch_name: str
    branch_street: str
    branch_city: str
    branch_neighborhood: str

    def receipt(self) -> dict[str, Any]:
        """The signed receipt fields (SPEC 1c) plus the security number."""
        return {
            "combination_numbers": self.combination_numbers,
            "transaction_date": self.transaction_date,
            "store_id": self.store_id,
            "pos_id": self.pos_id,
            "foreign_pos_id": self.foreign_pos_id,
            "transaction_number": self.transaction_number,
            "reference_number": self.reference_number,
            "session_id": self.session_id,
            "security_number": self.security_number,
            "serial_number": self.serial_number,
            "creation_date": self.creation_date,
        }


def price(
    draw_prices: tuple[int, int, int], count: int, rematch: bool, second_rematch: bool
) -> int:
    """Seed 003's price rule: (base + rematch? + second rematch (with rematch)?) * boards."""
    base, first, second = draw_prices
    total = base * count
    if rematch:
        total += first * count
        if second_rematch:
            total += second * count
    return total


class Randomness:
    """Where boards and numbers come from: `secrets` (injectable for tests)."""

    def __init__(self, source: secrets.SystemRandom | None = None) -> None:
        self._rng = source or secrets.SystemRandom()

    def board(self) -> str:
        return ",".join(str(n) for n in sorted(self._rng.sample(NUMBERS, PICKS)))

    def digits(self, n: int) -> str:
        """`n` random digits, the first not 0."""
        return str(10 ** (n - 1) + self._rng.randrange(9 * 10 ** (n - 1)))


_RANDOM = Randomness()


def _client_id(ventana_id: str) -> int:
    """A stable integer per selling store (seed 003's `client_id` is an integer)."""
    return int.from_bytes(hashlib.sha256(ventana_id.encode()).digest()[:4], "big") % 10**9


def _creation_ms(now: dt.datetime) -> int:
    return (int(now.replace(tzinfo=dt.UTC).timestamp()) * 1000) + now.microsecond // 1000


def _local(now: dt.datetime, timezone: str) -> str:
    local = now.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(timezone))
    return local.strftime("%d/%m/%Y %H:%M:%S")


_TICKETS = Ticket._meta.table_name
_LOTTERY = LotteryTicket._meta.table_name


def _ticket_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every column of a new ticket row: `values` by field name, defaults elsewhere."""
    row: dict[str, Any] = {}
    for name, field in Ticket._meta.fields.items():
        if name in values:
            value = values[name]
        else:
            default = field.default
            value = default() if callable(default) else default
        row[field.column_name] = value
    return row


def purchase(
    ctx: Context, principal: Principal, cmd: Purchase, sign: Signer, rng: Randomness | None = None
) -> Outcome:
    """Sell one ticket, or answer the first sale of this `payer_reference` again."""
    rng = rng or _RANDOM
    seller_ventana = policy.sell_lottery(principal)

    def authorize() -> None:
        if Banca.get_or_none(Banca.id == cmd.payee_id) is None:
            raise CompanyNotFound("Company not found", field="payee_id")
        window = Ventana.get_or_none(Ventana.id == seller_ventana)
        if window is None:  # resolved from the token moments ago; deleted since?
            raise CompanyNotFound("Company not found", field="payee_id")
        policy.sell_for_payee(window.banca_id, cmd.payee_id)

    idem = IdemKey(
        scope=f"lottery.sale:{cmd.payee_id}",
        key=cmd.payer_reference,
        fingerprint=fingerprint(asdict(cmd)),
    )

    def body() -> Done:
        draw = draws.active(cmd.payee_id, ctx.now)
        if draw is None or draw.draw_number != cmd.draw_number:
            raise Invalid("is not the active draw of this company", field="ticket.draw_number")
        if not draw.min_boards <= cmd.combination_count <= draw.max_boards:
            raise Invalid(
                f"must be between {draw.min_boards} and {draw.max_boards}",
                field="ticket.combination_count",
            )
        if cmd.second_rematch and not cmd.rematch:
            raise Invalid("second_rematch requires rematch", field="ticket.second_rematch")
        total = price(
            (draw.base_price, draw.rematch_price, draw.second_rematch_price),
            cmd.combination_count,
            cmd.rematch,
            cmd.second_rematch,
        )
        if cmd.total_amount != total:
            raise Invalid(f"must be {total} for this ticket", field="ticket.total_amount")
        if draws.lock_for_sale(draw) is None:
            raise Invalid("is not the active draw of this company", field="ticket.draw_number")
        sale = _sell(ctx, principal, cmd, draw, seller_ventana, total, sign, rng)
        return Done(
            sale,
            created=True,
            target_id=sale.ticket_id,
            details={"draw": draw.draw_number, "total": total},
        )

    return run(
        ctx, "LOTTERY_TICKET_CREATE", body, target_type="ticket", idem=idem, before_claim=authorize
    )


def _sell(
    ctx: Context,
    principal: Principal,
    cmd: Purchase,
    draw: Any,
    ventana_id: str,
    total: int,
    sign: Signer,
    rng: Randomness,
) -> LotterySale:
    ticket_id = str(uuid.uuid4())
    boards = "|".join(rng.board() for _ in range(cmd.combination_count))
    vendedor_id = principal.vendedor_id
    inserted = tickets.insert_new(
        _ticket_row(
            {
                "id": ticket_id,
                "channel": CHANNEL,
                "operator": cmd.payee_id,
                "external_id": cmd.payer_reference,
                "code": None,
                "banca": cmd.payee_id,
                "ventana": ventana_id,
                "vendedor": vendedor_id,
                "type": "lottery",
                "currency": CURRENCY,
                "status": tickets.OPEN,
                "result": tickets.PENDING,
                "price": total,
                "stake": total,
                "raw": "{}",
                "created_at": ctx.now,
                "updated_at": ctx.now,
            }
        )
    )
    if inserted is None:  # the idempotency key normally answers first
        raise IdempotencyConflict("payer_reference already used", field="payer_reference")
    base: dict[str, Any] = {
        "ticket_id": ticket_id,
        "client_id": _client_id(ventana_id),
        "payee_id": cmd.payee_id,
        "payer_reference": cmd.payer_reference,
        "draw_number": draw.draw_number,
        "draw_date": str(draw.draw_date),
        "combination_numbers": boards,
        "combination_count": cmd.combination_count,
        "rematch": cmd.rematch,
        "second_rematch": cmd.second_rematch,
        "total": total,
        "currency": CURRENCY,
        "transaction_date": _local(ctx.now, draw.timezone),
        "store_id": ventana_id,
        "pos_id": vendedor_id or ventana_id,
        "foreign_pos_id": principal.user_id,
        "creation_date": _creation_ms(ctx.now),
        "payment_id": str(uuid.uuid4()),
        "branch_name": cmd.branch_name,
        "branch_street": cmd.branch_street,
        "branch_city": cmd.branch_city,
        "branch_neighborhood": cmd.branch_neighborhood,
    }
    for _attempt in range(ATTEMPTS):
        numbers: dict[str, Any] = {
            "transaction_number": rng.digits(15),
            "reference_number": f"{rng.digits(9)}-{rng.digits(8)}",
            "session_id": rng.digits(11),
            "serial_number": f"{rng.digits(4)}-{rng.digits(9)}-{rng.digits(6)}",
        }
        unsigned = LotterySale(**base, **numbers, security_number="")
        sale = LotterySale(**base, **numbers, security_number=sign(unsigned.receipt()))
        if fastsql.insert_ignore(
            _LOTTERY,
            {
                "ticket_id": ticket_id,
                "draw_id": draw.id,
                "payee_id": cmd.payee_id,
                "payer_reference": cmd.payer_reference,
                "boards": boards,
                "combination_count": cmd.combination_count,
                "rematch": cmd.rematch,
                "second_rematch": cmd.second_rematch,
                "total": total,
                "reference_number": sale.reference_number,
                "serial_number": sale.serial_number,
                "transaction_number": sale.transaction_number,
                "session_id": sale.session_id,
                "payment_id": sale.payment_id,
                "security_number": sale.security_number,
                "created_at": ctx.now,
            },
        ):
            break
    else:  # pragma: no cover - 5 collisions of 50+ random bits
        raise IdempotencyConflict("could not allocate unique ticket numbers")
    fastsql.defer(
        f"UPDATE {_TICKETS} SET code = %s WHERE id = %s",  # noqa: S608
        (sale.reference_number, ticket_id),
    )
    ledger.post(
        "lottery.sale",
        [
            ledger.Leg(accounts.window_cash(ventana_id, CURRENCY, ctx.now), total),
            ledger.Leg(accounts.stakes(cmd.payee_id, CURRENCY, ctx.now), -total),
        ],
        now=ctx.now,
        reference=ticket_id,
        actor=ctx.actor.id,
        request_id=ctx.request_id,
        memo=f"lottery {draw.draw_number} {sale.reference_number}",
    )
    statements.record_sale(cmd.payee_id, ventana_id, vendedor_id, ctx.now, CURRENCY, total)
    return sale
