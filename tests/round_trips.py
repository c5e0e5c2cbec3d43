"""Counting round trips to PostgreSQL in tests: every `execute` on a cursor is one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


class _Spy:
    """A DB-API cursor that records every `execute`: one call, one round trip."""

    def __init__(self, cursor: Any, sent: list[str]) -> None:
        self._cursor = cursor
        self._sent = sent

    def execute(self, sql: Any, params: Any = None) -> Any:
        text = sql.decode() if isinstance(sql, bytes) else sql
        self._sent.append(text)
        if params is None:  # sqlite3 takes no None for "no parameters"
            return self._cursor.execute(sql)
        return self._cursor.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)


def record_round_trips(db: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the text of each round trip `db` makes (in any thread)."""
    trips: list[str] = []
    real = db.cursor
    monkeypatch.setattr(db, "cursor", lambda *a, **k: _Spy(real(*a, **k), trips))
    return trips
