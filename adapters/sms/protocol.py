"""The SMS family, declared: `/sms/…`, partner-signed (the Betstack scheme, with
`operator-name`), the bet engine's `{"code": <int>, "message"}` errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon

from adapters.sms import openapi, resources, translate
from gateway.http.protocol import Protocol


def error_body(status: int, code: str, message: str) -> Mapping[str, Any]:
    if status == 500:
        return {"code": "internal_error", "message": message}
    if status in (401, 403):
        return {"code": 109, "message": "Invalid signature" if status == 401 else message}
    return {"code": translate.INVALID_REQUEST[0], "message": message}


def mount(app: falcon.App, services: Any) -> None:
    app.add_route(
        "/sms/notifications",
        resources.Notifications(services.guard, services.clock, services.metrics),
    )


PROTOCOL = Protocol(
    name="sms",
    prefixes=("/sms",),
    caller="partner",
    error_body=error_body,
    from_core=translate.from_core,
    mount=mount,
    api=openapi.API,
)
