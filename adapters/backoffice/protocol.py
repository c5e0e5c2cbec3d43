"""The back-office family, declared: everything under `/api/v1` that no other family claims
(the default), callers with a back-office token, the `{"success": false, "error": {"code",
"message"}}` envelope, core errors mapped by `translate.from_core`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon

from adapters.backoffice import (
    accounts_resources,
    auth_resources,
    openapi,
    outbox_resources,
    payments_resources,
    resources,
    translate,
)
from gateway.http.protocol import Protocol


def error_body(status: int, code: str, message: str) -> Mapping[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


def mount(app: falcon.App, services: Any) -> None:
    args = (services.auth, services.clock, services.metrics)
    app.add_route("/api/v1/auth/login", auth_resources.Login(services.tokens, services.clock))
    app.add_route("/api/v1/auth/refresh", auth_resources.Refresh(services.tokens, services.clock))
    app.add_route("/api/v1/bancas", resources.BancaCollection(*args))
    app.add_route("/api/v1/bancas/{banca_id}", resources.BancaItem(*args))
    app.add_route("/api/v1/ventanas", resources.VentanaCollection(*args))
    app.add_route("/api/v1/ventanas/{ventana_id}", resources.VentanaItem(*args))
    app.add_route("/api/v1/vendedores", resources.VendedorCollection(*args))
    app.add_route("/api/v1/vendedores/{vendedor_id}", resources.VendedorItem(*args))
    operators = tuple(sorted({p.operator for p in services.partners if p.operator}))
    app.add_route("/api/v1/players", resources.PlayerCollection(*args, operators=operators))
    app.add_route("/api/v1/players/{player_id}", resources.PlayerItem(*args))
    app.add_route("/api/v1/players/{player_id}/tokens", resources.PlayerTokens(*args))
    app.add_route("/api/v1/players/{player_id}/deposits", resources.PlayerDeposits(*args))
    app.add_route("/api/v1/players/{player_id}/withdrawals", resources.PlayerWithdrawals(*args))
    app.add_route("/api/v1/reconciliation", resources.Reconciliation(*args))
    app.add_route("/api/v1/outbox", outbox_resources.OutboxCollection(*args))
    app.add_route("/api/v1/outbox/{message_id}/retry", outbox_resources.OutboxRetry(*args))
    threshold = services.config.payout_approval_threshold
    pay = payments_resources
    app.add_route(
        "/api/v1/ticket-payments", pay.TicketPayments(*args, approval_threshold=threshold)
    )
    app.add_route("/api/v1/ticket-payments/{payment_id}", pay.TicketPaymentItem(*args))
    app.add_route("/api/v1/ticket-payments/{payment_id}/reverse", pay.TicketPaymentReverse(*args))
    app.add_route("/api/v1/ticket-payments/{payment_id}/approve", pay.TicketPaymentApprove(*args))
    app.add_route("/api/v1/tickets/{ticket_id}/payment-history", pay.TicketPaymentHistory(*args))
    acc = accounts_resources
    app.add_route("/api/v1/accounts/payment", acc.AccountPayments(*args))
    app.add_route("/api/v1/accounts/reverse-payment", acc.AccountPaymentReverse(*args))
    app.add_route("/api/v1/accounts/statements", acc.AccountStatements(*args))


PROTOCOL = Protocol(
    name="backoffice",
    prefixes=("",),
    caller="token",
    error_body=error_body,
    from_core=translate.from_core,
    mount=mount,
    api=openapi.API,
)
