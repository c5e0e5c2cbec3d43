"""The outbox for operators (ADMIN): `GET /api/v1/outbox?state=…&limit=…&before=…` and
`POST /api/v1/outbox/{id}/retry`. Messages are shown without their text: an SMS shows its
type and the destination masked to the last 3 digits."""

from __future__ import annotations

from typing import Any

import falcon

from adapters.backoffice import translate
from adapters.backoffice.resources import ADMIN_ONLY, _Resource
from gateway.core import outbox_admin
from gateway.core.clock import iso


def render(entry: outbox_admin.OutboxEntry) -> dict[str, Any]:
    return {
        "id": entry.message_id,
        "kind": entry.kind,
        "type": entry.type,
        "to": entry.to,
        "state": entry.state,
        "attempts": entry.attempts,
        "nextAttemptAt": iso(entry.next_attempt_at),
        "lastError": entry.last_error,
        "createdAt": iso(entry.created_at),
        "updatedAt": iso(entry.updated_at),
        "requestId": entry.request_id,
        "traceparent": entry.traceparent,
    }


class OutboxCollection(_Resource):
    """`GET /api/v1/outbox?state=dead` (default `pending`), newest first; `before` pages."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self._principal(req, ADMIN_ONLY)
        try:
            limit = req.get_param_as_int("limit", min_value=1, max_value=200, default=50)
            before = req.get_param_as_int("before", min_value=1, max_value=2**63 - 1)
        except falcon.HTTPBadRequest:
            raise translate.invalid(
                {"limit": ["limit must be 1..200 and before a positive cursor"]}
            ) from None
        state = req.get_param("state") or "pending"
        with translate.core_errors():
            page = outbox_admin.list_messages(principal, state, limit=limit or 50, before=before)
        resp.media = {
            "success": True,
            "data": [render(e) for e in page.entries],
            "meta": {"state": state, "nextBefore": page.next_before},
        }


class OutboxRetry(_Resource):
    """`POST /api/v1/outbox/{message_id}/retry`: a dead message is sent again (its retry
    schedule starts over); one already waiting is left as it is; a sent one is 409."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, message_id: str) -> None:
        principal = self._principal(req, ADMIN_ONLY)
        with translate.core_errors():
            outcome = outbox_admin.retry_message(
                self._context(req, principal), principal, message_id
            )
        resp.status = 200
        resp.media = translate.envelope(render(outcome.result))
