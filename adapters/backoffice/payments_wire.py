"""The wire format of ticket payments (SPEC 6, seed 000): request schemas, the core command,
the rendered payment and history, and the table from core refusals to seed 000's codes.

Amounts cross here between currency units (wire) and minor units (core), as everywhere in
the back office (`translate.minor`). Nothing here queries or decides.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from marshmallow import validate

from adapters.backoffice import schemas, translate
from adapters.text import Text
from gateway.core import errors, payouts
from gateway.core.clock import iso
from gateway.core.money import to_units

UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


class NewPayment(schemas._Strict):
    ticketId = Text(required=True, validate=schemas.FullMatch(UUID_RE, error="Must be a UUID."))
    amountPaid = schemas.Amount(required=True)
    method = Text(load_default="cash", validate=validate.OneOf(payouts.METHODS))
    isFinal = schemas.StrictBoolean(load_default=False)
    notes = Text(load_default=None, allow_none=True, validate=validate.Length(max=300))
    idempotencyKey = Text(required=True, validate=validate.Length(min=8, max=100))
    ventanaId = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))


class PaymentPatch(schemas._Strict):
    isFinal = schemas.StrictBoolean(load_default=None, allow_none=True)
    notes = Text(load_default=None, allow_none=True, validate=validate.Length(max=300))


class Reverse(schemas._Strict):
    reason = Text(
        required=True,
        validate=[
            validate.Length(min=1, max=300),
            validate.Regexp(r"\s*\S", error="Must not be blank."),
        ],
    )


class Approve(schemas._Strict):
    """`POST …/approve` takes no fields; a body, if any, must be `{}`."""


# core refusal → (HTTP status, seed 000 code); anything else as the back office maps it.
ERROR_TABLE: dict[type[errors.CoreError], tuple[int, str]] = {
    payouts.PaymentTicketNotFound: (404, "TKT_PAY_001"),
    payouts.NotAWinner: (409, "TKT_PAY_002"),
    payouts.NotPayable: (400, "TKT_PAY_003"),
    payouts.ExceedsRemaining: (400, "TKT_PAY_004"),
    payouts.PaymentInProgress: (409, "TKT_PAY_005"),
    errors.Forbidden: (403, "TKT_PAY_006"),
    payouts.PaymentNotFound: (404, "NOT_FOUND"),
    payouts.PaymentReversed: (409, "ALREADY_REVERSED"),
    payouts.NotPending: (409, "INVALID_STATE"),
}


from_core = translate.mapped(ERROR_TABLE)


def core_errors() -> AbstractContextManager[None]:
    return translate.core_errors(from_core)


def pay_command(data: dict[str, Any], currency: str) -> payouts.PayTicket:
    return payouts.PayTicket(
        ticket_id=data["ticketId"].lower(),
        amount=translate.minor(data["amountPaid"], currency, "amountPaid"),
        method=data["method"],
        is_final=data["isFinal"],
        notes=data["notes"],
        idempotency_key=data["idempotencyKey"],
        ventana_id=data["ventanaId"],
    )


def payment(v: payouts.PaymentView) -> dict[str, Any]:
    return {
        "id": v.id,
        "ticketId": v.ticket_id,
        "amountPaid": to_units(v.amount, v.currency),
        "method": v.method,
        "isFinal": v.is_final,
        "isReversed": v.is_reversed,
        "pendingApproval": v.pending_approval,
        "notes": v.notes,
        "paidById": v.paid_by,
        "ventanaId": v.ventana_id,
        "approvedById": v.approved_by,
        "reversedById": v.reversed_by,
        "reason": v.reason,
        "createdAt": iso(v.created_at),
    }


def history(h: payouts.PaymentHistory) -> dict[str, Any]:
    return {
        "ticketId": h.ticket_id,
        "status": h.status,
        "totalPayout": to_units(h.total_payout, h.currency),
        "totalPaid": to_units(h.total_paid, h.currency),
        "remainingAmount": to_units(h.remaining, h.currency),
        "payments": [payment(p) for p in h.payments],
    }
