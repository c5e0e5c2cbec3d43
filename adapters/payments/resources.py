"""Falcon resources of the payments registry: thin, one per route.

Order in every handler: authenticate with the route's permission (401 without a valid token,
403 without the permission; the token comes from `Authorization: Bearer` or the `accessToken`
cookie), validate path ids and the body (400), call one core service, render the registry API's
fields. An empty list is 204 with no body.
"""

from __future__ import annotations

from typing import Any

import falcon

from adapters.payments import schemas, translate
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.principal import Principal
from gateway.core.registry import catalog, links, payments
from gateway.http.auth import Authenticator

READ = "payments_read"
CREATE = "payments_create"
UPDATE = "payments_update"
DELETE = "payments_delete"

_PAYMENT = schemas.PaymentBody()
_LINK = schemas.LinkBody()
_LINK_QUERY = schemas.LinkQuery()


class _Resource:
    def __init__(self, auth: Authenticator, clock: Clock) -> None:
        self._auth = auth
        self._clock = clock

    def _principal(self, req: falcon.Request, permission: str) -> Principal:
        return self._auth.require(req, permission=permission)

    def _context(self, req: falcon.Request, principal: Principal) -> Context:
        return Context(
            actor=Actor("user", principal.user_id),
            now=self._clock.now(),
            request_id=req.context.request_id,
        )


def _ok(resp: falcon.Response, body: Any, status: int = 200) -> None:
    resp.status = status
    resp.media = body


def _list(resp: falcon.Response, items: list[dict[str, Any]]) -> None:
    """200 with the JSON array, or 204 with no body when it is empty."""
    if items:
        _ok(resp, items)
    else:
        resp.status = 204


def _no_content(resp: falcon.Response) -> None:
    resp.status = 204


# --- payments --------------------------------------------------------------------------------


class PaymentCollection(_Resource):
    """`GET /payments` (payments_read) and `POST /payments` (payments_create)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, READ)
        with translate.core_errors():
            found = payments.list_payments(principal)
        _list(resp, [translate.payment(p) for p in found])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, CREATE)
        fields = translate.payment_fields(translate.load(_PAYMENT, req.context.raw_body))
        with translate.core_errors():
            outcome = payments.record(self._context(req, principal), principal, fields)
        _ok(resp, translate.created(outcome.result), 201)


class PaymentItem(_Resource):
    """`GET` (payments_read), `PUT` (payments_update), `DELETE` (payments_delete)
    `/payments/{payment_id}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        principal = self._principal(req, READ)
        pid = translate.path_id(payment_id, "payment")
        with translate.core_errors():
            found = payments.get_payment(principal, pid)
        _ok(resp, translate.payment(found))

    def on_put(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        principal = self._principal(req, UPDATE)
        pid = translate.path_id(payment_id, "payment")
        fields = translate.payment_fields(translate.load(_PAYMENT, req.context.raw_body))
        with translate.core_errors():
            payments.update(self._context(req, principal), principal, pid, fields)
        _ok(resp, translate.UPDATED)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        principal = self._principal(req, DELETE)
        pid = translate.path_id(payment_id, "payment")
        with translate.core_errors():
            payments.void(self._context(req, principal), principal, pid)
        _no_content(resp)


# --- methods and currencies --------------------------------------------------------------------


class MethodCollection(_Resource):
    """`GET /payments/methods` (payments_read)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._principal(req, READ)
        _list(resp, [translate.method(m) for m in catalog.list_methods()])


class MethodItem(_Resource):
    """`GET /payments/methods/{method_id}` (payments_read)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, method_id: str) -> None:
        self._principal(req, READ)
        mid = translate.path_id(method_id, "payment method")
        with translate.core_errors():
            _ok(resp, translate.method(catalog.get_method(mid)))


class CurrencyCollection(_Resource):
    """`GET /payments/currencies` (payments_read)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._principal(req, READ)
        _list(resp, [translate.currency(c) for c in catalog.list_currencies()])


class CurrencyItem(_Resource):
    """`GET /payments/currencies/{currency_id}` (payments_read)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, currency_id: str) -> None:
        self._principal(req, READ)
        cid = translate.path_id(currency_id, "currency")
        with translate.core_errors():
            _ok(resp, translate.currency(catalog.get_currency(cid)))


# --- ticket links ----------------------------------------------------------------------------


class TicketLinks(_Resource):
    """`POST /payments/ticket-payments` `{payment_id, ticket_id}` (payments_create) and
    `DELETE /payments/ticket-payments?paymentId=…&ticketId=…` (payments_delete)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, CREATE)
        data = translate.load(_LINK, req.context.raw_body)
        with translate.core_errors():
            outcome = links.link(
                self._context(req, principal),
                principal,
                data["payment_id"].lower(),
                data["ticket_id"],
            )
        _ok(resp, translate.linked(outcome.result), 201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, DELETE)
        params = translate.query(_LINK_QUERY, req.params)
        with translate.core_errors():
            links.unlink(
                self._context(req, principal),
                principal,
                params["paymentId"].lower(),
                params["ticketId"],
            )
        _no_content(resp)


class LinksByTicket(_Resource):
    """`GET /payments/ticket-payments/by-ticket/{ticket_id}` (payments_read): the payments
    of a ticket; `DELETE` (payments_delete): every link of the ticket."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: str) -> None:
        principal = self._principal(req, READ)
        ticket = translate.ticket_ref(ticket_id)
        with translate.core_errors():
            found = links.payments_of(principal, ticket)
        _list(resp, [translate.payment(p) for p in found])

    def on_delete(self, req: falcon.Request, resp: falcon.Response, ticket_id: str) -> None:
        principal = self._principal(req, DELETE)
        ticket = translate.ticket_ref(ticket_id)
        with translate.core_errors():
            links.unlink_ticket(self._context(req, principal), principal, ticket)
        _no_content(resp)


class LinksByPayment(_Resource):
    """`GET /payments/ticket-payments/by-payment/{payment_id}` (payments_read): the tickets
    a payment pays, as `[{payment_id, ticket_id}]`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        principal = self._principal(req, READ)
        pid = translate.path_id(payment_id, "payment")
        with translate.core_errors():
            found = links.tickets_of(principal, pid)
        _list(resp, [translate.link(v) for v in found])
