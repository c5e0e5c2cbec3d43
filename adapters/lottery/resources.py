"""Falcon resources of the lottery: thin, one per route.

`GET /api/v1/lottery_tickets/new` (any valid token) and `POST /api/v1/lottery_tickets`
(`lottery_tickets_create`) speak seed 003's shapes; `POST /api/v1/draws` and
`POST /api/v1/draws/{draw_number}/results` (ADMIN) are back-office writes in its envelope.
Order in every handler: authenticate, validate the body, call one core service, render.
"""

from __future__ import annotations

import datetime as dt

import falcon

from adapters.backoffice import translate as backoffice
from adapters.lottery import schemas, translate
from gateway.core import policy
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.lottery import draws, sales
from gateway.core.principal import Principal
from gateway.http.auth import Authenticator
from gateway.http.metrics import Metrics
from signing.keys import Keyring
from signing.receipts import security_number

_PURCHASE = schemas.PurchaseRequest()
_DRAW_INFO = schemas.DrawInfoQuery()
_NEW_DRAW = schemas.NewDraw()
_RESULTS = schemas.DrawResults()
SELL = "lottery_tickets_create"


class _Resource:
    def __init__(
        self, auth: Authenticator, clock: Clock, metrics: Metrics, keys: Keyring, timezone: str
    ) -> None:
        self._auth = auth
        self._clock = clock
        self._metrics = metrics
        self._keys = keys
        self._timezone = timezone

    def _context(self, req: falcon.Request, principal: Principal) -> Context:
        return Context(
            actor=Actor("user", principal.user_id),
            now=self._clock.now(),
            request_id=req.context.request_id,
        )

    def _sign(self, receipt: object) -> str:
        return security_number(self._keys.current.signing_key, receipt)  # type: ignore[arg-type]


class DrawInfo(_Resource):
    """`GET /api/v1/lottery_tickets/new?payee_id=…`: the payee's active draw."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req)
        params = translate.query(_DRAW_INFO, req.params)
        with translate.core_errors():
            info = draws.active_view(params["payee_id"], self._clock.now())
        resp.media = translate.draw_info(info)


class TicketCollection(_Resource):
    """`POST /api/v1/lottery_tickets`: seed 003's purchase."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._auth.require(req, permission=SELL)
        with translate.core_errors():
            policy.sell_lottery(principal)  # 403 before the body is read (SPEC 9's order)
        cmd = translate.purchase(translate.load(_PURCHASE, req.context.raw_body))
        with translate.core_errors():
            outcome = sales.purchase(self._context(req, principal), principal, cmd, self._sign)
        if outcome.replayed:
            self._metrics.idempotent_replays.labels("lottery").inc()
        resp.status = 200
        resp.media = translate.sale(outcome.result)


class DrawCollection(_Resource):
    """`POST /api/v1/draws` (ADMIN): a new draw; 409 when its number is taken."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._auth.require(req, roles=(policy.ADMIN,))
        data = backoffice.load(_NEW_DRAW, req.context.raw_body)
        try:
            closes_at = data["closes_at"].astimezone(dt.UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise backoffice.invalid({"closes_at": ["Not a valid datetime."]}) from None
        cmd = draws.NewDraw(
            payee_id=data["payee_id"],
            draw_number=data["draw_number"],
            draw_date=data["draw_date"],
            closes_at=closes_at,
            base_price=data["base_price"],
            rematch=data["rematch"],
            second_rematch=data["second_rematch"],
            minimum_number_of_boards=data["minimum_number_of_boards"],
            maximum_number_of_boards=data["maximum_number_of_boards"],
            prizes=data["prizes"],
            timezone=self._timezone,
        )
        with backoffice.core_errors():
            outcome = draws.create(self._context(req, principal), principal, cmd)
        resp.status = 201
        resp.media = backoffice.envelope(translate.draw(outcome.result))


class DrawResults(_Resource):
    """`POST /api/v1/draws/{draw_number}/results` (ADMIN): close, evaluate, book prizes."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, draw_number: str) -> None:
        principal = self._auth.require(req, roles=(policy.ADMIN,))
        data = backoffice.load(_RESULTS, req.context.raw_body)
        with backoffice.core_errors():
            outcome = draws.record_results(
                self._context(req, principal), principal, draw_number, data["numbers"]
            )
        resp.status = 200
        resp.media = backoffice.envelope(translate.draw(outcome.result))
