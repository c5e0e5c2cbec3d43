"""Refused unauthenticated requests, counted per partner, reason and minute.

Anyone can send a bad signature or a bad token at line rate; one audit row each measured
3,900 rows a second (about 100 GB a day), every one taking the audit chain's lock that real
traffic needs. So a refusal is only counted here, in process memory; `flush` (every few
seconds, from a background thread, and at exit) adds the counts to `rejection_tally` with one
upsert per (partner, reason, minute), so every worker of every host adds to the same row; and
`summarise` turns each minute that is over (plus a grace period for late flushes) into one
audit row with its count, then deletes the tally row. Any process may summarise (rows are
taken with `SKIP LOCKED`); `pamgate sweep` does it too.
What this must never do: write to the database on the request path.
"""

from __future__ import annotations

import atexit
import datetime as dt
import threading
from collections import Counter

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.logs import get_logger
from gateway.store import fastsql
from gateway.store.database import database, unit_of_work

log = get_logger("pamgate.rejections")

CLOSE_AFTER = dt.timedelta(minutes=2)  # a minute is summarised this long after it began
ACTIONS = {"backoffice": "auth_check"}  # tally "partner" → audit action (else signature_check)


def _minute(now: dt.datetime) -> dt.datetime:
    return now.replace(second=0, microsecond=0)


class Tally:
    """Per-process counts; see the module docstring. `flush_every_s = 0`: no thread (tests
    and tools call `flush` themselves)."""

    def __init__(self, clock: Clock, *, flush_every_s: float = 5.0) -> None:
        self._clock = clock
        self._every = flush_every_s
        self._counts: Counter[tuple[str, str, dt.datetime]] = Counter()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._at_exit = False

    def add(self, partner: str, reason: str) -> None:
        key = (partner[:100], reason[:40], _minute(self._clock.now()))
        with self._lock:
            self._counts[key] += 1
            if self._every and (self._thread is None or not self._thread.is_alive()):
                self._start()

    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def _start(self) -> None:
        if not self._at_exit:  # counts still in memory at exit are flushed then
            atexit.register(self._flush_at_exit)
            self._at_exit = True
        self._thread = threading.Thread(target=self._loop, name="pamgate-rejections", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        """Flush every few seconds; stop once nothing is counted and every minute this
        process counted has been summarised (a later refusal starts a new thread)."""
        last_minute: dt.datetime | None = None
        while True:
            self._wake.wait(self._every)
            with self._lock:
                if self._counts:
                    last_minute = max(minute for _, _, minute in self._counts)
            self._flush_quietly()
            now = self._clock.now()
            with self._lock:
                idle = not self._counts
                if idle and (last_minute is None or now >= last_minute + CLOSE_AFTER):
                    self._thread = None
                    return

    def _flush_at_exit(self) -> None:
        if self.pending():
            self._flush_quietly()

    def _flush_quietly(self) -> None:
        try:
            with database.connection_context():
                self.flush()
        except Exception as exc:  # never let bookkeeping of refusals break a worker
            log.warning("rejection_flush_failed", error=type(exc).__name__)

    def flush(self) -> int:
        """Add the counts to the shared tally, then summarise what is over; returns the
        number of audit rows written."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if counts:
            try:
                with unit_of_work(database):
                    for (partner, reason, minute), count in sorted(counts.items()):
                        fastsql.execute(
                            "INSERT INTO rejection_tally (partner, reason, minute, count) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (partner, reason, minute) "
                            "DO UPDATE SET count = rejection_tally.count + excluded.count",
                            (partner, reason, minute, count),
                        )
            except Exception:
                with self._lock:  # keep them for the next flush
                    self._counts.update(counts)
                raise
        return summarise(self._clock.now())


def summarise(now: dt.datetime, *, limit: int = 500) -> int:
    """One audit row per (partner, reason, minute) whose minute is over; safe on many hosts."""
    cutoff = _minute(now) - CLOSE_AFTER + dt.timedelta(minutes=1)
    skip = " FOR UPDATE SKIP LOCKED" if fastsql.for_update() else ""
    with unit_of_work(database):
        rows = fastsql.execute(
            "SELECT id, partner, reason, minute, count FROM rejection_tally "  # noqa: S608
            f"WHERE minute < %s ORDER BY minute, id LIMIT %s{skip}",
            (cutoff, limit),
        ).fetchall()
        for row_id, partner, reason, minute, count in rows:
            at = minute if isinstance(minute, dt.datetime) else dt.datetime.fromisoformat(minute)
            actor = Actor(
                "anonymous" if partner in ("unknown", "backoffice") else "partner", partner
            )
            audit.append(
                actor,
                ACTIONS.get(partner, "signature_check"),
                now=now,
                result=f"rejected:{reason}",
                target_type="minute",
                target_id=at.isoformat() + "Z",
                details={"count": int(count), "summary": True},
            )
            fastsql.execute("DELETE FROM rejection_tally WHERE id = %s", (row_id,))
    return len(rows)
