"""The payments registry's operations, for the OpenAPI document (`gateway/http/openapi.py`).

Amounts are decimal numbers in currency units; an empty list is 204 with no body; every
error is `{"error": message}` (a validation error adds `details`)."""

from __future__ import annotations

from typing import Any

from adapters.payments import schemas
from gateway.http.openapi import STRING, ApiDoc, Operation, Response, array, obj

ERROR = obj("error", error=STRING, details={"type": "object"})
PAYMENT = obj(
    "id",
    "method_id",
    "currency_id",
    "transaction_id",
    "amount",
    id=STRING,
    method_id=STRING,
    currency_id=STRING,
    transaction_id=STRING,
    amount={"type": "number", "description": "currency units"},
)
METHOD = obj("id", "name", id=STRING, name=STRING)
CURRENCY = obj("id", "acronym", id=STRING, acronym=STRING)
LINK = obj("payment_id", "ticket_id", payment_id=STRING, ticket_id=STRING)

_400 = Response("Invalid request (details per field)", ERROR)
_404 = Response("Not found", ERROR)
_EMPTY = Response("Nothing to list (no body)")


def _list(what: str, item: dict[str, Any]) -> dict[int, Response]:
    return {200: Response(what, array(item)), 204: _EMPTY, 400: _400, 404: _404}


def _one(what: str, item: dict[str, Any]) -> dict[int, Response]:
    return {200: Response(what, item), 400: _400, 404: _404}


API = ApiDoc(
    tag="payments registry",
    description=(
        "Payments recorded by points of sale (permissions payments_read, payments_create, "
        "payments_update, payments_delete); amounts in currency units."
    ),
    error=ERROR,
    operations=(
        Operation("GET", "/payments", "Live payments", responses=_list("Payments", PAYMENT)),
        Operation(
            "POST",
            "/payments",
            "Record a payment (a ledger transaction)",
            body=schemas.PaymentBody,
            responses={
                201: Response("Recorded", obj("id", "message", id=STRING, message=STRING)),
                400: _400,
                409: Response("transaction_id already exists", ERROR),
            },
        ),
        Operation(
            "GET", "/payments/{payment_id}", "One payment", responses=_one("Payment", PAYMENT)
        ),
        Operation(
            "PUT",
            "/payments/{payment_id}",
            "Correct a payment (the difference is posted)",
            body=schemas.PaymentBody,
            responses={
                200: Response("Updated", {"type": "string"}, "Payment updated successfully"),
                400: _400,
                404: _404,
                409: Response("transaction_id already exists", ERROR),
            },
        ),
        Operation(
            "DELETE",
            "/payments/{payment_id}",
            "Void a payment (mirror transaction); refused while ticket links exist",
            responses={204: Response("Voided"), 400: _400, 404: _404},
        ),
        Operation("GET", "/payments/methods", "Methods", responses=_list("Methods", METHOD)),
        Operation(
            "GET", "/payments/methods/{method_id}", "One method", responses=_one("Method", METHOD)
        ),
        Operation(
            "GET", "/payments/currencies", "Currencies", responses=_list("Currencies", CURRENCY)
        ),
        Operation(
            "GET",
            "/payments/currencies/{currency_id}",
            "One currency",
            responses=_one("Currency", CURRENCY),
        ),
        Operation(
            "POST",
            "/payments/ticket-payments",
            "Link a payment to a ticket reference (split and mixed payments)",
            body=schemas.LinkBody,
            responses={
                201: Response(
                    "Linked",
                    obj("paymentId", "ticketId", paymentId=STRING, ticketId=STRING, message=STRING),
                ),
                400: _400,
                404: _404,
                409: Response("Already linked", ERROR),
            },
        ),
        Operation(
            "DELETE",
            "/payments/ticket-payments",
            "Remove a link (paymentId and ticketId in the query)",
            query=schemas.LinkQuery,
            responses={204: Response("Removed"), 400: _400, 404: _404},
        ),
        Operation(
            "GET",
            "/payments/ticket-payments/by-ticket/{ticket_id}",
            "Payments linked to a ticket reference",
            responses=_list("Payments", PAYMENT),
        ),
        Operation(
            "DELETE",
            "/payments/ticket-payments/by-ticket/{ticket_id}",
            "Remove every link of a ticket reference",
            responses={204: Response("Removed"), 400: _400, 404: _404},
        ),
        Operation(
            "GET",
            "/payments/ticket-payments/by-payment/{payment_id}",
            "Links of a payment",
            responses=_list("Links", LINK),
        ),
    ),
)
