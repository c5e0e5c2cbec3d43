"""The texts of pamgate's SMS, per language (`es`, `en`; Spanish when the player's language
is neither), rendered by the dispatcher when it sends (so a corrected template reaches
messages still waiting). `render` takes the outbox payload of an `sms` message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_LANG = "es"
LANGS = ("es", "en")

TEMPLATES: dict[str, dict[str, str]] = {
    "otp": {
        "es": "Tu código de verificación es {code}. No lo compartas con nadie.",
        "en": "Your verification code is {code}. Do not share it with anyone.",
    },
    "ticket_open": {
        "es": "Tu boleto {ticket} está abierto. ¡Buena suerte!",
        "en": "Your ticket {ticket} is open. Good luck!",
    },
    "ticket_won": {
        "es": "¡Felicidades! Tu boleto {ticket} ganó {amount}.",
        "en": "Congratulations! Your ticket {ticket} won {amount}.",
    },
    "ticket_lost": {
        "es": "Tu boleto {ticket} no resultó ganador esta vez.",
        "en": "Your ticket {ticket} did not win this time.",
    },
    "ticket_void": {
        "es": "Tu boleto {ticket} fue anulado; se te devuelve lo que pagaste.",
        "en": "Your ticket {ticket} was voided; what you paid is refunded.",
    },
    "ticket_pending": {
        "es": "Tu boleto {ticket} espera su resultado.",
        "en": "Your ticket {ticket} is awaiting its result.",
    },
}


def template_for(kind: str, status: str | None = None, result: str | None = None) -> str:
    """The template name of a notification (`ticket_status` by its status and result)."""
    if kind != "ticket_status":
        return kind
    if status == "open":
        return "ticket_open"
    return {"won": "ticket_won", "lost": "ticket_lost", "void": "ticket_void"}.get(
        result or "", "ticket_pending"
    )


def render(payload: Mapping[str, Any]) -> str:
    """The text of an `sms` outbox payload: `{"template", "lang", "vars"}`."""
    texts = TEMPLATES[payload["template"]]
    lang = payload.get("lang") if payload.get("lang") in LANGS else DEFAULT_LANG
    return texts[str(lang)].format(**payload.get("vars", {}))
