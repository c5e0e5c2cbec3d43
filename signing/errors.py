"""The one exception of ``signing/``: why a signature was refused.

What it is for: ``SignatureError.reason`` is a stable code that middleware maps to the
protocol's wire error and to the ``pamgate_signature_failures_total{reason}`` metric.
What it must never do: carry a secret, a key or a signature value in ``detail`` (it goes
to logs); the caller never sees either field (SPEC 1a: failures answer a fixed message).
"""

from __future__ import annotations

MISSING_HEADER = "missing_header"
BAD_SIGNATURE = "bad_signature"
STALE_TIMESTAMP = "stale_timestamp"
UNKNOWN_PARTNER = "unknown_partner"
INACTIVE_KEY = "inactive_key"
MALFORMED = "malformed"

REASONS: tuple[str, ...] = (
    MISSING_HEADER,
    BAD_SIGNATURE,
    STALE_TIMESTAMP,
    UNKNOWN_PARTNER,
    INACTIVE_KEY,
    MALFORMED,
)


class SignatureError(Exception):
    """A request's signature was refused; ``reason`` is one of ``REASONS``."""

    reason: str
    detail: str

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown signature failure reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
