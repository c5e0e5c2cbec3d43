"""Amounts and dates as people read and type them at the console.

Money stays integer minor units: `money()` formats them in the currency's own style
(`$50,000.00 MXN`, `₡50 000,00`, `1.234,56 €`) with integer arithmetic, and `parse_amount()`
reads what a cashier typed into minor units exactly, refusing anything ambiguous (`20,000`
for a currency of two decimals is refused, never read as twenty). No float anywhere.
"""

from __future__ import annotations

import datetime as dt
import re

from gateway.core.money import MAX_WIRE_MINOR, exponent

# currency → (prefix, suffix, thousands separator, decimal separator)
STYLES: dict[str, tuple[str, str, str, str]] = {
    "MXN": ("$", " MXN", ",", "."),
    "USD": ("US$", "", ",", "."),
    "CRC": ("₡", "", "\u00a0", ","),
    "EUR": ("", "\u00a0€", ".", ","),
    "BTC": ("₿", "", ",", "."),
}
_TYPED = re.compile(r"[0-9]{1,16}(?:[.,][0-9]{1,16})?")
_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")


class AmountProblem(ValueError):
    """What is wrong with a typed amount: `key` names the message in the catalog."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def money(minor: int, currency: str) -> str:
    prefix, suffix, group, point = STYLES.get(currency, ("", " " + currency, ",", "."))
    places = exponent(currency)
    whole, frac = divmod(abs(minor), 10**places)
    text = f"{whole:,}".replace(",", group)
    if places:
        text += point + str(frac).rjust(places, "0")
    return ("-" if minor < 0 else "") + prefix + text + suffix


def plain(minor: int, currency: str) -> str:
    """The amount as the input field takes it back: `20000.50` (no grouping, a point)."""
    places = exponent(currency)
    whole, frac = divmod(abs(minor), 10**places)
    text = str(whole) + ("." + str(frac).rjust(places, "0") if places else "")
    return ("-" if minor < 0 else "") + text


def parse_amount(typed: str, currency: str) -> int:
    """`'20000.5'` MXN → 2000050. One decimal separator (`.` or `,`), spaces ignored; more
    decimals than the currency has, grouping separators, signs and other digits refused."""
    text = _SPACES.sub("", typed)
    if not text:
        raise AmountProblem("err_amount_required")
    if not _TYPED.fullmatch(text):
        raise AmountProblem("err_amount_invalid")
    whole, _, frac = text.replace(",", ".").partition(".")
    places = exponent(currency)
    if len(frac) > places:
        raise AmountProblem("err_amount_decimals")
    minor = int(whole) * 10**places + (int(frac.ljust(places, "0")) if places else 0)
    if minor <= 0:
        raise AmountProblem("err_amount_positive")
    if minor > MAX_WIRE_MINOR:
        raise AmountProblem("err_amount_too_large")
    return minor


def when(moment: dt.datetime | None, zone: dt.tzinfo) -> str:
    """`2026-11-22 14:05` in the business time zone."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
