"""The lottery's operations, for the OpenAPI document (`gateway/http/openapi.py`).

Purchases keep the partner's shapes: no envelope, `total_amount` a string of cents,
`payment.amount` in units; 401/403 `{"errors": ["Access denied"]}`, 422 `{"error":
"Invalid input", "details"}`. Draw administration is the back office's (its envelope,
amounts in cents)."""

from __future__ import annotations

from adapters.backoffice.openapi import ERROR as BACKOFFICE_ERROR
from adapters.backoffice.openapi import ok
from adapters.lottery import schemas
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

ERROR = {
    "anyOf": [
        obj("errors", errors=array(STRING)),
        obj("error", error=STRING, details={"type": "object"}, code=STRING),
    ]
}
DRAW_INFO = obj(
    "draw_number",
    "currency",
    "base_price",
    draw_number=STRING,
    draw_date=STRING,
    closes_at=TIMESTAMP,
    currency=STRING,
    base_price=INTEGER,
    rematch=INTEGER,
    second_rematch=INTEGER,
    minimum_number_of_boards=INTEGER,
    maximum_number_of_boards=INTEGER,
)
SALE = obj(
    "id",
    "ticket",
    "receipt",
    "status",
    "payment",
    id=STRING,
    client_id={"type": ["integer", "string", "null"]},
    ticket=obj(
        "combination_numbers",
        "draw_number",
        "total_amount",
        combination_numbers={"type": "string", "description": "boards joined by |"},
        draw_number=STRING,
        combination_count=INTEGER,
        rematch=BOOLEAN,
        second_rematch=BOOLEAN,
        total_amount={"type": "string", "description": "cents"},
        reference_number=STRING,
        security_number=STRING,
    ),
    branch=ANY_OBJECT,
    receipt=obj("ticket_image", ticket_image={"type": "string", "description": "base64 PNG"}),
    status={"const": "completed"},
    payment=obj(
        "amount",
        "currency",
        amount={"type": "number", "description": "units (100.00 MXN = 100)"},
        currency=STRING,
        status=STRING,
        pay_type=STRING,
    ),
)
DRAW = obj(
    "payee_id",
    "draw_number",
    "status",
    payee_id=STRING,
    draw_number=STRING,
    draw_date=STRING,
    closes_at=TIMESTAMP,
    status=STRING,
    numbers=nullable(array(INTEGER)),
    prizes=ANY_OBJECT,
    winners=nullable(INTEGER),
    payout_total=nullable(INTEGER),
    evaluated=nullable(INTEGER),
)
_422 = Response("Invalid input (details per field) or Company not found", ERROR)
_BO_400 = Response("VALIDATION_ERROR", BACKOFFICE_ERROR)

API = ApiDoc(
    tag="lottery",
    description="Lottery ticket sales at stores (token with lottery_tickets_create) and draws.",
    error=ERROR,
    components=(schemas.TicketRequest, schemas.Branch, schemas.PrizeTables),
    operations=(
        Operation(
            "GET",
            "/api/v1/lottery_tickets/new",
            "The active draw of a payee (company)",
            query=schemas.DrawInfoQuery,
            responses={
                200: Response("The draw (amounts in cents)", DRAW_INFO),
                404: Response("No open draw for this payee", ERROR),
                422: _422,
            },
        ),
        Operation(
            "POST",
            "/api/v1/lottery_tickets",
            "Buy a ticket; the answer carries a signed receipt with a PNG",
            body=schemas.PurchaseRequest,
            body_examples={
                "two boards": {
                    "payee_id": "…",
                    "payer_reference": "order-1001",
                    "ticket": {
                        "draw_number": "D1",
                        "combination_count": 2,
                        "rematch": True,
                        "second_rematch": True,
                        "total_amount": "6000",
                    },
                    "branch": {"name": "Store", "street": "…", "city": "…", "neighborhood": "…"},
                }
            },
            responses={200: Response("The ticket and its receipt", SALE), 422: _422},
        ),
        Operation(
            "POST",
            "/api/v1/draws",
            "Create a draw (ADMIN; amounts in cents)",
            body=schemas.NewDraw,
            responses={
                201: Response("The draw", ok(DRAW)),
                400: _BO_400,
                404: Response("Unknown payee", BACKOFFICE_ERROR),
                409: Response("Draw number taken", BACKOFFICE_ERROR),
            },
        ),
        Operation(
            "POST",
            "/api/v1/draws/{draw_number}/results",
            "Record a draw's numbers and evaluate its tickets (ADMIN)",
            body=schemas.DrawResults,
            body_examples={"numbers": {"numbers": [3, 11, 19, 27, 40, 56]}},
            responses={
                200: Response("The evaluated draw", ok(DRAW)),
                400: _BO_400,
                404: Response("Unknown draw", BACKOFFICE_ERROR),
                409: Response("Results already recorded", BACKOFFICE_ERROR),
            },
        ),
    ),
)
