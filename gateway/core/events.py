"""Core events for the operator (a payout waiting for approval, a paid winning ticket),
queued in the outbox in the same transaction as the money they describe.

An event is an outbox message of kind `event`; the dispatcher POSTs it, signed like the SMS
webhooks, to the operator's endpoint (`PAMGATE_EVENTS_URL`). When no endpoint is configured
nothing is queued: `configure` (called by the composition root with the configuration) turns
events on for the process. The outbox row's id is the event's id (`webhook-id` on every
attempt, so the receiver drops duplicates by it).

The payload (what the endpoint receives): `{"id", "type", "occurred_at", "data"}`; amounts
in `data` are integers in the currency's minor units (`amount_minor`, `payout_minor`,
`paid_minor`) next to their `currency`.
"""

from __future__ import annotations

import uuid
from typing import Any

from gateway.core import outbox
from gateway.core.clock import iso
from gateway.core.commands import Context
from gateway.store.models import Ticket, TicketPayment

KIND = "event"
PAYMENT_PENDING_APPROVAL = "ticket_payment.pending_approval"
TICKET_PAID = "ticket.paid"
TYPES = (PAYMENT_PENDING_APPROVAL, TICKET_PAID)

_enabled = False


def configure(*, enabled: bool) -> None:
    """Queue events from now on (an endpoint is configured), or not."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled


def emit(ctx: Context, type_: str, data: dict[str, Any]) -> str | None:
    """Queue one event inside the caller's transaction; its id, or None when events are
    off."""
    if not _enabled:
        return None
    if type_ not in TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    event_id = str(uuid.uuid4())
    payload = {
        "id": event_id,
        "type": type_,
        "occurred_at": iso(ctx.now),
        "data": data,
    }
    outbox.emit(KIND, payload, ctx.now, message_id=event_id, request_id=ctx.request_id)
    return event_id


def ticket_paid(
    ctx: Context,
    ticket: Ticket,
    *,
    method: str,
    payment_id: str | None = None,
    ventana_id: str | None = None,
) -> str | None:
    """A winning ticket became PAID (at a window, or at once to a bet-engine wallet)."""
    return emit(
        ctx,
        TICKET_PAID,
        {
            "ticket_id": ticket.id,
            "channel": ticket.channel,
            "operator": ticket.operator,
            "external_id": ticket.external_id,
            "code": ticket.code,
            "payout_minor": ticket.payout,
            "paid_minor": ticket.paid_amount,
            "currency": ticket.currency,
            "method": method,
            "payment_id": payment_id,
            "ventana_id": ventana_id,
        },
    )


def payment_pending_approval(ctx: Context, ticket: Ticket, payment: TicketPayment) -> str | None:
    """A ticket payment above the approval threshold waits for a second ADMIN."""
    return emit(
        ctx,
        PAYMENT_PENDING_APPROVAL,
        {
            "payment_id": payment.id,
            "ticket_id": ticket.id,
            "operator": ticket.operator,
            "amount_minor": payment.amount,
            "currency": payment.currency,
            "method": payment.method,
            "ventana_id": payment.ventana_id,
            "paid_by": payment.paid_by,
        },
    )
