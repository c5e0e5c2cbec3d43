"""Players and their wallets: creation, tokens for the bet engine's `identify`, blocking,
and cash deposits and withdrawals across a window's counter (SPEC section 7b).

Results carry money in integer minor units; each adapter converts at its own edge."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core import accounts, ledger, policy
from gateway.core.commands import Context, Done, IdemKey, Outcome, run
from gateway.core.errors import (
    Conflict,
    Invalid,
    NotFound,
    PlayerBlocked,
    UnknownPlayer,
)
from gateway.core.idempotency import fingerprint
from gateway.core.money import CURRENCIES
from gateway.core.network import scope_of_ventana
from gateway.core.principal import Principal, Scope
from gateway.core.results import result
from gateway.store import fastsql
from gateway.store.database import locked
from gateway.store.models import Player, PlayerToken

TOKEN_TTL = dt.timedelta(hours=24)
LANGS = ("es", "en")


@dataclass(frozen=True)
class NewPlayer:
    msisdn: str
    lang: str
    currency: str
    external_id: str | None = None
    ventana_id: str | None = None
    operator: str | None = None  # the tenant; may be left out when only one is configured


@dataclass(frozen=True)
class CashMovement:
    player_id: str
    amount: int  # minor units, > 0
    method: str
    idempotency_key: str
    ventana_id: str | None = None  # ADMIN may name the window; others use their own


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@result
@dataclass(frozen=True)
class PlayerView:
    """A player and its wallet; money in minor units (adapters convert at their edge)."""

    id: str
    operator: str
    external_id: str | None
    msisdn: str
    lang: str
    currency: str
    blocked: bool
    ventana_id: str | None
    balance: int
    available: int
    held: int


@result
@dataclass(frozen=True)
class TokenIssued:
    token: str  # shown once; only its hash is stored
    token_id: str
    player_id: str
    expires_at: dt.datetime


@result
@dataclass(frozen=True)
class CashMoved:
    txn_id: str
    player_id: str
    deposit: bool
    amount: int
    currency: str
    method: str
    ventana_id: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Identified:
    """What the bet engine's `identify` learns of a player (never stored)."""

    player_id: str
    lang: str
    available: int
    currency: str


def player_view(player: Player, now: dt.datetime) -> PlayerView:
    bal = ledger.balance_of(accounts.player_wallet(player.id, player.currency, now))
    return PlayerView(
        id=player.id,
        operator=player.operator,
        external_id=player.external_id,
        msisdn=player.msisdn,
        lang=player.lang,
        currency=player.currency,
        blocked=bool(player.blocked),
        ventana_id=player.ventana_id,
        balance=bal.balance,
        available=bal.available,
        held=bal.held,
    )


def currency_of(player_id: str) -> str:
    """The player's currency (the unit its wire amounts are in); NotFound."""
    return str(get_player(player_id).currency)


def get_player(player_id: str) -> Player:
    player = Player.get_or_none(Player.id == player_id)
    if player is None:
        raise NotFound("player not found")
    return player


def _operator(requested: str | None, operators: Sequence[str] | None) -> str:
    """The tenant of a new player: the one named, or the only one configured (`operators`
    None: the caller, a tool, does not restrict them)."""
    if operators is None:
        return requested or ""
    if requested is None:
        if len(operators) > 1:
            raise Invalid(
                "operator is required when several operators are configured", field="operator"
            )
        return operators[0] if operators else ""
    if requested not in operators:
        raise Invalid("unknown operator", field="operator")
    return requested


def create_player(
    ctx: Context, principal: Principal, cmd: NewPlayer, operators: Sequence[str] | None = None
) -> Outcome:
    """A player of one operator; `externalId` is unique per operator (a concurrent create
    of the same one: the unique index lets one in, the others get `Conflict`)."""
    policy.manage_players(principal, "create players")
    if cmd.currency not in CURRENCIES:
        raise Invalid("unknown currency", field="currency")
    if cmd.lang not in LANGS:
        raise Invalid("lang must be es or en", field="lang")
    operator = _operator(cmd.operator, operators)

    def body() -> Done:
        if cmd.ventana_id:
            scope_of_ventana(cmd.ventana_id)
        row = {
            "id": str(uuid.uuid4()),
            "operator": operator,
            "external_id": cmd.external_id,
            "msisdn": cmd.msisdn,
            "lang": cmd.lang,
            "currency": cmd.currency,
            "blocked": False,
            "ventana_id": cmd.ventana_id,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
        if not fastsql.insert_ignore("player", row):
            raise Conflict("externalId already exists for this operator", field="externalId")
        player = Player(**{("ventana" if k == "ventana_id" else k): v for k, v in row.items()})
        return Done(player_view(player, ctx.now), created=True, target_id=player.id)

    return run(ctx, "PLAYER_CREATE", body, target_type="player")


def _player_window(player: Player) -> Scope | None:
    return scope_of_ventana(player.ventana_id) if player.ventana_id else None


def read_player(principal: Principal, player_id: str, now: dt.datetime) -> PlayerView:
    """The player and wallet (minor units): NotFound, or Forbidden outside the caller's
    window."""
    player = get_player(player_id)
    policy.read_player(principal, _player_window(player))
    return player_view(player, now)


def issue_token(
    ctx: Context, principal: Principal, player_id: str, ttl: dt.timedelta = TOKEN_TTL
) -> Outcome:
    """A fresh player token (shown once; only its hash is stored)."""
    policy.issue_player_tokens(principal)
    player = get_player(player_id)
    policy.issue_player_token(principal, _player_window(player))
    token = secrets.token_urlsafe(32)

    def body() -> Done:
        row = PlayerToken.create(
            id=str(uuid.uuid4()),
            player=player.id,
            token_hash=token_hash(token),
            expires_at=ctx.now + ttl,
            created_by=principal.user_id,
            created_at=ctx.now,
        )
        return Done(
            TokenIssued(
                token=token, token_id=row.id, player_id=player.id, expires_at=row.expires_at
            ),
            created=True,
            target_id=player.id,
            details={"token_id": row.id},
        )

    return run(ctx, "PLAYER_TOKEN_ISSUE", body, target_type="player", target_id=player.id)


def resolve_token(operator: str, token: str, now: dt.datetime) -> Player:
    """The player of `operator` a live token belongs to; UnknownPlayer when bad, expired,
    revoked or another operator's."""
    row = PlayerToken.get_or_none(PlayerToken.token_hash == token_hash(token))
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.player.operator != operator
    ):
        raise UnknownPlayer("user not found")
    return row.player


def resolve_player(operator: str, ref: str, now: dt.datetime) -> Player:
    """A bet-engine `player_id` of `operator`: our player id, the external id, or a live
    player token. Another operator's player is unknown, whatever the form of its id."""
    # two index lookups (primary key; operator + external id), our id first
    row = fastsql.execute(
        f"SELECT {_PLAYER_COLUMNS}, 0 AS rank FROM player "  # noqa: S608
        "WHERE id = %s AND operator = %s UNION ALL "
        f"SELECT {_PLAYER_COLUMNS}, 1 AS rank FROM player "
        "WHERE operator = %s AND external_id = %s ORDER BY rank LIMIT 1",
        (ref, operator, operator, ref),
    ).fetchone()
    if row is not None:
        return Player.loaded(dict(zip(_PLAYER_FIELDS, row[:-1], strict=True)))
    return resolve_token(operator, ref, now)


_PLAYER_FIELDS = (
    "id",
    "operator",
    "external_id",
    "msisdn",
    "lang",
    "currency",
    "blocked",
    "ventana",
    "created_at",
    "updated_at",
)
_PLAYER_COLUMNS = ", ".join(f if f != "ventana" else "ventana_id" for f in _PLAYER_FIELDS)


def identify(operator: str, token: str, now: dt.datetime) -> Identified:
    player = resolve_token(operator, token, now)
    if player.blocked:
        raise PlayerBlocked("player blocked")
    wallet = accounts.player_wallet(player.id, player.currency, now)
    return Identified(
        player_id=player.id,
        lang=player.lang,
        available=ledger.balance_of(wallet).available,
        currency=player.currency,
    )


def set_blocked(ctx: Context, principal: Principal, player_id: str, blocked: bool) -> Outcome:
    policy.manage_players(principal, "block players")

    def body() -> Done:
        player = locked(Player.select().where(Player.id == player_id)).get_or_none()
        if player is None:
            raise NotFound("player not found")
        Player.update(blocked=blocked, updated_at=ctx.now).where(Player.id == player_id).execute()
        player.blocked = blocked
        return Done(player_view(player, ctx.now), target_id=player_id, details={"blocked": blocked})

    return run(
        ctx,
        "PLAYER_BLOCK" if blocked else "PLAYER_UNBLOCK",
        body,
        target_type="player",
        target_id=player_id,
    )


def _cash_window(principal: Principal, requested: str | None) -> str | None:
    window = policy.cash_window(principal, requested)
    if window is not None:
        scope_of_ventana(window)  # the window must exist (NotFound)
    return window


def move_cash(ctx: Context, principal: Principal, cmd: CashMovement, *, deposit: bool) -> Outcome:
    """Deposit (window cash → wallet) or withdrawal (wallet → window cash), idempotent."""
    action = "PLAYER_DEPOSIT" if deposit else "PLAYER_WITHDRAWAL"
    state: dict[str, Any] = {}

    def authorize() -> None:
        # inside the command's transaction, so a refusal is audited
        if cmd.amount <= 0:
            raise Invalid("amount must be greater than 0", field="amount")
        player = get_player(cmd.player_id)
        window = _cash_window(principal, cmd.ventana_id)
        policy.move_player_cash(principal, window, player.ventana_id)
        state["window"], state["player"] = window, player

    idem = IdemKey(
        scope=f"user:{principal.user_id}",
        key=f"{action}:{cmd.idempotency_key}",
        fingerprint=fingerprint(
            {
                "player": cmd.player_id,
                "amount": cmd.amount,
                "method": cmd.method,
                "ventana": cmd.ventana_id,
            }
        ),
    )

    def body() -> Done:
        window, fresh = state["window"], state["player"]
        wallet = accounts.player_wallet(fresh.id, fresh.currency, ctx.now)
        cash = (
            accounts.window_cash(window, fresh.currency, ctx.now)
            if window
            else accounts.house_cash(fresh.currency, ctx.now)
        )
        # wallet is credit-normal: crediting it (negative) adds to the player's balance.
        sign = -1 if deposit else 1
        txn = ledger.post(
            "wallet.deposit" if deposit else "wallet.withdrawal",
            [ledger.Leg(wallet, sign * cmd.amount), ledger.Leg(cash, -sign * cmd.amount)],
            now=ctx.now,
            reference=fresh.id,
            actor=ctx.actor.id,
            request_id=ctx.request_id,
            memo=cmd.method,
        )
        moved = CashMoved(
            txn_id=str(txn.id),
            player_id=fresh.id,
            deposit=deposit,
            amount=cmd.amount,
            currency=fresh.currency,
            method=cmd.method,
            ventana_id=window,
            created_at=ctx.now,
        )
        return Done(
            moved, created=True, target_id=fresh.id, details={"amount": cmd.amount, "txn": txn.id}
        )

    return run(
        ctx,
        action,
        body,
        target_type="player",
        target_id=cmd.player_id,
        idem=idem,
        before_claim=authorize,
    )
