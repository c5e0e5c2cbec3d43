"""When a failed delivery is tried again (SPEC 5), as a pure function.

Delays after the 1st, 2nd, … failed attempt: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h,
then every 4 h while the total stays within 24 h (13 attempts in all). Each delay gets
±20 % jitter, so messages that failed together do not come back together. A `Retry-After`
from the provider sets the delay instead (capped at 1 h). After the last delay, no retry:
the message goes to the dead letters.

Nothing here reads the clock or a global random source: both are passed in.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random

FIRST_DELAYS_S = (5, 30, 120, 600, 1800, 3600, 7200)
LATER_DELAY_S = 4 * 3600
HORIZON_S = 24 * 3600
RETRY_AFTER_CAP_S = 3600
JITTER = 0.2


def _schedule() -> tuple[int, ...]:
    delays = list(FIRST_DELAYS_S)
    while sum(delays) + LATER_DELAY_S <= HORIZON_S:
        delays.append(LATER_DELAY_S)
    return tuple(delays)


SCHEDULE_S = _schedule()
MAX_ATTEMPTS = len(SCHEDULE_S) + 1


def next_attempt(
    tries: int,
    now: dt.datetime,
    rng: random.Random,
    *,
    retry_after_s: float | None = None,
) -> dt.datetime | None:
    """When to try again after `tries` failed attempts (1 for the first), or None when
    the schedule is exhausted."""
    if tries < 1 or tries > len(SCHEDULE_S):
        return None
    if retry_after_s is not None:
        return now + dt.timedelta(seconds=min(max(retry_after_s, 0.0), RETRY_AFTER_CAP_S))
    delay = SCHEDULE_S[tries - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    return now + dt.timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date, `now`
    naive UTC), or None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text[:9]))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when.astimezone(dt.UTC).replace(tzinfo=None) - now).total_seconds(), 0.0)
