"""`pamgate demo`: demo data and ready-to-run signed `curl` calls.

Seeds (idempotently) a banca, a ventana, a funded player and a fresh player token, then
prints shell snippets that sign each request at run time (timestamp + HMAC with openssl,
exactly as SPEC 1a describes), so they work whenever they are pasted. Development only:
it refuses to run with PAMGATE_ENV=production.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from config.settings import Config, ConfigError
from gateway.core import network, players
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.principal import ADMIN, Principal
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


def seed(config: Config, clock: Clock) -> DemoData:
    if config.is_production:
        raise ConfigError("pamgate demo refuses to run with PAMGATE_ENV=production")
    partner = next((p for p in config.partners if p.protocol == "betstack"), None)
    if partner is None or not partner.active_keys:
        raise ConfigError("pamgate demo needs a betstack partner with an active key "
                          "(PAMGATE_PARTNERS_FILE=config/demo_partners.toml)")
    ctx = Context(actor=Actor("system", "demo"), now=clock.now(), request_id="demo")
    banca = Banca.get_or_none(Banca.name == "Demo Banca")
    banca_id = banca.id if banca else network.create_banca(
        ctx, DEMO_ADMIN, network.NewBanca("Demo Banca")).result.id
    ventana = Ventana.get_or_none((Ventana.name == "Demo Ventana") & (Ventana.banca == banca_id))
    ventana_id = ventana.id if ventana else network.create_ventana(
        ctx, DEMO_ADMIN, network.NewVentana(banca_id, "Demo Ventana", 350)).result.id
    player = Player.get_or_none((Player.external_id == DEMO_PLAYER)
                                & (Player.operator == partner.operator))
    player_id = player.id if player else players.create_player(
        ctx, DEMO_ADMIN, players.NewPlayer(msisdn="50688880001", lang="es", currency="USD",
                                           external_id=DEMO_PLAYER, ventana_id=ventana_id,
                                           operator=partner.operator),
    ).result.id
    players.move_cash(ctx, DEMO_ADMIN, players.CashMovement(
        player_id=player_id, amount=DEMO_FUNDS, method="cash",
        idempotency_key="demo-initial-funding", ventana_id=ventana_id), deposit=True)
    token = players.issue_token(ctx, DEMO_ADMIN, player_id).result.token
    admin_token = TokenService(config.jwt_secret, clock, ttl_s=12 * 3600).mint(DEMO_ADMIN)
    stamp = clock.now().strftime("%Y%m%d%H%M%S")
    return DemoData(operator=partner.operator, secret=partner.active_keys[0].secret,
                    banca_id=banca_id, ventana_id=ventana_id, player_id=player_id,
                    player_token=token, admin_token=admin_token, ticket_id=f"demo-{stamp}")


def _signed_curl(base: str, d: DemoData, method: str, path: str, body: dict | None) -> str:
    raw = json.dumps(body, separators=(",", ":")) if body is not None else ""
    lines = [
        f"BODY={shlex.quote(raw)}",
        "TS=$(date +%s)",
        "SIG=$(printf '%s%s' \"$TS\" \"$BODY\" | openssl dgst -sha256 -hmac "
        f"{shlex.quote(d.secret)} -r | cut -d' ' -f1)",
        f"curl -sS -w ' [HTTP %{{http_code}}]\\n' -X {method} {base}{path} "
        "-H 'Content-Type: application/json' "
        f"-H 'operator-name: {d.operator}' -H \"timestamp: $TS\" -H \"signature: $SIG\""
        + (' -d "$BODY"' if body is not None else ""),
    ]
    return "\n".join(lines)


def render(d: DemoData, base: str = "http://127.0.0.1:8000") -> str:
    ticket = {
        "operator": d.operator, "ticket_id": d.ticket_id, "ticket_code": d.ticket_id[-6:],
        "player_id": d.player_id, "price": 500, "stake": 444, "wht_amount": 240, "wht": 10,
        "ext_amount": 56, "ext": 12.5, "ext_type": "inclusive", "gross_payout": 2842,
        "net_payout": 2602, "currency": "USD", "ticket_type": "quickbet",
    }
    identify = {"action": "identify", "data": {"operator": d.operator, "token": d.player_token}}
    ref = {"operator": d.operator, "ticket_id": d.ticket_id}
    steps: list[tuple[str, str]] = [
        ("1. identify: balance is 10000 cents (100.00 USD)",
         _signed_curl(base, d, "POST", "/pam", identify)),
        ("2. ticket_create: debits the price (500); run it twice, it debits once",
         _signed_curl(base, d, "POST", "/pam", {"action": "ticket_create", "data": ticket})),
        ("3. identify again: 9500", _signed_curl(base, d, "POST", "/pam", identify)),
        ("4. the ticket as the bet engine sees it",
         _signed_curl(base, d, "GET", f"/be/tickets/{d.ticket_id}", None)),
        ("5. ticket_win: credits net_payout (2602)",
         _signed_curl(base, d, "POST", "/pam", {"action": "ticket_win", "data": ref})),
        ("6. identify again: 12102", _signed_curl(base, d, "POST", "/pam", identify)),
        ("7. ticket_rollback: takes the win back",
         _signed_curl(base, d, "POST", "/pam", {"action": "ticket_rollback", "data": ref})),
        ("8. ticket_lost, then ticket_closed",
         _signed_curl(base, d, "POST", "/pam", {"action": "ticket_lost", "data": ref}) + "\n"
         + _signed_curl(base, d, "POST", "/pam", {"action": "ticket_closed", "data": ref})),
        ("9. identify: 9500 again",
         _signed_curl(base, d, "POST", "/pam", identify)),
    ]
    out = [
        "# pamgate demo: operator "
        f"{d.operator!r}, player {d.player_id} (external id {DEMO_PLAYER})",
        f"# player token (for identify): {d.player_token}",
        f"# ADMIN token (12 h): export PAMGATE_TOKEN={d.admin_token}",
        f"# back office: curl -sS {base}/api/v1/players/{d.player_id} "
        "-H \"Authorization: Bearer $PAMGATE_TOKEN\"",
        "# Each snippet signs at run time: HMAC-SHA256(secret, timestamp + body), hex.",
        "",
    ]
    for title, snippet in steps:
        out += [f"# {title}", snippet, ""]
    return "\n".join(out)


