"""Command results are frozen dataclasses stored versioned: a replay after an upgrade
rebuilds the same value (the adapter then answers the same bytes)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.core import results
from gateway.core.results import result


@result
@dataclass(frozen=True)
class Paid:
    ticket: str
    amount: int
    at: dt.datetime


@result
@dataclass(frozen=True)
class Renamed:
    """Version 2 renamed `value` to `amount`; version 1 records are upgraded on load."""

    VERSION = 2
    amount: int

    @staticmethod
    def upgrade(data: dict[str, Any], version: int) -> dict[str, Any]:
        assert version == 1
        return {"amount": data["value"]}


def test_a_result_round_trips_exactly_datetimes_included() -> None:
    paid = Paid(ticket="T-1", amount=2602, at=dt.datetime(2026, 12, 1, 13, 0, 5, 123000))
    assert results.load(results.dump(paid)) == paid


def test_the_stored_form_names_the_type_and_its_version() -> None:
    stored = json.loads(results.dump(Renamed(amount=5)))
    assert stored == {"type": "Renamed", "v": 2, "data": {"amount": 5}}


def test_an_older_version_is_upgraded_on_load() -> None:
    old = json.dumps({"type": "Renamed", "v": 1, "data": {"value": 7}})
    assert results.load(old) == Renamed(amount=7)


def test_none_is_a_result_too() -> None:
    assert results.load(results.dump(None)) is None


def test_only_registered_frozen_dataclasses_are_results() -> None:
    with pytest.raises(TypeError):
        results.dump({"id": 1})

    @dataclass
    class Mutable:
        x: int

    with pytest.raises(TypeError):
        result(Mutable)


@result
@dataclass(frozen=True)
class DayTotal:
    day: dt.date
    total: int


@result
@dataclass(frozen=True)
class WithNested:
    """A result holding other results and a list of them (an account payment and its day)."""

    first: DayTotal
    days: list[DayTotal]


def test_nested_results_and_dates_round_trip() -> None:
    value = WithNested(
        first=DayTotal(dt.date(2026, 3, 15), 132500),
        days=[DayTotal(dt.date(2026, 3, 16), -5), DayTotal(dt.date(2026, 3, 17), 0)],
    )
    back = results.load(results.dump(value))
    assert back == value
    assert isinstance(back.first.day, dt.date) and not isinstance(back.first.day, dt.datetime)
