"""The ledger accounts the lottery adds. The sale uses `accounts.window_cash` and
`accounts.stakes`; prizes evaluated and not yet paid sit in the payee's prize liability,
which the ticket-payment service (SPEC 6) debits when a window pays a winner."""

from __future__ import annotations

import datetime as dt

from gateway.core.ledger import CREDIT, AccountSpec, ensure_account
from gateway.core.ledger_kinds import PRIZE_LIABILITY
from gateway.store.models import Account


def prize_liability(operator: str, currency: str, now: dt.datetime) -> Account:
    """Prizes an operator's evaluated tickets won and nobody has paid yet (a liability)."""
    return ensure_account(
        AccountSpec(
            code=f"operator:{operator}:prize_liability:{currency}",
            kind=PRIZE_LIABILITY,
            currency=currency,
            normal_side=CREDIT,
            owner_type="operator",
            owner_id=operator,
            caches_balance=False,
        ),
        now,
    )
