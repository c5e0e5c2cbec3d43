"""`pamgate demo`: demo data and ready-to-run signed `curl` calls.

Seeds (idempotently) a banca, a ventana, a funded player and a fresh player token, then
prints shell snippets that sign each request at run time (timestamp + HMAC with openssl,
exactly as SPEC 1a describes), so they work whenever they are pasted. Development only:
it refuses to run with PAMGATE_ENV=production.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import sys
from dataclasses import dataclass

from config.settings import Config, ConfigError
from gateway.core import network, players
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.lottery import TIMEZONE as LOTTERY_TIMEZONE
from gateway.core.lottery import draws as lottery_draws
from gateway.core.principal import ADMIN, VENTANA, Principal
from gateway.demo_counter import CounterDemo, render_counter, seed_counter
from gateway.http.auth import TokenService
from gateway.store.models import Banca, Player, Ventana

DEMO_ADMIN = Principal(user_id="demo-admin", role=ADMIN)
DEMO_PLAYER = "demo-player-1"
DEMO_FUNDS = 10_000  # 100.00 USD


@dataclass(frozen=True)
class DemoData:
    operator: str
    secret: str
    banca_id: str
    ventana_id: str
    player_id: str
    player_token: str
    admin_token: str
    ticket_id: str
    lottery_token: str = ""  # VENTANA of the demo window, may sell lottery tickets
    draw_number: str = ""
    payments_token: str = ""  # VENTANA of the demo window with every payments_* permission
    available: int = DEMO_FUNDS  # the player's available balance, read after seeding
    counter: CounterDemo | None = None  # logins and a winner to pay at the counter


def seed(config: Config, clock: Clock) -> DemoData:
    if config.is_production:
        raise ConfigError("pamgate demo refuses to run with PAMGATE_ENV=production")
    partner = next((p for p in config.partners if p.protocol == "betstack"), None)
    if partner is None or not partner.active_keys:
        raise ConfigError(
            "pamgate demo needs a betstack partner with an active key "
            "(PAMGATE_PARTNERS_FILE=config/demo_partners.toml)"
        )
    ctx = Context(actor=Actor("system", "demo"), now=clock.now(), request_id="demo")
    banca = Banca.get_or_none(Banca.name == "Demo Banca")
    banca_id = (
        banca.id
        if banca
        else network.create_banca(ctx, DEMO_ADMIN, network.NewBanca("Demo Banca")).result.id
    )
    ventana = Ventana.get_or_none((Ventana.name == "Demo Ventana") & (Ventana.banca == banca_id))
    ventana_id = (
        ventana.id
        if ventana
        else network.create_ventana(
            ctx, DEMO_ADMIN, network.NewVentana(banca_id, "Demo Ventana", 350)
        ).result.id
    )
    player = Player.get_or_none(
        (Player.external_id == DEMO_PLAYER) & (Player.operator == partner.operator)
    )
    player_id = (
        player.id
        if player
        else players.create_player(
            ctx,
            DEMO_ADMIN,
            players.NewPlayer(
                msisdn="50688880001",
                lang="es",
                currency="USD",
                external_id=DEMO_PLAYER,
                ventana_id=ventana_id,
                operator=partner.operator,
            ),
        ).result.id
    )
    players.move_cash(
        ctx,
        DEMO_ADMIN,
        players.CashMovement(
            player_id=player_id,
            amount=DEMO_FUNDS,
            method="cash",
            idempotency_key="demo-initial-funding",
            ventana_id=ventana_id,
        ),
        deposit=True,
    )
    token = players.issue_token(ctx, DEMO_ADMIN, player_id).result.token
    # read, not assumed: an earlier demo's tickets may have left more or less than DEMO_FUNDS
    available = players.read_player(DEMO_ADMIN, player_id, ctx.now).available
    admin_token = TokenService(config.jwt_secret, clock, ttl_s=12 * 3600).mint(DEMO_ADMIN)
    stamp = clock.now().strftime("%Y%m%d%H%M%S")
    draw_number = _demo_draw(ctx, banca_id, stamp)
    lottery_token = TokenService(config.jwt_secret, clock, ttl_s=12 * 3600).mint(
        Principal(
            user_id="demo-store",
            role=VENTANA,
            ventana_id=ventana_id,
            permissions=frozenset({"lottery_tickets_create"}),
        )
    )
    payments_token = TokenService(config.jwt_secret, clock, ttl_s=12 * 3600).mint(
        Principal(
            user_id="demo-cashier",
            role=VENTANA,
            ventana_id=ventana_id,
            permissions=frozenset(PAYMENTS_PERMISSIONS),
        )
    )
    return DemoData(
        operator=partner.operator,
        secret=partner.active_keys[0].secret,
        banca_id=banca_id,
        ventana_id=ventana_id,
        player_id=player_id,
        player_token=token,
        admin_token=admin_token,
        ticket_id=f"demo-{stamp}",
        lottery_token=lottery_token,
        draw_number=draw_number,
        payments_token=payments_token,
        available=available,
        counter=seed_counter(ctx, config, banca_id, ventana_id),
    )


# --- the lottery (SPEC 9) ------------------------------------------------------------------------

DEMO_PRIZES = {
    "base": {"6": 5_000_000, "5": 100_000, "4": 5_000, "3": 1_500},
    "rematch": {"6": 1_000_000, "5": 20_000, "4": 1_000},
    "second_rematch": {"6": 200_000, "5": 5_000, "4": 500},
}


def _demo_draw(ctx: Context, banca_id: str, stamp: str) -> str:
    """The demo banca's active draw, or a new one closing in a week."""
    current = lottery_draws.active(banca_id, ctx.now)
    if current is not None:
        return str(current.draw_number)
    closes = ctx.now + dt.timedelta(days=7)
    return lottery_draws.create(
        ctx,
        DEMO_ADMIN,
        lottery_draws.NewDraw(
            payee_id=banca_id,
            draw_number=f"D{stamp}",
            draw_date=closes.date(),
            closes_at=closes,
            base_price=1500,
            rematch=1000,
            second_rematch=500,
            minimum_number_of_boards=1,
            maximum_number_of_boards=6,
            prizes=DEMO_PRIZES,
            timezone=LOTTERY_TIMEZONE,
        ),
    ).result.draw_number


def render_lottery(d: DemoData, base: str) -> str:
    """A runnable walk through a lottery ticket's life: buy, keep the receipt (PNG and
    JSON in a temporary directory), verify it, make it win, check the books."""
    purchase = {
        "payee_id": d.banca_id,
        "payer_reference": f"demo-{d.ticket_id}",
        "ticket": {
            "draw_number": d.draw_number,
            "combination_count": 2,
            "rematch": True,
            "second_rematch": True,
            "total_amount": "6000",
        },
        "branch": {
            "name": "Abarrotes Don Pepe",
            "street": "Av. Insurgentes Sur 1234",
            "city": "Ciudad de México",
            "neighborhood": "Del Valle",
        },
    }
    store = f"-H 'Authorization: Bearer {d.lottery_token}'"
    admin = f"-H 'Authorization: Bearer {d.admin_token}'"
    json_type = "-H 'Content-Type: application/json'"
    body = shlex.quote(json.dumps(purchase, ensure_ascii=False))
    python = shlex.quote(sys.executable)
    keep = (
        "import base64,json,sys; d=sys.argv[1]; r=json.load(open(d+'/purchase.json'))"
        "['receipt']; open(d+'/receipt.png','wb').write(base64.b64decode("
        "r['ticket_image'])); json.dump(r,open(d+'/receipt.json','w')); "
        "print('receipt', r['reference_number'], 'image', d+'/receipt.png')"
    )
    first_board = (
        "import json,sys; print(json.load(open(sys.argv[1]))['ticket']"
        "['combination_numbers'].split('|')[0])"
    )
    verdict = (
        "import json,sys; r=json.load(sys.stdin)['data']; "
        "print('reconciliation ok' if r['ok'] else r)"
    )
    return "\n".join(
        [
            "# --- lottery: a store token with lottery_tickets_create ---------------------------",
            f"# L1. the active draw of the demo banca ({d.draw_number})",
            f"curl -sS '{base}/api/v1/lottery_tickets/new?payee_id={d.banca_id}' {store}; echo",
            "",
            "# L2. buy a ticket (2 boards, rematch and second rematch: 6000 cents) and keep the",
            "#     receipt: its PNG (scan the QR code) and its JSON",
            "LOTTERY=$(mktemp -d)",
            f"curl -sS -X POST {base}/api/v1/lottery_tickets {store} {json_type} -d {body} "
            '> "$LOTTERY/purchase.json"',
            f'{python} -c {shlex.quote(keep)} "$LOTTERY"',
            "",
            "# L3. verify the receipt (change one character of receipt.json and it is invalid)",
            f"curl -sS -X POST {base}/api/v1/receipts/verify {json_type} "
            '-d @"$LOTTERY/receipt.json"; echo',
            "",
            "# L4. record results that make the ticket's first board win (ADMIN), then the books:",
            "#     the prize liability equals the payout and the reconciliation is clean",
            f'NUMBERS=$({python} -c {shlex.quote(first_board)} "$LOTTERY/purchase.json")',
            f"curl -sS -X POST {base}/api/v1/draws/{d.draw_number}/results {admin} {json_type} "
            '-d "{\\"numbers\\":[$NUMBERS]}"; echo',
            f"curl -sS {base}/api/v1/reconciliation {admin} | {python} -c {shlex.quote(verdict)}",
            "",
        ]
    )


# --- the payments registry -------------------------------------------------------

PAYMENTS_PERMISSIONS = ("payments_read", "payments_create", "payments_update", "payments_delete")


def render_payments(d: DemoData, base: str) -> str:
    """A runnable walk through the payments registry with a cookie token: a Lightning
    payment in BTC linked to two orders, corrected, and the books checked."""
    cookie = '-H "Cookie: accessToken=$PAYMENTS_TOKEN"'
    json_type = "-H 'Content-Type: application/json'"
    python = shlex.quote(sys.executable)
    pick = (
        "import json,sys; k,v=sys.argv[1:]; "
        "print(next(x['id'] for x in json.load(sys.stdin) if x[k]==v))"
    )
    field = "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])"
    payment = '{"method_id":"\'"$LN"\'","currency_id":"\'"$BTC"\'","transaction_id":"\'"$TXN"\'",'
    return "\n".join(
        [
            "# --- payments registry: a cashier token in the accessToken cookie -----------------",
            "# a VENTANA token of the demo window with payments_read/create/update/delete (12 h)",
            f"PAYMENTS_TOKEN={d.payments_token}",
            "",
            "# P1. the Lightning method and the BTC currency",
            f"LN=$(curl -sS {base}/payments/methods {cookie} | {python} -c {shlex.quote(pick)} "
            "name 'Bitcoin Lightning')",
            f"BTC=$(curl -sS {base}/payments/currencies {cookie} | {python} -c "
            f"{shlex.quote(pick)} acronym BTC)",
            "",
            "# P2. record 0.00025 BTC (25000 satoshi) paid by Lightning",
            "TXN=ln-demo-$(date +%s)",
            f"PAYMENT=$(curl -sS -X POST {base}/payments {cookie} {json_type} "
            f"-d '{payment}\"amount\":0.00025}}' | {python} -c {shlex.quote(field)} id)",
            'echo "payment $PAYMENT"',
            "",
            "# P3. link it to two orders (a split payment)",
            "for ORDER in order-1001 order-1002; do",
            f"  curl -sS -X POST {base}/payments/ticket-payments {cookie} {json_type} "
            '-d \'{"payment_id":"\'"$PAYMENT"\'","ticket_id":"\'"$ORDER"\'"}\'; echo',
            "done",
            "",
            "# P4. correct the amount to 0.0003 BTC, read it back, list the orders",
            f"curl -sS -X PUT {base}/payments/$PAYMENT {cookie} {json_type} "
            f"-d '{payment}\"amount\":0.0003}}'; echo",
            f"curl -sS {base}/payments/$PAYMENT {cookie}; echo",
            f"curl -sS {base}/payments/ticket-payments/by-payment/$PAYMENT {cookie}; echo",
            "",
            "# P5. the books agree: pamgate payments books; pamgate reconcile",
            "",
        ]
    )


def _signed_curl(base: str, d: DemoData, method: str, path: str, body: dict | None) -> str:
    raw = json.dumps(body, separators=(",", ":")) if body is not None else ""
    lines = [
        f"BODY={shlex.quote(raw)}",
        "TS=$(date +%s)",
        'SIG=$(printf \'%s%s\' "$TS" "$BODY" | openssl dgst -sha256 -hmac '
        f"{shlex.quote(d.secret)} -r | cut -d' ' -f1)",
        f"curl -sS -w ' [HTTP %{{http_code}}]\\n' -X {method} {base}{path} "
        "-H 'Content-Type: application/json' "
        f'-H \'operator-name: {d.operator}\' -H "timestamp: $TS" -H "signature: $SIG"'
        + (' -d "$BODY"' if body is not None else ""),
    ]
    return "\n".join(lines)


def _units(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def render(d: DemoData, base: str = "http://127.0.0.1:8000") -> str:
    price, payout = 500, 2602
    ticket = {
        "operator": d.operator,
        "ticket_id": d.ticket_id,
        "ticket_code": d.ticket_id[-6:],
        "player_id": d.player_id,
        "price": price,
        "stake": 444,
        "wht_amount": 240,
        "wht": 10,
        "ext_amount": 56,
        "ext": 12.5,
        "ext_type": "inclusive",
        "gross_payout": 2842,
        "net_payout": payout,
        "currency": "USD",
        "ticket_type": "quickbet",
    }
    identify = {"action": "identify", "data": {"operator": d.operator, "token": d.player_token}}
    ref = {"operator": d.operator, "ticket_id": d.ticket_id}
    start = d.available  # every expected balance follows from the one read
    steps: list[tuple[str, str]] = [
        (
            f"1. identify: balance is {start} cents ({_units(start)} USD)",
            _signed_curl(base, d, "POST", "/pam", identify),
        ),
        (
            f"2. ticket_create: debits the price ({price}); run it twice, it debits once",
            _signed_curl(base, d, "POST", "/pam", {"action": "ticket_create", "data": ticket}),
        ),
        (
            f"3. identify again: {start - price}",
            _signed_curl(base, d, "POST", "/pam", identify),
        ),
        (
            "4. the ticket as the bet engine sees it",
            _signed_curl(base, d, "GET", f"/be/tickets/{d.ticket_id}", None),
        ),
        (
            f"5. ticket_win: credits net_payout ({payout})",
            _signed_curl(base, d, "POST", "/pam", {"action": "ticket_win", "data": ref}),
        ),
        (
            f"6. identify again: {start - price + payout}",
            _signed_curl(base, d, "POST", "/pam", identify),
        ),
        (
            "7. ticket_rollback: takes the win back",
            _signed_curl(base, d, "POST", "/pam", {"action": "ticket_rollback", "data": ref}),
        ),
        (
            "8. ticket_lost, then ticket_closed",
            _signed_curl(base, d, "POST", "/pam", {"action": "ticket_lost", "data": ref})
            + "\n"
            + _signed_curl(base, d, "POST", "/pam", {"action": "ticket_closed", "data": ref}),
        ),
        (
            f"9. identify: {start - price} again",
            _signed_curl(base, d, "POST", "/pam", identify),
        ),
    ]
    out = [
        "# pamgate demo: operator "
        f"{d.operator!r}, player {d.player_id} (external id {DEMO_PLAYER})",
        f"# player token (for identify): {d.player_token}",
        f"# ADMIN token (12 h): export PAMGATE_TOKEN={d.admin_token}",
        f"# back office: curl -sS {base}/api/v1/players/{d.player_id} "
        '-H "Authorization: Bearer $PAMGATE_TOKEN"',
        "# Each snippet signs at run time: HMAC-SHA256(secret, timestamp + body), hex.",
        "",
    ]
    for title, snippet in steps:
        out += [f"# {title}", snippet, ""]
    if d.lottery_token:
        out.append(render_lottery(d, base))
    if d.payments_token:
        out.append(render_payments(d, base))
    if d.counter is not None:
        out.append(render_counter(d.counter, base))
    return "\n".join(out)
