"""The back office's operations, for the OpenAPI document (`gateway/http/openapi.py`).

Amounts are decimal numbers in currency units (`100` USD = 10000 cents inside). Answers
are `{"success": true, "data": …}` (plus `meta.cached` on an idempotent replay); errors
`{"success": false, "error": {"code", "message", "details"?}}`."""

from __future__ import annotations

from typing import Any

from adapters.backoffice import accounts_wire, auth_resources, payments_wire, schemas
from gateway.http.openapi import (
    ANY_OBJECT,
    BOOLEAN,
    INTEGER,
    STRING,
    TIMESTAMP,
    ApiDoc,
    Operation,
    Response,
    array,
    nullable,
    obj,
)

ERROR = obj(
    "success",
    "error",
    success={"const": False},
    error=obj(
        "code",
        "message",
        code={"type": "string", "description": "VALIDATION_ERROR, FORBIDDEN, TKT_PAY_001, …"},
        message=STRING,
        details={"type": "object", "description": "field -> messages"},
    ),
)


def ok(data: dict[str, Any]) -> dict[str, Any]:
    """The success envelope around `data`."""
    return obj(
        "success",
        "data",
        success={"const": True},
        data=data,
        meta=obj(cached={"type": "boolean"}),
    )


UNITS = {"type": "number", "description": "currency units, exact (e.g. 45.50)"}
ID = STRING
BANCA = obj("id", "name", id=ID, name=STRING, currency=STRING)
VENTANA = obj(
    "id", "bancaId", "name", "commissionBps", id=ID, bancaId=ID, name=STRING, commissionBps=INTEGER
)
VENDEDOR = obj(
    "id",
    "ventanaId",
    "name",
    "commissionBps",
    id=ID,
    ventanaId=ID,
    bancaId=ID,
    name=STRING,
    commissionBps=INTEGER,
)
PLAYER = obj(
    "id",
    "operator",
    "msisdn",
    "lang",
    "currency",
    "blocked",
    "balance",
    "available",
    "held",
    id=ID,
    operator=STRING,
    externalId=nullable(STRING),
    msisdn=STRING,
    lang=STRING,
    currency=STRING,
    blocked=BOOLEAN,
    ventanaId=nullable(ID),
    balance=UNITS,
    available=UNITS,
    held=UNITS,
)
TOKEN = obj("token", "expiresAt", token=STRING, playerId=ID, expiresAt=TIMESTAMP, tokenId=ID)
CASH = obj(
    "id",
    "playerId",
    "type",
    "amount",
    "currency",
    id=ID,
    playerId=ID,
    type={"enum": ["deposit", "withdrawal"]},
    amount=UNITS,
    currency=STRING,
    method=STRING,
    ventanaId=nullable(ID),
    createdAt=TIMESTAMP,
)
RECONCILIATION = obj(
    "ok",
    "checks",
    ok=BOOLEAN,
    totals=ANY_OBJECT,
    checks=array(obj("name", "ok", name=STRING, ok=BOOLEAN)),
    warnings=array(STRING),
)
OUTBOX_ENTRY = obj(
    "id",
    "state",
    "attempts",
    id=STRING,
    kind=STRING,
    type=nullable(STRING),
    to=nullable(STRING),
    state=STRING,
    attempts=INTEGER,
    nextAttemptAt=nullable(TIMESTAMP),
    lastError=nullable(STRING),
    createdAt=TIMESTAMP,
    updatedAt=TIMESTAMP,
    requestId=nullable(STRING),
    traceparent=nullable(STRING),
)
PAYMENT = obj(
    "id",
    "ticketId",
    "amountPaid",
    "method",
    "isFinal",
    "isReversed",
    id=ID,
    ticketId=ID,
    amountPaid=UNITS,
    method=STRING,
    isFinal=BOOLEAN,
    isReversed=BOOLEAN,
    pendingApproval=BOOLEAN,
    notes=nullable(STRING),
    paidById=nullable(STRING),
    ventanaId=nullable(ID),
    approvedById=nullable(STRING),
    reversedById=nullable(STRING),
    reason=nullable(STRING),
    createdAt=TIMESTAMP,
)
HISTORY = obj(
    "ticketId",
    "status",
    "totalPayout",
    "totalPaid",
    "remainingAmount",
    "payments",
    ticketId=ID,
    status={"type": "string", "description": "EVALUATED, PAID, …"},
    totalPayout=UNITS,
    totalPaid=UNITS,
    remainingAmount=UNITS,
    payments=array(PAYMENT),
)
_DIMENSION = {
    "bancaId": nullable(ID),
    "ventanaId": nullable(ID),
    "vendedorId": nullable(ID),
}
ACCOUNT_PAYMENT = obj(
    "id",
    "date",
    "time",
    "amount",
    "currency",
    "type",
    "method",
    "isReversed",
    "isFinal",
    "paidById",
    "createdAt",
    id=ID,
    date={"type": "string", "format": "date"},
    time={"type": "string", "description": "HH:MM, business timezone"},
    amount=UNITS,
    currency=STRING,
    type={"enum": ["payment", "collection"]},
    method=STRING,
    notes=nullable(STRING),
    isReversed=BOOLEAN,
    isFinal=BOOLEAN,
    paidById=STRING,
    reversedById=nullable(STRING),
    reason=nullable(STRING),
    createdAt=TIMESTAMP,
    **_DIMENSION,
)
STATEMENT_DAY = obj(
    "id",
    "date",
    "currency",
    "totalSales",
    "totalPayouts",
    "totalCommission",
    "totalPaid",
    "totalCollected",
    "balance",
    "remainingBalance",
    "isSaldado",
    id=STRING,
    date={"type": "string", "format": "date"},
    currency=STRING,
    totalSales=UNITS,
    totalPayouts=UNITS,
    totalCommission=UNITS,
    totalPaid=UNITS,
    totalCollected=UNITS,
    balance=UNITS,
    remainingBalance=UNITS,
    isSaldado=BOOLEAN,
    **_DIMENSION,
)
SETTLED = obj("payment", "statement", payment=ACCOUNT_PAYMENT, statement=STATEMENT_DAY)
SESSION = obj(
    "accessToken",
    "refreshToken",
    "expiresIn",
    accessToken=STRING,
    refreshToken=STRING,
    expiresIn=INTEGER,
)

_400 = Response("VALIDATION_ERROR (details per field) or another refusal", ERROR)
_404 = Response("Not found", ERROR)
_409 = Response("IDEMPOTENCY_KEY_REUSED or a conflicting state", ERROR)


def _created(what: str, data: dict[str, Any], example: Any = None) -> dict[int, Response]:
    return {
        201: Response(f"{what} created", ok(data), example),
        200: Response("The same request again: the first answer, meta.cached", ok(data)),
        400: _400,
        409: _409,
    }


def _list(name: str, data: dict[str, Any]) -> dict[int, Response]:
    return {200: Response(name, ok(array(data)))}


def _one(name: str, data: dict[str, Any]) -> dict[int, Response]:
    return {200: Response(name, ok(data)), 404: _404}


def _cash(kind: str) -> Operation:
    return Operation(
        "POST",
        f"/api/v1/players/{{player_id}}/{kind}",
        f"Cash {'in' if kind == 'deposits' else 'out'} across the counter ({kind[:-1]})",
        body=schemas.CashMovement,
        body_examples={"cash": {"amount": 100, "method": "cash", "idempotencyKey": "dep-000001"}},
        responses={**_created(kind[:-1].capitalize(), CASH), 404: _404},
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/api/v1/auth/login",
        "Log in: access and refresh tokens (also as cookies)",
        body=auth_resources.LoginBody,
        body_examples={"login": {"username": "cashier1", "password": "…"}},
        security=(),
        responses={
            200: Response("Tokens", ok(SESSION)),
            400: _400,
            401: Response("INVALID_CREDENTIALS", ERROR),
            429: Response("TOO_MANY_ATTEMPTS: locked for 15 minutes", ERROR),
        },
    ),
    Operation(
        "POST",
        "/api/v1/auth/refresh",
        "A new token pair for a refresh token (body or cookie); each works once",
        body=auth_resources.RefreshBody,
        security=(),
        responses={
            200: Response("Tokens", ok(SESSION)),
            400: _400,
            401: Response("Refresh token unknown, expired or reused", ERROR),
        },
    ),
    Operation("GET", "/api/v1/bancas", "Bancas", responses=_list("Bancas", BANCA)),
    Operation(
        "POST",
        "/api/v1/bancas",
        "Create a banca (ADMIN)",
        body=schemas.NewBanca,
        body_examples={"banca": {"name": "Banca Central"}},
        responses=_created("Banca", BANCA),
    ),
    Operation("GET", "/api/v1/bancas/{banca_id}", "One banca", responses=_one("Banca", BANCA)),
    Operation("GET", "/api/v1/ventanas", "Ventanas", responses=_list("Ventanas", VENTANA)),
    Operation(
        "POST",
        "/api/v1/ventanas",
        "Create a ventana (sales window) of a banca (ADMIN)",
        body=schemas.NewVentana,
        body_examples={"ventana": {"bancaId": "…", "name": "Ventana 1", "commissionBps": 350}},
        responses={**_created("Ventana", VENTANA), 404: _404},
    ),
    Operation(
        "GET", "/api/v1/ventanas/{ventana_id}", "One ventana", responses=_one("Ventana", VENTANA)
    ),
    Operation("GET", "/api/v1/vendedores", "Vendedores", responses=_list("Vendedores", VENDEDOR)),
    Operation(
        "POST",
        "/api/v1/vendedores",
        "Create a vendedor (seller) of a ventana (ADMIN)",
        body=schemas.NewVendedor,
        responses={**_created("Vendedor", VENDEDOR), 404: _404},
    ),
    Operation(
        "GET",
        "/api/v1/vendedores/{vendedor_id}",
        "One vendedor",
        responses=_one("Vendedor", VENDEDOR),
    ),
    Operation(
        "POST",
        "/api/v1/players",
        "Create a player (a wallet of one operator; ADMIN)",
        body=schemas.NewPlayer,
        body_examples={"player": {"msisdn": "+50688880001", "lang": "es", "currency": "USD"}},
        responses={**_created("Player", PLAYER), 404: _404},
    ),
    Operation(
        "GET",
        "/api/v1/players/{player_id}",
        "A player with its balances in units",
        responses=_one("Player", PLAYER),
    ),
    Operation(
        "PATCH",
        "/api/v1/players/{player_id}",
        "Block or unblock a player",
        body=schemas.PlayerPatch,
        responses={**_one("Player", PLAYER), 400: _400},
    ),
    Operation(
        "POST",
        "/api/v1/players/{player_id}/tokens",
        "A player token for the bet engine's identify",
        body=schemas.NewToken,
        responses={201: Response("Token (shown once)", ok(TOKEN)), 400: _400, 404: _404},
    ),
    _cash("deposits"),
    _cash("withdrawals"),
    Operation(
        "GET",
        "/api/v1/reconciliation",
        "Every ledger invariant checked (ADMIN); data.ok tells",
        responses={200: Response("The report", ok(RECONCILIATION))},
    ),
    Operation(
        "GET",
        "/api/v1/outbox",
        "Outbox messages by state, newest first (ADMIN; phones masked, no text)",
        query={
            "state": {"enum": ["pending", "sent", "dead"], "default": "pending"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            "before": {"type": "integer", "minimum": 1},
        },
        responses={
            200: Response(
                "A page",
                obj(
                    "success",
                    "data",
                    success={"const": True},
                    data=array(OUTBOX_ENTRY),
                    meta=obj(state=STRING, nextBefore=nullable(INTEGER)),
                ),
            ),
            400: _400,
        },
    ),
    Operation(
        "POST",
        "/api/v1/outbox/{message_id}/retry",
        "Send a dead message again (ADMIN)",
        responses={200: Response("The message", ok(OUTBOX_ENTRY)), 404: _404, 409: _409},
    ),
    Operation(
        "POST",
        "/api/v1/ticket-payments",
        "Pay a winning ticket at a window (partial or final)",
        body=payments_wire.NewPayment,
        body_examples={
            "final": {
                "ticketId": "3f2b8f9e-6a1c-4f4e-9a53-0d8a3c2b1e7f",
                "amountPaid": 150.0,
                "method": "cash",
                "isFinal": True,
                "idempotencyKey": "pay-2026-000123",
            }
        },
        responses={**_created("Payment", PAYMENT), 404: _404},
    ),
    Operation(
        "PATCH",
        "/api/v1/ticket-payments/{payment_id}",
        "Finalise a partial payment or change its notes",
        body=payments_wire.PaymentPatch,
        responses={**_one("Payment", PAYMENT), 400: _400, 409: _409},
    ),
    Operation(
        "POST",
        "/api/v1/ticket-payments/{payment_id}/reverse",
        "Reverse a payment (mirror ledger transaction)",
        body=payments_wire.Reverse,
        responses={**_one("Payment", PAYMENT), 400: _400, 409: _409},
    ),
    Operation(
        "POST",
        "/api/v1/ticket-payments/{payment_id}/approve",
        "Approve a payment waiting for a second ADMIN",
        body=payments_wire.Approve,
        responses={**_one("Payment", PAYMENT), 400: _400, 409: _409},
    ),
    Operation(
        "POST",
        "/api/v1/accounts/payment",
        "Record a payment or collection settling a window's, seller's or banca's day",
        description=(
            "Codes: FUTURE_DATE, FUTURE_TIME, INVALID_TIME_FORMAT, MISSING_DIMENSION, "
            "INVALID_AMOUNT, VALIDATION_ERROR (400); FORBIDDEN (403); NOT_FOUND (404)."
        ),
        body=accounts_wire.NewAccountPayment,
        body_examples={
            "window": {
                "date": "2026-11-30",
                "time": "14:30",
                "ventanaId": "ventana-001",
                "amount": 100000,
                "type": "payment",
                "method": "cash",
                "notes": "Pago parcial de ventas del día",
                "isFinal": False,
                "idempotencyKey": "payment-2026-11-30-001",
            }
        },
        responses={**_created("Payment", SETTLED), 404: _404},
    ),
    Operation(
        "POST",
        "/api/v1/accounts/reverse-payment",
        "Reverse an account payment (mirror ledger transaction)",
        description="Codes: PAYMENT_NOT_FOUND (404), PAYMENT_ALREADY_REVERSED (400).",
        body=accounts_wire.ReversePayment,
        responses={**_one("Reversed payment", SETTLED), 400: _400},
    ),
    Operation(
        "GET",
        "/api/v1/accounts/statements",
        "Day-by-day statements of one dimension (date, or from and to: at most 366 days)",
        query=accounts_wire.StatementQuery,
        responses={**_list("Days, oldest first", STATEMENT_DAY), 400: _400, 404: _404},
    ),
    Operation(
        "GET",
        "/api/v1/tickets/{ticket_id}/payment-history",
        "A ticket's payout, payments and what remains",
        responses={**_one("History", HISTORY), 400: _400},
    ),
)

API = ApiDoc(
    tag="back office",
    description=(
        "Sales network, players and wallets, ticket payments, outbox and reconciliation. "
        "Bearer token or accessToken cookie; amounts in currency units."
    ),
    error=ERROR,
    operations=OPERATIONS,
)
