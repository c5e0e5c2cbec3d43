"""Token buckets shared by every dispatcher, on whichever hosts they run (SPEC 5).

Each bucket is one row (`rate_bucket`): GCRA keeps a single time per key, the
*theoretical arrival time* (`tat`) of the next message. A message may go when
`tat - now <= (burst - 1) * interval`; sending it moves `tat` on by one interval. Rows are
row-locked inside the caller's transaction, in key order (no deadlock between
dispatchers), so two dispatchers never spend one token twice.

`admit` decides a whole batch at once: each message needs a token of every bucket it names
(its provider and its phone number); one that cannot have them all now waits (the time
its tokens free up is returned), it is never dropped, and spends nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.store import fastsql
from gateway.store.models import RateBucket

_TABLE = RateBucket._meta.table_name


@dataclass(frozen=True)
class Limit:
    rate_per_s: float  # tokens added per second
    burst: int  # tokens that may be spent at once

    @property
    def interval(self) -> dt.timedelta:
        return dt.timedelta(seconds=1.0 / self.rate_per_s)

    @property
    def tolerance(self) -> dt.timedelta:
        return self.interval * (max(self.burst, 1) - 1)


@dataclass(frozen=True)
class Need:
    """One message's tokens: (bucket key, its limit) for each bucket it must pass."""

    buckets: tuple[tuple[str, Limit], ...]


def _lock(keys: Sequence[str], now: dt.datetime) -> dict[str, dt.datetime]:
    """Create the buckets that do not exist yet and lock them all, in key order; their
    `tat`s. Two statements, whatever the number of keys."""
    ordered = sorted(set(keys))
    rows = ", ".join(["(%s, %s)"] * len(ordered))
    fastsql.execute(
        f'INSERT INTO {_TABLE} ("key", tat) VALUES {rows} '  # noqa: S608 - identifiers
        'ON CONFLICT ("key") DO NOTHING',
        [value for key in ordered for value in (key, now)],
    )
    marks = ", ".join(["%s"] * len(ordered))
    found = fastsql.execute(
        f'SELECT "key", tat FROM {_TABLE} WHERE "key" IN ({marks}) '  # noqa: S608 - identifiers
        'ORDER BY "key"' + fastsql.for_update(),
        ordered,
    ).fetchall()
    return {key: _datetime(tat) for key, tat in found}


def _store(tats: dict[str, dt.datetime]) -> None:
    """Write the new `tat`s back in one statement."""
    if not tats:
        return
    rows = ", ".join(["(%s, %s)"] * len(tats))
    fastsql.execute(
        f"WITH v (k, t) AS (VALUES {rows}) "  # noqa: S608 - identifiers
        f'UPDATE {_TABLE} SET tat = (SELECT v.t FROM v WHERE v.k = {_TABLE}."key") '
        f'WHERE "key" IN (SELECT k FROM v)',
        [value for key, tat in tats.items() for value in (key, tat)],
    )


def _datetime(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def admit(needs: Sequence[Need], now: dt.datetime) -> list[dt.datetime | None]:
    """For each need, in order: None (its tokens are taken: send now) or the time to try
    again. Runs inside the caller's transaction."""
    if not needs:
        return []
    keys = [key for need in needs for key, _ in need.buckets]
    tats = _lock(keys, now)
    start = dict(tats)
    answers: list[dt.datetime | None] = []
    for need in needs:
        waits = [
            max(tats[key], now) - limit.tolerance
            for key, limit in need.buckets
            if max(tats[key], now) - limit.tolerance > now
        ]
        if waits:
            answers.append(max(waits))
            continue
        for key, limit in need.buckets:
            tats[key] = max(tats[key], now) + limit.interval
        answers.append(None)
    _store({key: tat for key, tat in tats.items() if tat != start[key]})
    return answers
