"""Time, injected: services ask a `Clock` for the time so tests can move it."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time as a naive UTC datetime (how the database stores it)."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class FixedClock:
    """A clock that stands still until told to move (tests, replays)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 11, 21, 12, 0, 0)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)

    def set(self, when: dt.datetime) -> None:
        self._now = when


def unix(when: dt.datetime) -> int:
    return int(when.replace(tzinfo=dt.UTC).timestamp())


def iso(when: dt.datetime | None) -> str | None:
    """ISO 8601 with milliseconds and `Z`, as every response writes times."""
    if when is None:
        return None
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
