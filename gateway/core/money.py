"""Currencies and exact conversion between wire amounts and integer minor units.

Inside pamgate money is always an `int` of minor units (cents, satoshi). `Decimal` appears
only here, at the API edge; floats are refused outright.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CURRENCIES: dict[str, int] = {"MXN": 2, "CRC": 2, "USD": 2, "EUR": 2, "BTC": 8}


MAX_MINOR = 2**63 - 1  # money columns are signed 64-bit integers
# Largest amount one wire field may carry (10 trillion units of a 2-decimal currency):
# far above any real bet or payment, far below where sums of a few fields could overflow.
MAX_WIRE_MINOR = 10**15


class AmountError(ValueError):
    """A wire amount that is not an exact amount of the currency."""


def exponent(currency: str) -> int:
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise AmountError(f"unknown currency {currency!r}") from None


def to_minor(value: Decimal | int | str, currency: str) -> int:
    """`Decimal('45.50')`, 'EUR' → 4550. Refuses floats, NaN and excess decimals."""
    if isinstance(value, bool | float):
        raise AmountError("amount must be an exact number, not a float")
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise AmountError(f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise AmountError("amount must be finite")
    places = exponent(currency)
    # Exact integer arithmetic on the decimal's digits: Decimal operations would round to
    # the context's 28 significant digits.
    sign, digits, exp = amount.as_tuple()
    assert isinstance(exp, int)
    coefficient = int("".join(map(str, digits)) or "0")
    if coefficient == 0:
        return 0
    # Refuse absurd exponents before computing a power of ten from them (CPU, not money).
    if exp + len(digits) - 1 > 18:  # |amount| >= 10**19 units: beyond any 64-bit amount
        raise AmountError("amount is too large")
    shift = exp + places
    if -shift > len(digits):  # a non-zero digit lies past the currency's decimals
        raise AmountError(f"{currency} allows at most {places} decimals, got {amount}")
    if shift >= 0:
        minor = coefficient * 10**shift
    elif coefficient % 10**-shift:
        raise AmountError(f"{currency} allows at most {places} decimals, got {amount}")
    else:
        minor = coefficient // 10**-shift
    minor = -minor if sign else minor
    if abs(minor) > MAX_MINOR:
        raise AmountError("amount is too large")
    return minor


def to_units(minor: int, currency: str) -> Decimal:
    """4550, 'EUR' → Decimal('45.5'); integral amounts come back without decimals."""
    value = Decimal(minor).scaleb(-exponent(currency))
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def to_units_fixed(minor: int, currency: str) -> Decimal:
    """4550, 'EUR' → Decimal('45.50'); 25000, 'BTC' → Decimal('0.00025000'): always the
    currency's decimals (format with `:f` for plain notation)."""
    return Decimal(minor).scaleb(-exponent(currency))
