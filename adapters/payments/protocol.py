"""The payments registry's family, declared: everything under `/payments`, callers with a
back-office token (from `Authorization: Bearer` or the `accessToken` cookie) holding the
route's `payments_*` permission, the registry API's `{"error": message}` bodies for every error,
core errors mapped by `translate.from_core`."""

from __future__ import annotations

from typing import Any

import falcon

from adapters.payments import openapi, resources, translate
from gateway.http.protocol import Protocol


def mount(app: falcon.App, services: Any) -> None:
    args = (services.auth, services.clock)
    app.add_route("/payments", resources.PaymentCollection(*args))
    app.add_route("/payments/{payment_id}", resources.PaymentItem(*args))
    app.add_route("/payments/methods", resources.MethodCollection(*args))
    app.add_route("/payments/methods/{method_id}", resources.MethodItem(*args))
    app.add_route("/payments/currencies", resources.CurrencyCollection(*args))
    app.add_route("/payments/currencies/{currency_id}", resources.CurrencyItem(*args))
    app.add_route("/payments/ticket-payments", resources.TicketLinks(*args))
    app.add_route("/payments/ticket-payments/by-ticket/{ticket_id}", resources.LinksByTicket(*args))
    app.add_route(
        "/payments/ticket-payments/by-payment/{payment_id}", resources.LinksByPayment(*args)
    )


PROTOCOL = Protocol(
    name="payments",
    prefixes=("/payments",),
    caller="token",
    error_body=translate.error_body,
    from_core=translate.from_core,
    mount=mount,
    api=openapi.API,
)
