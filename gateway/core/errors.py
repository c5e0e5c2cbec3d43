"""The core's error family. Each error has a stable `code`; adapters map codes to their wire
shapes in one table each. Raising any of these rolls the command's transaction back."""

from __future__ import annotations

from typing import Any


class CoreError(Exception):
    code = "core_error"

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details


class NotFound(CoreError):
    code = "not_found"


class Forbidden(CoreError):
    code = "forbidden"


class Invalid(CoreError):
    """A command that is well-formed on the wire but makes no sense (e.g. net > gross)."""

    code = "invalid"


class Conflict(CoreError):
    """The thing to create exists already (a unique key taken, e.g. by a concurrent create)."""

    code = "conflict"


class InsufficientFunds(CoreError):
    code = "insufficient_funds"


class CurrencyMismatch(CoreError):
    code = "currency_mismatch"


class Unbalanced(CoreError):
    code = "unbalanced"


class InvalidTransition(CoreError):
    code = "invalid_transition"


class IdempotencyConflict(CoreError):
    """The key was used for a different request."""

    code = "idempotency_key_reused"


class PlayerBlocked(CoreError):
    code = "player_blocked"


class UnknownPlayer(CoreError):
    code = "unknown_player"


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class DuplicateTicket(CoreError):
    code = "duplicate_ticket"


class TicketClosed(CoreError):
    code = "ticket_closed"


class NotReserved(CoreError):
    code = "not_reserved"


class AlreadyReversed(CoreError):
    code = "already_reversed"
