"""Ticket links of the registry: which of the caller's tickets a payment pays.

One payment may pay several tickets (a split payment) and one ticket be paid by several
payments (a mixed payment); a pair is linked once (the unique index decides: the second
link of a pair is `LinkExists`). `ticket_id` is the caller's own reference (a POS order), not
one of pamgate's tickets. Links carry no money. Linking locks the payment row, as voiding
does, so a payment is never voided while a link to it is written. Callers see and remove
only links of the payments they see (`payments.visible`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import IntegrityError

from gateway.core import network
from gateway.core.commands import Context, Done, Outcome, run
from gateway.core.errors import Conflict, NotFound
from gateway.core.principal import Principal
from gateway.core.registry import payments
from gateway.core.results import result
from gateway.store.database import database
from gateway.store.models import PaymentTicketLink, RegistryPayment


class LinkExists(Conflict):
    code = "ticket_link_exists"


class LinkNotFound(NotFound):
    code = "ticket_link_not_found"


@result
@dataclass(frozen=True)
class TicketLinkView:
    payment_id: str
    ticket_id: str
    created_at: dt.datetime


@result
@dataclass(frozen=True)
class LinksRemoved:
    ticket_id: str
    count: int


def _view(link: PaymentTicketLink) -> TicketLinkView:
    return TicketLinkView(link.payment_id, link.ticket_id, link.created_at)


def _visible_ids(principal: Principal) -> object:
    return RegistryPayment.select(RegistryPayment.id).where(payments.visible(principal))


def link(ctx: Context, principal: Principal, payment_id: str, ticket_id: str) -> Outcome:
    """Link a live payment the caller sees to a ticket (created); twice is `LinkExists`."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        payment = payments.lock_visible(who, payment_id)
        row = PaymentTicketLink(
            payment=payment.id,
            ticket_id=ticket_id,
            created_by=principal.user_id,
            created_at=ctx.now,
        )
        try:
            with database.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            raise LinkExists(
                "ticket payment relationship already exists", payment=payment_id, ticket=ticket_id
            ) from None
        return Done(_view(row), created=True, target_id=payment.id, details={"ticket": ticket_id})

    return run(
        ctx, "PAYMENT_LINK_CREATE", body, target_type="registry_payment", target_id=payment_id
    )


def tickets_of(principal: Principal, payment_id: str) -> list[TicketLinkView]:
    """The links of a payment the caller sees (404 otherwise), oldest first."""
    payments.get_payment(principal, payment_id)
    rows = (
        PaymentTicketLink.select()
        .where(PaymentTicketLink.payment == payment_id)
        .order_by(PaymentTicketLink.created_at, PaymentTicketLink.id)
    )
    return [_view(r) for r in rows]


def payments_of(principal: Principal, ticket_id: str) -> list[payments.RegistryPaymentView]:
    """The payments the caller sees that are linked to `ticket_id`, oldest first."""
    linked = PaymentTicketLink.select(PaymentTicketLink.payment).where(
        PaymentTicketLink.ticket_id == ticket_id
    )
    return payments.payments_with(principal, linked)


def unlink(ctx: Context, principal: Principal, payment_id: str, ticket_id: str) -> Outcome:
    """Remove one link (of a payment the caller sees); `LinkNotFound` when there is none."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        removed = (
            PaymentTicketLink.delete()
            .where(
                (PaymentTicketLink.payment == payment_id)
                & (PaymentTicketLink.ticket_id == ticket_id)
                & PaymentTicketLink.payment.in_(_visible_ids(who))
            )
            .execute()
        )
        if not removed:
            raise LinkNotFound(
                "ticket payment relationship not found", payment=payment_id, ticket=ticket_id
            )
        return Done(LinksRemoved(ticket_id, removed), details={"ticket": ticket_id})

    return run(
        ctx, "PAYMENT_LINK_DELETE", body, target_type="registry_payment", target_id=payment_id
    )


def unlink_ticket(ctx: Context, principal: Principal, ticket_id: str) -> Outcome:
    """Remove every link of `ticket_id` to payments the caller sees; `LinkNotFound` when
    there is none."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        removed = (
            PaymentTicketLink.delete()
            .where(
                (PaymentTicketLink.ticket_id == ticket_id)
                & PaymentTicketLink.payment.in_(_visible_ids(who))
            )
            .execute()
        )
        if not removed:
            raise LinkNotFound("ticket has no payment relationships", ticket=ticket_id)
        return Done(LinksRemoved(ticket_id, removed), details={"removed": removed})

    return run(ctx, "PAYMENT_LINKS_DELETE", body, target_type="payment_ticket", target_id=ticket_id)
