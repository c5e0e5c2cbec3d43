"""Recording, correcting and voiding payments of the registry.

Every payment is money in the ledger: recording it posts `payment.received` (its method's
clearing account debited, payments received credited, in the currency's minor units); a
change (`update`) posts `payment.corrected`, the difference between the postings the payment
has now and the ones it had, so the books always equal the registry; voiding (`void`)
reverses every transaction of the payment with its mirror (`ledger.reverse`), keeping the
history. Ledger transactions name the payment in `reference`.

`transaction_id` is unique among live payments (the `live_transaction_id` index decides,
so of two concurrent duplicates one commits and the other gets `DuplicateTransaction`).
Updates, voids and ticket links lock the payment row first, so a payment is never voided
while a link to it is being written. Each command is one transaction (`commands.run`),
audited. This module never renders wire names or statuses.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from peewee import IntegrityError

from gateway.core import accounts, ledger, network, policy
from gateway.core.commands import Context, Done, Outcome, run
from gateway.core.errors import Conflict, Invalid, NotFound
from gateway.core.money import MAX_WIRE_MINOR
from gateway.core.principal import Principal
from gateway.core.registry import catalog
from gateway.core.results import result
from gateway.store.database import database, locked
from gateway.store.models import (
    Account,
    LedgerTxn,
    PaymentCurrency,
    PaymentMethod,
    PaymentTicketLink,
    RegistryPayment,
)

RECEIVED = "payment.received"
CORRECTED = "payment.corrected"
# Every kind a payment's transactions may have (reconcile sums them per payment).
KINDS = (RECEIVED, CORRECTED, RECEIVED + ".reversal", CORRECTED + ".reversal")


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class DuplicateTransaction(Conflict):
    code = "transaction_id_taken"


class PaymentInUse(Invalid):
    code = "payment_in_use"


@dataclass(frozen=True)
class PaymentFields:
    """What a payment says (the body of a create or an update): `amount` in minor units of
    the currency `currency_id` names."""

    method_id: str
    currency_id: str
    transaction_id: str
    amount: int


@result
@dataclass(frozen=True)
class RegistryPaymentView:
    id: str
    method_id: str
    currency_id: str
    currency: str  # the acronym: the amount is in its minor units
    transaction_id: str
    amount: int
    created_at: dt.datetime


def view(p: RegistryPayment, currency: str) -> RegistryPaymentView:
    return RegistryPaymentView(
        id=p.id,
        method_id=p.method_id,
        currency_id=p.currency_id,
        currency=currency,
        transaction_id=p.transaction_id,
        amount=p.amount,
        created_at=p.created_at,
    )


# --- reading ---------------------------------------------------------------------------------


def visible(principal: Principal) -> object:
    """The condition selecting the live payments `principal` may see."""
    window = policy.registry_window(principal)
    live = RegistryPayment.voided == False  # noqa: E712 - SQL comparison
    return live if window is None else live & (RegistryPayment.ventana == window)


def _views(condition: object) -> list[RegistryPaymentView]:
    rows = (
        RegistryPayment.select(RegistryPayment, PaymentCurrency)
        .join(PaymentCurrency)
        .where(condition)
        .order_by(RegistryPayment.created_at, RegistryPayment.id)
    )
    return [view(p, p.currency.acronym) for p in rows]


def list_payments(principal: Principal) -> list[RegistryPaymentView]:
    """The live payments the caller sees, oldest first (voided ones stay in the ledger only)."""
    return _views(visible(principal))


def get_payment(principal: Principal, payment_id: str) -> RegistryPaymentView:
    found = _views(visible(principal) & (RegistryPayment.id == payment_id))
    if not found:
        raise PaymentNotFound("payment not found", payment=payment_id)
    return found[0]


def payments_with(principal: Principal, ids: object) -> list[RegistryPaymentView]:
    """The visible live payments whose id is in the subquery `ids` (links use it)."""
    return _views(visible(principal) & RegistryPayment.id.in_(ids))


def lock_visible(principal: Principal, payment_id: str) -> RegistryPayment:
    """The live payment row, locked until commit, if the caller may see it; else 404."""
    query = RegistryPayment.select().where(visible(principal) & (RegistryPayment.id == payment_id))
    row = locked(query).first()
    if row is None:
        raise PaymentNotFound("payment not found", payment=payment_id)
    return row


# --- the money -------------------------------------------------------------------------------


def _postings(
    method: PaymentMethod, currency: PaymentCurrency, amount: int, now: dt.datetime
) -> dict[int, tuple[Account, int]]:
    """What a payment of `amount` holds in the books: its method's clearing account debited,
    payments received credited (account id → (account, signed amount))."""
    clearing = accounts.payment_clearing(method.code, currency.acronym, now)
    received = accounts.payments_received(currency.acronym, now)
    return {clearing.id: (clearing, amount), received.id: (received, -amount)}


def _difference(
    new: dict[int, tuple[Account, int]], old: dict[int, tuple[Account, int]]
) -> list[ledger.Leg]:
    """The legs that take the books from `old` to `new` (none when they are the same)."""
    delta: dict[int, int] = defaultdict(int)
    known: dict[int, Account] = {}
    for sign, postings in ((1, new), (-1, old)):
        for account_id, (account, amount) in postings.items():
            delta[account_id] += sign * amount
            known[account_id] = account
    return [ledger.Leg(known[i], amount) for i, amount in sorted(delta.items()) if amount]


def _post(ctx: Context, kind: str, payment_id: str, legs: list[ledger.Leg], memo: str) -> None:
    ledger.post(
        kind,
        legs,
        now=ctx.now,
        reference=payment_id,
        actor=ctx.actor.id,
        request_id=ctx.request_id,
        memo=memo,
    )


def _check_amount(amount: int) -> None:
    if amount <= 0:
        raise Invalid("amount must be greater than 0", field="amount")
    if amount > MAX_WIRE_MINOR:
        raise Invalid("amount is too large", field="amount")


def _save(row: RegistryPayment, *, insert: bool = False) -> None:
    """Write the row in a savepoint: a live `transaction_id` already taken (now, or by a
    concurrent request that commits first) is `DuplicateTransaction`."""
    try:
        with database.atomic():
            row.save(force_insert=insert)
    except IntegrityError:
        raise DuplicateTransaction(
            "transaction_id already exists", field="transaction_id"
        ) from None


# --- commands --------------------------------------------------------------------------------


def record(ctx: Context, principal: Principal, fields: PaymentFields) -> Outcome:
    """A new payment and its `payment.received` transaction (created)."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        policy.registry_window(who)  # anyone else than ADMIN records at its own window
        method = catalog.method(fields.method_id)
        currency = catalog.currency(fields.currency_id)
        _check_amount(fields.amount)
        payment = RegistryPayment(
            id=str(uuid.uuid4()),
            method=method.id,
            currency=currency.id,
            transaction_id=fields.transaction_id,
            live_transaction_id=fields.transaction_id,
            amount=fields.amount,
            ventana=who.ventana_id,
            created_by=principal.user_id,
            voided=False,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        _save(payment, insert=True)
        legs = _difference(_postings(method, currency, fields.amount, ctx.now), {})
        _post(ctx, RECEIVED, payment.id, legs, method.code)
        return Done(
            view(payment, currency.acronym),
            created=True,
            target_id=payment.id,
            details={"amount": fields.amount, "currency": currency.acronym, "method": method.code},
        )

    return run(ctx, "PAYMENT_CREATE", body, target_type="registry_payment")


def update(ctx: Context, principal: Principal, payment_id: str, fields: PaymentFields) -> Outcome:
    """Replace what a live payment says; the books follow with `payment.corrected` (the
    difference), nothing when the money is unchanged."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        payment = lock_visible(who, payment_id)
        method = catalog.method(fields.method_id)
        currency = catalog.currency(fields.currency_id)
        _check_amount(fields.amount)
        before = _postings(
            PaymentMethod.get_by_id(payment.method_id),
            PaymentCurrency.get_by_id(payment.currency_id),
            payment.amount,
            ctx.now,
        )
        previous = payment.amount
        payment.method = method.id
        payment.currency = currency.id
        payment.transaction_id = fields.transaction_id
        payment.live_transaction_id = fields.transaction_id
        payment.amount = fields.amount
        payment.updated_at = ctx.now
        _save(payment)
        legs = _difference(_postings(method, currency, fields.amount, ctx.now), before)
        if legs:
            _post(ctx, CORRECTED, payment.id, legs, method.code)
        return Done(
            view(payment, currency.acronym),
            target_id=payment.id,
            details={"amount": fields.amount, "previous_amount": previous, "posted": bool(legs)},
        )

    return run(ctx, "PAYMENT_UPDATE", body, target_type="registry_payment", target_id=payment_id)


def void(ctx: Context, principal: Principal, payment_id: str) -> Outcome:
    """Delete a payment from the registry: refused while tickets are linked to it; else every
    transaction of it is reversed by its mirror and the payment leaves the lists (its
    `transaction_id` is free again)."""

    def body() -> Done:
        who = network.resolve_principal(principal)
        payment = lock_visible(who, payment_id)
        links = PaymentTicketLink.select().where(PaymentTicketLink.payment == payment.id).count()
        if links:
            raise PaymentInUse("payment is linked to tickets", links=links)
        reversed_ids = LedgerTxn.select(LedgerTxn.reverses).where(
            (LedgerTxn.reference == payment.id) & LedgerTxn.reverses.is_null(False)
        )
        originals = (
            LedgerTxn.select()
            .where(
                (LedgerTxn.reference == payment.id)
                & LedgerTxn.kind.in_([RECEIVED, CORRECTED])
                & LedgerTxn.id.not_in(reversed_ids)
            )
            .order_by(LedgerTxn.id)
        )
        mirrored = 0
        for txn in list(originals):
            ledger.reverse(
                txn, now=ctx.now, actor=ctx.actor.id, request_id=ctx.request_id, memo="voided"
            )
            mirrored += 1
        payment.voided = True
        payment.live_transaction_id = None
        payment.voided_by = principal.user_id
        payment.voided_at = ctx.now
        payment.updated_at = ctx.now
        payment.save()
        return Done(None, target_id=payment.id, details={"reversed_transactions": mirrored})

    return run(ctx, "PAYMENT_DELETE", body, target_type="registry_payment", target_id=payment_id)
