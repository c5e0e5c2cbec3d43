"""Falcon resources of account payments and daily statements (seed 002): thin, one per route.

Sellers are refused before the body is read (403); the body or query is validated with
`accounts_wire` (400, seed 002's codes); one `gateway.core.settlements` or `statements`
service answers; the result is rendered in the back-office envelope.
"""

from __future__ import annotations

import falcon

from adapters.backoffice import accounts_wire as wire
from adapters.backoffice import translate
from adapters.backoffice.resources import _Resource
from gateway.core import policy, settlements, statements
from gateway.core.commands import Outcome


class _SettledResource(_Resource):
    def _render(self, resp: falcon.Response, outcome: Outcome) -> None:
        if outcome.replayed:
            self._metrics.idempotent_replays.labels("backoffice").inc()
        resp.status = 201 if outcome.created and not outcome.replayed else 200
        resp.media = translate.envelope(wire.settled(outcome.result), replayed=outcome.replayed)


class AccountPayments(_SettledResource):
    """`POST /api/v1/accounts/payment` `{date, time?, bancaId|ventanaId|vendedorId, amount,
    type, method?, notes?, isFinal?, idempotencyKey}` → `{payment, statement}`."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, policy.WINDOW_STAFF)
        data = wire.load_payment(req.context.raw_body)
        with wire.core_errors():
            # the wire amount is in the banca's currency units, which only the core knows
            currency = settlements.currency_of(*data["dimension"])
            outcome = settlements.settle(
                self._context(req, principal), principal, wire.settle_command(data, currency)
            )
        self._render(resp, outcome)


class AccountPaymentReverse(_SettledResource):
    """`POST /api/v1/accounts/reverse-payment` `{paymentId, reason}`."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, policy.WINDOW_STAFF)
        data = wire.load_reverse(req.context.raw_body)
        with wire.core_errors():
            outcome = settlements.reverse(
                self._context(req, principal),
                principal,
                data["paymentId"],
                data["reason"].strip(),
            )
        self._render(resp, outcome)


class AccountStatements(_Resource):
    """`GET /api/v1/accounts/statements?date=…|from=…&to=…&(bancaId|ventanaId|vendedorId)=…`:
    the days oldest first, `remainingBalance` carried over."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, policy.WINDOW_STAFF)
        kind, ident, first, last = wire.load_query(req.params)
        with wire.core_errors():
            days = statements.statements(principal, kind, ident, first, last)
        resp.status = 200
        resp.media = translate.envelope([wire.statement(d) for d in days])
