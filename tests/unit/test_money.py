"""Exact conversion between wire amounts and integer minor units (gateway.core.money)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.money import CURRENCIES, AmountError, exponent, to_minor, to_units

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (Decimal("45.50"), "EUR", 4550),
        (Decimal("45.5"), "EUR", 4550),
        (Decimal("100"), "MXN", 10000),
        (Decimal("100.00"), "MXN", 10000),
        (Decimal("0.01"), "CRC", 1),
        (Decimal("1250.75"), "USD", 125075),
        (Decimal("-3.10"), "MXN", -310),
        (Decimal("0"), "EUR", 0),
        (Decimal("1.00000000"), "BTC", 100_000_000),
        (Decimal("0.00000001"), "BTC", 1),
        (Decimal("21000000.12345678"), "BTC", 2_100_000_012_345_678),
        ("19.99", "MXN", 1999),
        (7, "USD", 700),
    ],
)
def test_to_minor_converts_exactly(value: Decimal | str | int, currency: str, minor: int) -> None:
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "units"),
    [
        (4550, "EUR", Decimal("45.5")),
        (10000, "MXN", Decimal("100")),
        (1, "MXN", Decimal("0.01")),
        (-310, "MXN", Decimal("-3.1")),
        (0, "USD", Decimal("0")),
        (1, "BTC", Decimal("0.00000001")),
        (100_000_000, "BTC", Decimal("1")),
        (2_100_000_012_345_678, "BTC", Decimal("21000000.12345678")),
    ],
)
def test_to_units_converts_exactly(minor: int, currency: str, units: Decimal) -> None:
    assert to_units(minor, currency) == units


def test_integral_amounts_come_back_without_decimals() -> None:
    assert str(to_units(10000, "MXN")) == "100"
    assert str(to_units(4550, "EUR")) == "45.5"


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        (Decimal("10.005"), "MXN"),
        (Decimal("0.001"), "EUR"),
        ("1.999", "USD"),
        (Decimal("0.000000001"), "BTC"),
        (Decimal("1.123456789"), "BTC"),
    ],
)
def test_excess_decimals_are_refused(value: Decimal | str, currency: str) -> None:
    with pytest.raises(AmountError, match="decimals"):
        to_minor(value, currency)


def test_excess_decimals_beyond_the_decimal_context_precision_are_refused() -> None:
    """29 significant digits exceed Decimal's default precision of 28: `scaleb` rounds the
    value before the check, so the third decimal must not be rounded away."""
    with pytest.raises(AmountError):
        to_minor(Decimal("1.0000000000000000000000000001"), "MXN")


def test_amounts_beyond_64_bits_are_refused() -> None:
    """Money columns are 64-bit integers; a larger amount must not reach the database."""
    with pytest.raises(AmountError):
        to_minor(Decimal("100000000000000000000"), "MXN")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1E+5000000", AmountError),
        ("-1E+5000000", AmountError),
        ("1E-5000000", AmountError),
        ("0E+5000000", 0),
        ("0E-5000000", 0),
    ],
)
def test_huge_exponents_are_judged_without_huge_arithmetic(value: str, expected: object) -> None:
    """Eleven characters of input must not make `to_minor` build a five-million-digit
    integer (seconds of CPU; `1E+100000000` takes minutes): an amount beyond 64 bits, or a
    digit beyond the currency's decimals, is known from the exponent alone."""
    start = time.perf_counter()
    if expected is AmountError:
        with pytest.raises(AmountError):
            to_minor(value, "MXN")
    else:
        assert to_minor(value, "MXN") == expected
    assert time.perf_counter() - start < 0.25


@pytest.mark.parametrize("value", [10.5, 0.1, 1.0, float("nan"), True])
def test_floats_and_bools_are_refused(value: object) -> None:
    with pytest.raises(AmountError):
        to_minor(value, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "", "1,5", Decimal("NaN"), Decimal("Infinity"), "inf"])
def test_non_numbers_are_refused(value: str | Decimal) -> None:
    with pytest.raises(AmountError):
        to_minor(value, "EUR")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(AmountError, match="unknown currency"):
        to_minor(Decimal("1"), "XXX")
    with pytest.raises(AmountError, match="unknown currency"):
        to_units(1, "XXX")


def test_bitcoin_has_eight_decimals() -> None:
    assert exponent("BTC") == 8
    assert exponent("MXN") == 2


@given(
    currency=st.sampled_from(sorted(CURRENCIES)),
    minor=st.integers(min_value=-(10**15), max_value=10**15),
)
def test_round_trip_is_exact(currency: str, minor: int) -> None:
    assert to_minor(to_units(minor, currency), currency) == minor
    assert to_minor(str(to_units(minor, currency)), currency) == minor


@given(
    currency=st.sampled_from(sorted(CURRENCIES)),
    minor=st.integers(min_value=-INT64_MAX, max_value=INT64_MAX),
    extra=st.integers(min_value=1, max_value=9),
)
def test_any_digit_past_the_currency_exponent_is_refused(
    currency: str, minor: int, extra: int
) -> None:
    value = to_units(minor, currency) + Decimal(extra).scaleb(-(exponent(currency) + 1))
    with pytest.raises(AmountError):
        to_minor(value, currency)
