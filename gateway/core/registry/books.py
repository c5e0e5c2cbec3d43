"""The registry against the ledger, per currency: what the live payments add up to, what
the payments-received account holds, and what each method's clearing account holds. The
three agree unless the books were changed behind the registry's back (`reconcile` checks it
payment by payment). Reads only, in one snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from gateway.core.ledger import balance_of
from gateway.core.ledger_kinds import PAYMENT_CLEARING, PAYMENTS_RECEIVED
from gateway.store.database import read_snapshot
from gateway.store.models import Account, PaymentCurrency, RegistryPayment


@dataclass(frozen=True)
class CurrencyBooks:
    currency: str
    payments: int  # live payments in the registry
    registry_total: int  # their amounts, minor units
    received: int  # balance of `payments:received:<currency>`
    clearing: dict[str, int]  # method code → balance of its clearing account

    @property
    def agrees(self) -> bool:
        return self.registry_total == self.received == sum(self.clearing.values())


def books() -> list[CurrencyBooks]:
    """One line per currency with payments or accounts, in the catalogue's order."""
    with read_snapshot():
        live = RegistryPayment.voided == False  # noqa: E712 - SQL comparison
        totals = {
            row.acronym: (int(row.n), int(row.total or 0))
            for row in RegistryPayment.select(
                PaymentCurrency.acronym,
                fn.COUNT(RegistryPayment.id).alias("n"),
                fn.SUM(RegistryPayment.amount).alias("total"),
            )
            .join(PaymentCurrency)
            .where(live)
            .group_by(PaymentCurrency.acronym)
            .objects()
        }
        received: dict[str, int] = {}
        clearing: dict[str, dict[str, int]] = {}
        for account in Account.select().where(
            Account.kind.in_([PAYMENT_CLEARING, PAYMENTS_RECEIVED])
        ):
            balance = balance_of(account).balance
            if account.kind == PAYMENTS_RECEIVED:
                received[account.currency] = balance
            else:
                clearing.setdefault(account.currency, {})[account.owner_id] = balance
        order = [c.acronym for c in PaymentCurrency.select().order_by(PaymentCurrency.created_at)]
        used = set(totals) | set(received) | set(clearing)
        return [
            CurrencyBooks(
                currency=code,
                payments=totals.get(code, (0, 0))[0],
                registry_total=totals.get(code, (0, 0))[1],
                received=received.get(code, 0),
                clearing=dict(sorted(clearing.get(code, {}).items())),
            )
            for code in order
            if code in used
        ]
