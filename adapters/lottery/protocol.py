"""The lottery family, declared: `/api/v1/lottery_tickets`, callers with a back-office token
(permission `lottery_tickets_create` to sell), seed 003's error shapes (`{"errors":
["Access denied"]}` for 401/403, `{"error": "Invalid input", "details"}` and `{"error":
"Company not found"}` for 422), core errors mapped by `translate.from_core`.

It also mounts the draw administration routes (`/api/v1/draws…`, ADMIN): those paths belong
to the back office's family and answer in its envelope and error shape."""

from __future__ import annotations

from typing import Any

import falcon

from adapters.lottery import openapi, resources, translate
from gateway.core.lottery import TIMEZONE
from gateway.http.protocol import Protocol


def mount(app: falcon.App, services: Any) -> None:
    args = (services.auth, services.clock, services.metrics, services.keys, TIMEZONE)
    app.add_route("/api/v1/lottery_tickets", resources.TicketCollection(*args))
    app.add_route("/api/v1/lottery_tickets/new", resources.DrawInfo(*args))
    app.add_route("/api/v1/draws", resources.DrawCollection(*args))
    app.add_route("/api/v1/draws/{draw_number}/results", resources.DrawResults(*args))


PROTOCOL = Protocol(
    name="lottery",
    prefixes=("/api/v1/lottery_tickets",),
    caller="token",
    error_body=translate.error_body,
    from_core=translate.from_core,
    mount=mount,
    api=openapi.API,
)
