"""`POST /sms/notifications`: verify the Betstack signature over the raw bytes, validate the
notification, queue it in the outbox (one core call), answer at once. Delivery is the
dispatcher's (`pamgate dispatch`), after commit."""

from __future__ import annotations

from typing import Any

import falcon
from marshmallow import ValidationError

from adapters.sms import schemas, translate
from gateway.core import sms
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.errors import CoreError
from gateway.http import jsonbody
from gateway.http.metrics import Metrics
from gateway.http.signatures import PartnerGuard
from signing.betstack import OPERATOR_HEADER
from signing.keys import Partner

_ENVELOPE = schemas.Envelope()
_OTP = schemas.OtpData()
_TICKET_STATUS = schemas.TicketStatusData()
NOT_IMPLEMENTED = ("bet_result",)


class Notifications:
    def __init__(self, guard: PartnerGuard, clock: Clock, metrics: Metrics) -> None:
        self._guard = guard
        self._clock = clock
        self._metrics = metrics

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._guard.handle(
            req,
            resp,
            lambda partner: self._notify(req, resp, partner),
            operator=req.get_header(OPERATOR_HEADER),
        )

    def _notify(self, req: falcon.Request, resp: falcon.Response, partner: Partner) -> None:
        try:
            message: Any = jsonbody.decode(req.context.raw_body)
        except jsonbody.BadJSON as exc:
            raise translate.invalid(exc.details()) from None
        if not isinstance(message, dict):
            raise translate.invalid({"body": ["Request body must be a JSON object."]})
        try:
            envelope = _ENVELOPE.load(message)
        except ValidationError as exc:
            raise translate.invalid(exc.messages) from None
        kind = envelope["type"]
        if kind in NOT_IMPLEMENTED:
            raise translate.not_implemented(kind)
        schema = {"otp": _OTP, "ticket_status": _TICKET_STATUS}.get(kind)
        if schema is None:
            raise translate.invalid({"type": [f"Unknown notification type {kind!r}."]})
        try:
            data = schema.load(envelope["data"])
        except ValidationError as exc:
            raise translate.invalid({"data": exc.messages}) from None
        ctx = Context(
            actor=Actor("partner", partner.id),
            now=self._clock.now(),
            request_id=req.context.request_id,
        )
        try:
            if kind == "otp":
                outcome = sms.notify_otp(ctx, translate.otp(partner.operator, data))
            else:
                outcome = sms.notify_ticket_status(
                    ctx, translate.ticket_status(partner.operator, data)
                )
        except CoreError as exc:
            raise translate.from_core(exc, data.get("ticket_id")) from None
        if outcome.result.duplicate:
            self._metrics.idempotent_replays.labels("sms").inc()
        resp.status = 200
        resp.media = translate.RECEIVED
