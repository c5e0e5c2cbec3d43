"""Which ledger account holds what: one function per account type, so account codes,
normal sides and floors are decided in one place.

Only player wallets cache their balance (they have a floor to enforce under a row lock).
House, tax, clearing and window cash accounts are touched by every ticket of their kind:
they derive their balance from the entries and are never locked, so concurrent tickets
of different players never queue behind one row."""

from __future__ import annotations

import datetime as dt

from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, ensure_account
from gateway.core.ledger_kinds import (
    HOUSE_CASH,
    HOUSE_PAYOUTS,
    HOUSE_STAKES,
    PLAYER_WALLET,
    PRIZE_LIABILITY,
    PSP_CLEARING,
    TAX_LIABILITY,
    WINDOW_CASH,
)
from gateway.store.models import Account


def player_wallet(player_id: str, currency: str, now: dt.datetime) -> Account:
    """What the operator owes the player: a liability that may not go below zero."""
    return ensure_account(
        AccountSpec(
            code=f"player:{player_id}:wallet:{currency}",
            kind=PLAYER_WALLET,
            currency=currency,
            normal_side=CREDIT,
            floor=0,
            owner_type="player",
            owner_id=player_id,
        ),
        now,
    )


def window_cash(ventana_id: str, currency: str, now: dt.datetime) -> Account:
    """Cash in a sales window's drawer (an asset)."""
    return ensure_account(
        AccountSpec(
            code=f"ventana:{ventana_id}:cash:{currency}",
            kind=WINDOW_CASH,
            currency=currency,
            normal_side=DEBIT,
            owner_type="ventana",
            owner_id=ventana_id,
            caches_balance=False,
        ),
        now,
    )


def house_cash(currency: str, now: dt.datetime) -> Account:
    """The operator's treasury, for movements no window handles (ADMIN deposits)."""
    return ensure_account(
        AccountSpec(
            code=f"house:cash:{currency}",
            kind=HOUSE_CASH,
            currency=currency,
            normal_side=DEBIT,
            caches_balance=False,
        ),
        now,
    )


def stakes(operator: str, currency: str, now: dt.datetime) -> Account:
    """Stakes taken by an operator's tickets (revenue)."""
    return ensure_account(
        AccountSpec(
            code=f"operator:{operator}:stakes:{currency}",
            kind=HOUSE_STAKES,
            currency=currency,
            normal_side=CREDIT,
            owner_type="operator",
            owner_id=operator,
            caches_balance=False,
        ),
        now,
    )


def payouts(operator: str, currency: str, now: dt.datetime) -> Account:
    """Gross prizes an operator's tickets won (expense)."""
    return ensure_account(
        AccountSpec(
            code=f"operator:{operator}:payouts:{currency}",
            kind=HOUSE_PAYOUTS,
            currency=currency,
            normal_side=DEBIT,
            owner_type="operator",
            owner_id=operator,
            caches_balance=False,
        ),
        now,
    )


def excise_tax(currency: str, now: dt.datetime) -> Account:
    """Excise (`ext_amount`) collected on stakes, owed to the tax authority."""
    return ensure_account(
        AccountSpec(
            code=f"tax:excise:{currency}",
            kind=TAX_LIABILITY,
            currency=currency,
            normal_side=CREDIT,
            caches_balance=False,
        ),
        now,
    )


def withholding_tax(currency: str, now: dt.datetime) -> Account:
    """Withholding tax (`wht_amount`) kept from winnings, owed to the tax authority."""
    return ensure_account(
        AccountSpec(
            code=f"tax:wht:{currency}",
            kind=TAX_LIABILITY,
            currency=currency,
            normal_side=CREDIT,
            caches_balance=False,
        ),
        now,
    )


def psp_clearing(psp: str, currency: str, now: dt.datetime) -> Account:
    """Money a payment service provider collected for us and has yet to settle (an asset)."""
    return ensure_account(
        AccountSpec(
            code=f"psp:{psp}:clearing:{currency}",
            kind=PSP_CLEARING,
            currency=currency,
            normal_side=DEBIT,
            owner_type="psp",
            owner_id=psp,
            caches_balance=False,
        ),
        now,
    )


def prize_liability(operator: str, currency: str, now: dt.datetime) -> Account:
    """Prizes an operator's evaluated tickets won and nobody has paid yet (a liability the
    windows' ticket payments debit)."""
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
