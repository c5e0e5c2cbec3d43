"""The timestamp rules both signature schemes share (SPEC 1a, 1b).

What it is for: parsing a timestamp header as integer Unix seconds and checking it against
a two-sided window around ``now``.
What it must never do: read the clock (``now`` is always passed in) or accept a timestamp
that is not a plain integer (it is signed as the exact text sent).
"""

from __future__ import annotations

import re

from signing.errors import MALFORMED, STALE_TIMESTAMP, SignatureError

# An integer number of Unix seconds; 19 digits keeps int() far below Python's digit limit.
_TIMESTAMP_RE = re.compile(r"-?[0-9]{1,19}")


def parse_timestamp(text: str) -> int:
    """The integer value of a timestamp header, else ``SignatureError(malformed)``."""
    if not _TIMESTAMP_RE.fullmatch(text):
        raise SignatureError(MALFORMED, "timestamp is not an integer")
    return int(text)


def check_window(timestamp: int, *, now: int, tolerance_s: int) -> None:
    """``SignatureError(stale_timestamp)`` unless ``|now - timestamp| <= tolerance_s``.

    Two-sided: a timestamp too far in the future is as stale as one too far in the past.
    ``tolerance_s == 0`` turns the window off (replaying recorded traffic).
    """
    if tolerance_s < 0:
        raise ValueError("tolerance_s must be >= 0 (0 disables the window)")
    if tolerance_s and abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            STALE_TIMESTAMP,
            f"timestamp is {timestamp - now:+d} s from now, window is {tolerance_s} s",
        )
