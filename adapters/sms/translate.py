"""SMS notifications ⇄ core: payloads to commands, core errors to the bet engine's codes
(the same `{"code": <int>, "message"}` shape and numbers as its PAM webhook)."""

from __future__ import annotations

from typing import Any

from gateway.core import errors, sms
from gateway.http.errors import ProtocolError

INVALID_REQUEST = (108, "Invalid request")
RECEIVED = {"message": "Notification received"}

# core error → (HTTP status, code, message)
ERROR_TABLE: dict[type[errors.CoreError], tuple[int, int, str]] = {
    errors.Invalid: (400, 108, "Invalid request"),
    errors.Forbidden: (403, 109, "Forbidden"),
}


def error(code: int, message: str, status: int = 400, **extra: Any) -> ProtocolError:
    return ProtocolError(status, {"code": code, "message": message, **extra}, reason=f"sms_{code}")


def invalid(details: Any) -> ProtocolError:
    return error(*INVALID_REQUEST, details=details)


def not_implemented(feature: str) -> ProtocolError:
    return error(100, f"{feature} feature not implemented yet")


def from_core(exc: errors.CoreError, ticket_id: str | None = None) -> ProtocolError:
    if isinstance(exc, errors.TicketNotFound):
        return error(102, f"Ticket with `{ticket_id or ''}` identifier is not found")
    for kind in type(exc).__mro__:
        if kind in ERROR_TABLE:
            status, code, message = ERROR_TABLE[kind]
            field = exc.details.get("field")
            if code == 108 and isinstance(field, str):
                return error(code, message, status, details={field: [exc.message]})
            return error(code, message, status)
    return error(*INVALID_REQUEST)


def otp(operator: str, data: dict[str, Any]) -> sms.Otp:
    return sms.Otp(operator=operator, code=data["code"], msisdn=data["msisdn"])


def ticket_status(operator: str, data: dict[str, Any]) -> sms.TicketStatus:
    return sms.TicketStatus(
        operator=operator,
        ticket_id=data["ticket_id"],
        status=data["status"],
        result=data["result"],
    )
