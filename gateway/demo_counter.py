"""The demo's sales counter: back-office logins and a winner to pay at once.

`seed_counter` adds to the demo banca a second window and a seller, one login per role with a
fresh random password each run (printed once, never stored in clear), and a lottery ticket
sold by the seller at the first window in a draw whose results are recorded at once so the
ticket won 50,000.00 MXN. A winner left unpaid by an earlier run is offered again.
`render_counter` prints the walk: log in as the window's cashier, pay the winner in two
parts, see it `PAID` and the day's statement change, replay a payment, be refused elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shlex
import sys
from dataclasses import dataclass

from config.settings import Config
from gateway.core import network, users
from gateway.core.commands import Context
from gateway.core.lottery import TIMEZONE as LOTTERY_TIMEZONE
from gateway.core.lottery import draws, sales
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal
from gateway.core.statements import business_day
from gateway.store.models import Ticket, User, Vendedor, Ventana
from signing.keys import Keyring
from signing.receipts import security_number

DEMO_ADMIN = Principal(user_id="demo-admin", role=ADMIN)
WINNING_BOARD = "3,11,19,27,35,43"
PRIZES = {"base": {"6": 5_000_000, "5": 100_000, "4": 5_000, "3": 1_500}}


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    role: str
    where: str


@dataclass(frozen=True)
class CounterDemo:
    logins: tuple[Login, ...]
    winner_id: str
    winner_code: str
    ventana_id: str
    other_ventana_id: str
    vendedor_id: str
    business_day: str


class _Board(sales.Randomness):
    """The demo winner's board (everything else stays random)."""

    def board(self) -> str:
        return WINNING_BOARD


def _window(ctx: Context, banca_id: str, name: str) -> str:
    found = Ventana.get_or_none((Ventana.name == name) & (Ventana.banca == banca_id))
    if found is not None:
        return str(found.id)
    return str(
        network.create_ventana(ctx, DEMO_ADMIN, network.NewVentana(banca_id, name, 350)).result.id
    )


def _seller(ctx: Context, ventana_id: str) -> str:
    found = Vendedor.get_or_none(
        (Vendedor.name == "Demo Vendedor") & (Vendedor.ventana == ventana_id)
    )
    if found is not None:
        return str(found.id)
    return str(
        network.create_vendedor(
            ctx, DEMO_ADMIN, network.NewVendedor(ventana_id, "Demo Vendedor", 200)
        ).result.id
    )


def _login(
    ctx: Context,
    username: str,
    role: str,
    where: str,
    *,
    ventana_id: str | None = None,
    vendedor_id: str | None = None,
) -> Login:
    password = secrets.token_urlsafe(12)
    if User.get_or_none(User.username == username) is None:
        users.add_user(
            ctx,
            users.NewUser(
                username=username,
                password=password,
                role=role,
                ventana_id=ventana_id,
                vendedor_id=vendedor_id,
            ),
        )
    else:
        users.set_password(ctx, username, password)
    return Login(username, password, role, where)


def _winner(ctx: Context, config: Config, banca_id: str, ventana_id: str, seller: str) -> Ticket:
    """An unpaid demo winner, or a new one: sold by the seller, its draw resulted."""
    found = (
        Ticket.select()
        .where(
            (Ticket.banca == banca_id)
            & (Ticket.external_id.startswith("demo-winner-"))
            & (Ticket.status == "EVALUATED")
            & (Ticket.paid_amount == 0)
        )
        .first()
    )
    if found is not None:
        return found
    stamp = ctx.now.strftime("%Y%m%d%H%M%S")
    number = f"W{stamp}"
    closes = ctx.now + dt.timedelta(minutes=10)
    draws.create(
        ctx,
        DEMO_ADMIN,
        draws.NewDraw(
            payee_id=banca_id,
            draw_number=number,
            draw_date=closes.date(),
            closes_at=closes,
            base_price=1500,
            rematch=1000,
            second_rematch=500,
            minimum_number_of_boards=1,
            maximum_number_of_boards=6,
            prizes=PRIZES,
            timezone=LOTTERY_TIMEZONE,
        ),
    )
    keys = Keyring.from_texts(list(config.signing_keys))
    seller_token = Principal(
        user_id="demo-vendedor",
        role=VENDEDOR,
        ventana_id=ventana_id,
        vendedor_id=seller,
        banca_id=banca_id,
        permissions=frozenset({"lottery_tickets_create"}),
    )
    sale = sales.purchase(
        ctx,
        seller_token,
        sales.Purchase(
            payee_id=banca_id,
            payer_reference=f"demo-winner-{stamp}",
            draw_number=number,
            combination_count=1,
            rematch=False,
            second_rematch=False,
            total_amount=1500,
            branch_name="Demo",
            branch_street="Avenida Central",
            branch_city="San José",
            branch_neighborhood="Centro",
        ),
        lambda receipt: security_number(keys.current.signing_key, receipt),
        _Board(),
    )
    draws.record_results(ctx, DEMO_ADMIN, number, [int(n) for n in WINNING_BOARD.split(",")])
    return Ticket.get_by_id(sale.result.ticket_id)


def seed_counter(ctx: Context, config: Config, banca_id: str, ventana_id: str) -> CounterDemo:
    other = _window(ctx, banca_id, "Demo Ventana 2")
    seller = _seller(ctx, ventana_id)
    logins = (
        _login(ctx, "demo-admin", ADMIN, "everything"),
        _login(ctx, "demo-cajero", VENTANA, "Demo Ventana", ventana_id=ventana_id),
        _login(ctx, "demo-vendedor", VENDEDOR, "Demo Vendedor", vendedor_id=seller),
        _login(ctx, "demo-cajero-2", VENTANA, "Demo Ventana 2", ventana_id=other),
    )
    winner = _winner(ctx, config, banca_id, ventana_id, seller)
    return CounterDemo(
        logins=logins,
        winner_id=winner.id,
        winner_code=winner.code or "",
        ventana_id=ventana_id,
        other_ventana_id=other,
        vendedor_id=seller,
        business_day=business_day(ctx.now).isoformat(),
    )


def render_counter(c: CounterDemo, base: str) -> str:
    """A runnable walk at the counter, with the logins it uses."""
    python = shlex.quote(sys.executable)
    json_type = "-H 'Content-Type: application/json'"
    take = shlex.quote("import json,sys; print(json.load(sys.stdin)['data']['accessToken'])")

    def login(var: str, who: Login) -> str:
        body = shlex.quote(json.dumps({"username": who.username, "password": who.password}))
        return (
            f"{var}=$(curl -sS -X POST {base}/api/v1/auth/login {json_type} -d {body} "
            f"| {python} -c {take})"
        )

    def pay(token: str, amount: int, key: str, final: bool = False) -> str:
        body = {"ticketId": c.winner_id, "amountPaid": amount, "idempotencyKey": key}
        if final:
            body["isFinal"] = True
        return (
            f"curl -sS -X POST {base}/api/v1/ticket-payments "
            f'-H "Authorization: Bearer ${token}" {json_type} '
            f"-d {shlex.quote(json.dumps(body))}; echo"
        )

    cashier, other = c.logins[1], c.logins[3]
    key = f"demo-pay-{c.winner_id[:8]}"
    lines = [
        "# --- the counter: logins (new passwords every run of pamgate demo) --------------",
        *[f"#   {x.username:<14} {x.password}   {x.role} of {x.where}" for x in c.logins],
        f"# winning ticket {c.winner_id} (receipt {c.winner_code}): 50000.00 MXN to pay,",
        "# sold by Demo Vendedor at Demo Ventana; the draw's results are already recorded.",
        "",
        "# C1. log in as the window's cashier",
        login("CAJERO", cashier),
        "",
        "# C2. pay 20000 of the prize (201); the same request again is the same payment,",
        "#     200 with meta.cached",
        pay("CAJERO", 20000, f"{key}-1"),
        pay("CAJERO", 20000, f"{key}-1"),
        "",
        "# C3. pay the rest as final: the ticket is PAID, its history says what was paid",
        pay("CAJERO", 30000, f"{key}-2", final=True),
        f"curl -sS {base}/api/v1/tickets/{c.winner_id}/payment-history "
        '-H "Authorization: Bearer $CAJERO"; echo',
        "",
        f"# C4. the window's statement of today ({c.business_day}): sales, prizes paid,",
        "#     commission and the balance carried over",
        f"curl -sS '{base}/api/v1/accounts/statements?ventanaId={c.ventana_id}"
        f'&date={c.business_day}\' -H "Authorization: Bearer $CAJERO"; echo',
        "",
        "# C5. the cashier of the other window may not pay this window's ticket: 403 TKT_PAY_006",
        login("CAJERO2", other),
        pay("CAJERO2", 1, f"{key}-3"),
        "",
    ]
    return "\n".join(lines)
