"""The Betstack family, declared: `/pam` and `/be/…`, partner-signed, Betstack's
`{"code": <int>, "message"}` errors (108 for anything generic, 109 for every refusal of
the caller, `internal_error` for a fault), core errors mapped by `translate.from_core`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon

from adapters.betengine import openapi, resources, translate
from gateway.http.protocol import Protocol


def error_body(status: int, code: str, message: str) -> Mapping[str, Any]:
    if status == 500:
        return {"code": "internal_error", "message": message}
    if status in (401, 403):  # the caller is refused: "Invalid signature" unless said
        return {"code": 109, "message": "Invalid signature" if status == 401 else message}
    return {"code": translate.INVALID_REQUEST[0], "message": message}


def mount(app: falcon.App, services: Any) -> None:
    args = (services.guard, services.clock, services.metrics, services.config.reserve_ttl_s)
    app.add_route("/pam", resources.PamWebhook(*args))
    app.add_route("/be/tickets", resources.TicketCollection(*args))
    app.add_route("/be/tickets/{identifier}", resources.TicketItem(*args))
    app.add_route("/be/tickets/{identifier}/paid", resources.PaidTicket(*args))


PROTOCOL = Protocol(
    name="betstack",
    prefixes=("/pam", "/be"),
    caller="partner",
    error_body=error_body,
    from_core=translate.from_core,
    mount=mount,
    api=openapi.API,
)
