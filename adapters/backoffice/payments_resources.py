"""Falcon resources of ticket payments (SPEC 6): thin, one per route.

Each handler authenticates, loads its body with `payments_wire`'s schema (400), calls one
`gateway.core.payouts` service and renders the payment in the back-office envelope; core
refusals become seed 000's codes through `payments_wire.core_errors()`.
"""

from __future__ import annotations

import falcon

from adapters.backoffice import payments_wire as wire
from adapters.backoffice import translate
from adapters.backoffice.resources import _Resource
from gateway.core import payouts, policy
from gateway.core.clock import Clock
from gateway.core.commands import Outcome
from gateway.http.auth import Authenticator
from gateway.http.metrics import Metrics

_NEW = wire.NewPayment()
_PATCH = wire.PaymentPatch()
_REVERSE = wire.Reverse()
_APPROVE = wire.Approve()


class _PaymentResource(_Resource):
    def _render(self, resp: falcon.Response, outcome: Outcome, *, created: bool = False) -> None:
        if outcome.replayed:
            self._metrics.idempotent_replays.labels("backoffice").inc()
        resp.status = 201 if created and outcome.created and not outcome.replayed else 200
        resp.media = translate.envelope(wire.payment(outcome.result), replayed=outcome.replayed)


class TicketPayments(_PaymentResource):
    """`POST /api/v1/ticket-payments` `{ticketId, amountPaid, method?, isFinal?, notes?,
    idempotencyKey, ventanaId? (ADMIN)}`: 201 new, 200 with `meta.cached` for a replay."""

    def __init__(
        self, auth: Authenticator, clock: Clock, metrics: Metrics, *, approval_threshold: int
    ) -> None:
        super().__init__(auth, clock, metrics)
        self._threshold = approval_threshold

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, policy.COUNTER_STAFF)
        data = translate.load(_NEW, req.context.raw_body)
        with wire.core_errors():
            # the wire amount is in units of the ticket's currency, which only the core knows
            currency = payouts.currency_of(data["ticketId"].lower())
            outcome = payouts.pay(
                self._context(req, principal),
                principal,
                wire.pay_command(data, currency),
                approval_threshold=self._threshold,
            )
        self._render(resp, outcome, created=True)


class TicketPaymentItem(_PaymentResource):
    """`PATCH /api/v1/ticket-payments/{payment_id}` `{isFinal?, notes?}`."""

    def on_patch(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        principal = self._principal(req, policy.COUNTER_STAFF)
        data = translate.load(_PATCH, req.context.raw_body)
        with wire.core_errors():
            outcome = payouts.update(
                self._context(req, principal),
                principal,
                payment_id,
                is_final=data["isFinal"],
                notes=data["notes"],
            )
        self._render(resp, outcome)


class TicketPaymentReverse(_PaymentResource):
    """`POST /api/v1/ticket-payments/{payment_id}/reverse` `{reason}` (ADMIN, VENTANA)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        principal = self._principal(req, policy.WINDOW_STAFF)
        data = translate.load(_REVERSE, req.context.raw_body)
        with wire.core_errors():
            outcome = payouts.reverse(
                self._context(req, principal), principal, payment_id, data["reason"].strip()
            )
        self._render(resp, outcome)


class TicketPaymentApprove(_PaymentResource):
    """`POST /api/v1/ticket-payments/{payment_id}/approve` (ADMIN other than the maker)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        principal = self._principal(req, (policy.ADMIN,))
        translate.load(_APPROVE, req.context.raw_body)
        with wire.core_errors():
            outcome = payouts.approve(self._context(req, principal), principal, payment_id)
        self._render(resp, outcome)


class TicketPaymentHistory(_Resource):
    """`GET /api/v1/tickets/{ticket_id}/payment-history`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: str) -> None:
        principal = self._principal(req, policy.COUNTER_STAFF)
        with wire.core_errors():
            found = payouts.history(principal, ticket_id)
        resp.status = 200
        resp.media = translate.envelope(wire.history(found))
