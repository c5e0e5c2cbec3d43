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
    BANCA_CASH,
    HOUSE_CASH,
    HOUSE_PAYOUTS,
    HOUSE_STAKES,
    PAYMENT_CLEARING,
    PAYMENTS_RECEIVED,
    PLAYER_WALLET,
    PRIZE_LIABILITY,
    PSP_CLEARING,
    SELLER_CASH,
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


def _busy(
    code: str,
    kind: str,
    currency: str,
    side: str,
    now: dt.datetime,
    owner: tuple[str, str] | None = None,
) -> Account:
    """An account many tickets touch: no cached balance, never row-locked, no floor."""
    owner_type, owner_id = owner or (None, None)
    return ensure_account(
        AccountSpec(
            code=code,
            kind=kind,
            currency=currency,
            normal_side=side,
            owner_type=owner_type,
            owner_id=owner_id,
            caches_balance=False,
        ),
        now,
    )


def window_cash(ventana_id: str, currency: str, now: dt.datetime) -> Account:
    """Cash in a sales window's drawer (an asset)."""
    return _busy(
        f"ventana:{ventana_id}:cash:{currency}",
        WINDOW_CASH,
        currency,
        DEBIT,
        now,
        ("ventana", ventana_id),
    )


def house_cash(currency: str, now: dt.datetime) -> Account:
    """The operator's treasury, for movements no window handles (ADMIN deposits)."""
    return _busy(f"house:cash:{currency}", HOUSE_CASH, currency, DEBIT, now)


def stakes(operator: str, currency: str, now: dt.datetime) -> Account:
    """Stakes taken by an operator's tickets (revenue)."""
    return _busy(
        f"operator:{operator}:stakes:{currency}",
        HOUSE_STAKES,
        currency,
        CREDIT,
        now,
        ("operator", operator),
    )


def payouts(operator: str, currency: str, now: dt.datetime) -> Account:
    """Gross prizes an operator's tickets won (expense)."""
    return _busy(
        f"operator:{operator}:payouts:{currency}",
        HOUSE_PAYOUTS,
        currency,
        DEBIT,
        now,
        ("operator", operator),
    )


def excise_tax(currency: str, now: dt.datetime) -> Account:
    """Excise (`ext_amount`) collected on stakes, owed to the tax authority."""
    return _busy(f"tax:excise:{currency}", TAX_LIABILITY, currency, CREDIT, now)


def withholding_tax(currency: str, now: dt.datetime) -> Account:
    """Withholding tax (`wht_amount`) kept from winnings, owed to the tax authority."""
    return _busy(f"tax:wht:{currency}", TAX_LIABILITY, currency, CREDIT, now)


def psp_clearing(psp: str, currency: str, now: dt.datetime) -> Account:
    """Money a payment service provider collected for us and has yet to settle (an asset)."""
    return _busy(f"psp:{psp}:clearing:{currency}", PSP_CLEARING, currency, DEBIT, now, ("psp", psp))


def prize_liability(operator: str, currency: str, now: dt.datetime) -> Account:
    """Prizes an operator's evaluated tickets won and nobody has paid yet (a liability the
    windows' ticket payments debit)."""
    return _busy(
        f"operator:{operator}:prize_liability:{currency}",
        PRIZE_LIABILITY,
        currency,
        CREDIT,
        now,
        ("operator", operator),
    )


def payment_clearing(method: str, currency: str, now: dt.datetime) -> Account:
    """What a payment method (the registry's `cash`, `credit_card`, `lightning`) collected in a
    currency and has yet to be settled with the house (an asset)."""
    return _busy(
        f"payments:{method}:clearing:{currency}",
        PAYMENT_CLEARING,
        currency,
        DEBIT,
        now,
        ("payment_method", method),
    )


def payments_received(currency: str, now: dt.datetime) -> Account:
    """Payments the registry recorded in a currency (what customers paid the house)."""
    return _busy(f"payments:received:{currency}", PAYMENTS_RECEIVED, currency, CREDIT, now)


def banca_cash(banca_id: str, currency: str, now: dt.datetime) -> Account:
    """What a banca received from (or paid to) its windows settling their accounts."""
    return _busy(
        f"banca:{banca_id}:cash:{currency}", BANCA_CASH, currency, DEBIT, now, ("banca", banca_id)
    )


def seller_cash(vendedor_id: str, currency: str, now: dt.datetime) -> Account:
    """What a seller settled with its window: its sales sit in the window's cash, so a
    seller's payments make this negative (what it handed over) and collections positive."""
    return _busy(
        f"vendedor:{vendedor_id}:cash:{currency}",
        SELLER_CASH,
        currency,
        DEBIT,
        now,
        ("vendedor", vendedor_id),
    )
