"""Builders for test data, going through the real core services (no hand-made rows)."""

from __future__ import annotations

import json
from typing import Any

from gateway.core import accounts, ledger, network, players
from gateway.core.audit import Actor
from gateway.core.clock import FixedClock, unix
from gateway.core.commands import Context
from gateway.core.principal import ADMIN, Principal
from signing import betstack

OPERATOR = "acme"
SECRET = "12345ABCDE"
ADMIN_USER = Principal(user_id="admin-1", role=ADMIN)


def ctx(clock: FixedClock, actor: str = "admin-1") -> Context:
    return Context(actor=Actor("user", actor), now=clock.now(), request_id="test")


def banca_and_ventana(clock: FixedClock, commission_bps: int = 350) -> tuple[str, str]:
    banca = network.create_banca(ctx(clock), ADMIN_USER, network.NewBanca(name="Banca Uno"))
    ventana = network.create_ventana(
        ctx(clock),
        ADMIN_USER,
        network.NewVentana(
            banca_id=banca.result.id, name="Ventana 1", commission_bps=commission_bps
        ),
    )
    return banca.result.id, ventana.result.id


def player(
    clock: FixedClock,
    *,
    currency: str = "USD",
    balance: int = 0,
    external_id: str | None = None,
    ventana_id: str | None = None,
    operator: str = OPERATOR,
) -> str:
    """A player of `operator` with `balance` minor units deposited from the house cash."""
    created = players.create_player(
        ctx(clock),
        ADMIN_USER,
        players.NewPlayer(
            msisdn="50688887777",
            lang="es",
            currency=currency,
            external_id=external_id,
            ventana_id=ventana_id,
            operator=operator,
        ),
    )
    player_id = created.result.id
    if balance:
        players.move_cash(
            ctx(clock),
            ADMIN_USER,
            players.CashMovement(
                player_id=player_id,
                amount=balance,
                method="cash",
                idempotency_key=f"seed-{player_id}",
            ),
            deposit=True,
        )
    return player_id


def token(clock: FixedClock, player_id: str) -> str:
    return players.issue_token(ctx(clock), ADMIN_USER, player_id).result.token


def wallet(clock: FixedClock, player_id: str, currency: str = "USD") -> ledger.Balance:
    return ledger.balance_of(accounts.player_wallet(player_id, currency, clock.now()))


def ticket_data(ticket_id: str, player_id: str, **overrides: Any) -> dict[str, Any]:
    """A `ticket_create` data object in Betstack's current money model."""
    data: dict[str, Any] = {
        "operator": OPERATOR,
        "ticket_id": ticket_id,
        "ticket_code": ticket_id[-6:].upper(),
        "player_id": player_id,
        "price": 500,
        "stake": 444,
        "wht_amount": 240,
        "wht": 10,
        "ext_amount": 56,
        "ext": 12.5,
        "ext_type": "inclusive",
        "gross_payout": 2842,
        "net_payout": 2602,
        "currency": "USD",
        "atag": "atag_value",
        "rtag": None,
        "ticket_type": "quickbet",
    }
    data.update(overrides)
    return data


def signed(
    body: dict[str, Any] | None,
    clock: FixedClock,
    *,
    secret: str = SECRET,
    operator: str | None = OPERATOR,
    skew: int = 0,
) -> tuple[bytes, dict[str, str]]:
    raw = betstack.compact_json(body) if body is not None else b""
    headers = betstack.signed_headers(
        secret, raw, timestamp=unix(clock.now()) + skew, operator=operator
    )
    headers["Content-Type"] = "application/json"
    return raw, headers


def pam(client: Any, clock: FixedClock, action: str, data: dict[str, Any], **kw: Any) -> Any:
    raw, headers = signed({"action": action, "data": data}, clock, **kw)
    return client.simulate_post("/pam", body=raw, headers=headers)


def be(client: Any, clock: FixedClock, method: str, path: str, **kw: Any) -> Any:
    raw, headers = signed(None, clock, **kw)
    return client.simulate_request(method, path, body=raw, headers=headers)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
