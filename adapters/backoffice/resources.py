"""Falcon resources of the back office: thin, one per route.

Order in every handler: authenticate (401/403 from `Authenticator.require`), validate the
body with its schema (400), call one core service, render its result in the envelope.
Core refusals become back-office errors through `translate.core_errors()`.
"""

from __future__ import annotations

import falcon

from adapters.backoffice import schemas, translate
from gateway.core import network, players, policy, reconcile
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context, Outcome
from gateway.core.principal import Principal
from gateway.http.auth import Authenticator
from gateway.http.metrics import Metrics

_NEW_BANCA = schemas.NewBanca()
_NEW_VENTANA = schemas.NewVentana()
_NEW_VENDEDOR = schemas.NewVendedor()
_NEW_PLAYER = schemas.NewPlayer()
_NEW_TOKEN = schemas.NewToken()
_CASH = schemas.CashMovement()
_PLAYER_PATCH = schemas.PlayerPatch()

# Who may call at all, checked before the body is read; the decisions are the core's
# (`gateway.core.policy`), whose role sets these are.
ADMIN_ONLY = (policy.ADMIN,)
WINDOW_STAFF = policy.WINDOW_STAFF
COUNTER_STAFF = policy.COUNTER_STAFF


class _Resource:
    def __init__(self, auth: Authenticator, clock: Clock, metrics: Metrics) -> None:
        self._auth = auth
        self._clock = clock
        self._metrics = metrics

    def _principal(self, req: falcon.Request, roles: tuple[str, ...] = policy.ROLES) -> Principal:
        return self._auth.require(req, roles=roles)

    def _context(self, req: falcon.Request, principal: Principal) -> Context:
        return Context(
            actor=Actor("user", principal.user_id),
            now=self._clock.now(),
            request_id=req.context.request_id,
        )

    def _reply(self, resp: falcon.Response, outcome: Outcome) -> None:
        """201 when the core created something, else 200; an idempotent replay is 200
        with `meta.cached`."""
        if outcome.replayed:
            self._metrics.idempotent_replays.labels("backoffice").inc()
        resp.status = 201 if outcome.created and not outcome.replayed else 200
        resp.media = translate.envelope(translate.render(outcome.result), replayed=outcome.replayed)


def _ok(resp: falcon.Response, data: object) -> None:
    resp.status = 200
    resp.media = translate.envelope(translate.render(data))


# --- the sales network (SPEC 7c) -------------------------------------------------------------


class BancaCollection(_Resource):
    """`GET /api/v1/bancas` (what the caller may see) and `POST` (ADMIN) `{name}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req)
        with translate.core_errors():
            _ok(resp, network.list_bancas(principal))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, ADMIN_ONLY)
        data = translate.load(_NEW_BANCA, req.context.raw_body)
        with translate.core_errors():
            outcome = network.create_banca(
                self._context(req, principal), principal, translate.new_banca(data)
            )
        self._reply(resp, outcome)


class BancaItem(_Resource):
    """`GET /api/v1/bancas/{banca_id}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, banca_id: str) -> None:
        principal = self._principal(req)
        with translate.core_errors():
            _ok(resp, network.get_banca(principal, banca_id))


class VentanaCollection(_Resource):
    """`GET /api/v1/ventanas` and `POST` (ADMIN) `{bancaId, name, commissionBps}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req)
        with translate.core_errors():
            _ok(resp, network.list_ventanas(principal))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, ADMIN_ONLY)
        data = translate.load(_NEW_VENTANA, req.context.raw_body)
        with translate.core_errors():
            outcome = network.create_ventana(
                self._context(req, principal), principal, translate.new_ventana(data)
            )
        self._reply(resp, outcome)


class VentanaItem(_Resource):
    """`GET /api/v1/ventanas/{ventana_id}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, ventana_id: str) -> None:
        principal = self._principal(req)
        with translate.core_errors():
            _ok(resp, network.get_ventana(principal, ventana_id))


class VendedorCollection(_Resource):
    """`GET /api/v1/vendedores` and `POST` (ADMIN) `{ventanaId, name, commissionBps}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req)
        with translate.core_errors():
            _ok(resp, network.list_vendedores(principal))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, ADMIN_ONLY)
        data = translate.load(_NEW_VENDEDOR, req.context.raw_body)
        with translate.core_errors():
            outcome = network.create_vendedor(
                self._context(req, principal), principal, translate.new_vendedor(data)
            )
        self._reply(resp, outcome)


class VendedorItem(_Resource):
    """`GET /api/v1/vendedores/{vendedor_id}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, vendedor_id: str) -> None:
        principal = self._principal(req)
        with translate.core_errors():
            _ok(resp, network.get_vendedor(principal, vendedor_id))


# --- players and wallets (SPEC 7b) -----------------------------------------------------------


class PlayerCollection(_Resource):
    """`POST /api/v1/players` (ADMIN) `{operator?, externalId?, msisdn, lang, currency,
    ventanaId?}`: a player of one of the configured operators."""

    def __init__(
        self, auth: Authenticator, clock: Clock, metrics: Metrics, *, operators: tuple[str, ...]
    ) -> None:
        super().__init__(auth, clock, metrics)
        self._operators = operators

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, ADMIN_ONLY)
        data = translate.load(_NEW_PLAYER, req.context.raw_body)
        with translate.core_errors():
            outcome = players.create_player(
                self._context(req, principal),
                principal,
                translate.new_player(data),
                self._operators,
            )
        self._reply(resp, outcome)


class PlayerItem(_Resource):
    """`GET /api/v1/players/{player_id}` (balance, available, held in units; ADMIN any
    player, VENTANA and VENDEDOR those of their window) and `PATCH` (ADMIN) `{blocked}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, player_id: str) -> None:
        principal = self._principal(req)
        with translate.core_errors():
            view = players.read_player(principal, player_id, self._clock.now())
        _ok(resp, view)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, player_id: str) -> None:
        principal = self._principal(req, ADMIN_ONLY)
        data = translate.load(_PLAYER_PATCH, req.context.raw_body)
        with translate.core_errors():
            outcome = players.set_blocked(
                self._context(req, principal), principal, player_id, data["blocked"]
            )
        self._reply(resp, outcome)


class PlayerTokens(_Resource):
    """`POST /api/v1/players/{player_id}/tokens` (ADMIN, VENTANA) → `{token, playerId,
    expiresAt}`: a player token for the bet engine's `identify`, shown once."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, player_id: str) -> None:
        principal = self._principal(req, WINDOW_STAFF)
        translate.load(_NEW_TOKEN, req.context.raw_body)
        with translate.core_errors():
            outcome = players.issue_token(self._context(req, principal), principal, player_id)
        self._reply(resp, outcome)


class _CashCounter(_Resource):
    """Cash across a window's counter, idempotent by `idempotencyKey`: 201 new, 200 with
    `meta.cached` for a replay, 409 `IDEMPOTENCY_KEY_REUSED` for another body."""

    deposit: bool

    def on_post(self, req: falcon.Request, resp: falcon.Response, player_id: str) -> None:
        principal = self._principal(req, COUNTER_STAFF)
        data = translate.load(_CASH, req.context.raw_body)
        with translate.core_errors():
            # The wire amount is in units of the player's currency, which only the core knows.
            currency = players.currency_of(player_id)
            outcome = players.move_cash(
                self._context(req, principal),
                principal,
                translate.cash_movement(player_id, currency, data),
                deposit=self.deposit,
            )
        self._reply(resp, outcome)


class PlayerDeposits(_CashCounter):
    """`POST /api/v1/players/{player_id}/deposits` `{amount, method, idempotencyKey,
    ventanaId? (ADMIN)}`: window cash → wallet."""

    deposit = True


class PlayerWithdrawals(_CashCounter):
    """`POST /api/v1/players/{player_id}/withdrawals` `{amount, method, idempotencyKey,
    ventanaId? (ADMIN)}`: wallet → window cash; never more than the available balance."""

    deposit = False


# --- reconciliation (SPEC 10) ----------------------------------------------------------------


class Reconciliation(_Resource):
    """`GET /api/v1/reconciliation` (ADMIN): every ledger invariant checked in one snapshot;
    200 whether or not it holds (`data.ok` tells, `data.checks` names the breaches)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._principal(req, ADMIN_ONLY)
        with translate.core_errors():
            report = reconcile.reconcile()
        _ok(resp, report.to_dict())
