"""Falcon resources of the Betstack protocol: thin, one per route.

Order in every handler: verify the signature over the raw bytes, then validate the
payload with the schema, then call one core service and render its result.
"""

from __future__ import annotations

from typing import Any

import falcon
from marshmallow import ValidationError

from adapters.betengine import schemas, translate
from adapters.fastload import FastLoad
from gateway.core import betengine, players
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.errors import CoreError
from gateway.http import jsonbody
from gateway.http.metrics import Metrics
from gateway.http.signatures import PartnerGuard
from signing.betstack import OPERATOR_HEADER
from signing.keys import Partner

# the schemas, loaded without marshmallow's per-field machinery when a payload passes
_ENVELOPE = FastLoad(schemas.Envelope())
_IDENTIFY = FastLoad(schemas.IdentifyData())
_PLACE = FastLoad(schemas.PlaceData())
_UPDATE = FastLoad(schemas.UpdateData())
_EVENT = FastLoad(schemas.TicketData())


def _parse(raw: bytes) -> tuple[Any, dict[Any, Any] | None]:
    """The message and, when it is not JSON pamgate accepts, the details of why."""
    try:
        return jsonbody.decode(raw), None
    except jsonbody.BadJSON as exc:
        return None, exc.details()


def _is_ping(raw: bytes) -> bool:
    try:
        envelope = jsonbody.decode(raw)
    except jsonbody.BadJSON:
        return False
    return isinstance(envelope, dict) and envelope.get("action") == "ping"


def _empty_ok(resp: falcon.Response) -> None:
    resp.status = 200
    resp.content_type = falcon.MEDIA_JSON
    resp.text = ""


class _Base:
    def __init__(
        self, guard: PartnerGuard, clock: Clock, metrics: Metrics, reserve_ttl_s: int
    ) -> None:
        self._guard = guard
        self._clock = clock
        self._metrics = metrics
        self._reserve_ttl_s = reserve_ttl_s

    def _context(self, req: falcon.Request, partner_id: str) -> Context:
        return Context(
            actor=Actor("partner", partner_id),
            now=self._clock.now(),
            request_id=req.context.request_id,
        )


class PamWebhook(_Base):
    """`POST /pam`: every player and ticket event of the bet engine."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = req.context.raw_body
        if b"ping" in raw and _is_ping(raw):  # the one action that needs no signature
            resp.media = {"status": "ok"}
            return
        parsed: list[tuple[Any, dict[Any, Any] | None]] = []

        def message() -> tuple[Any, dict[Any, Any] | None]:
            if not parsed:  # parsed once, and only after the signature was verified
                parsed.append(_parse(raw))
            return parsed[0]

        def act(partner: Partner) -> None:
            envelope, problem = message()
            self._act(req, resp, partner, envelope if isinstance(envelope, dict) else None, problem)

        def identify() -> bool:
            envelope = message()[0]
            return isinstance(envelope, dict) and envelope.get("action") == "identify"

        self._guard.handle(req, resp, act, operator=req.get_header(OPERATOR_HEADER), fresh=identify)

    def _act(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        partner: Partner,
        envelope: dict[str, Any] | None,
        problem: str | None,
    ) -> None:
        if envelope is None:
            raise translate.invalid(problem or {"body": ["Request body must be a JSON object."]})
        try:
            env = _ENVELOPE.load(envelope)
        except ValidationError as exc:
            raise translate.invalid(exc.messages) from None
        action = env["action"]
        schema = {
            "identify": _IDENTIFY,
            "ticket_create": _PLACE,
            "ticket_reserve": _PLACE,
            "ticket_update": _UPDATE,
        }.get(action, _EVENT)
        if (
            action != "identify"
            and action not in translate.ACTIONS_PLACE
            and action not in translate.ACTIONS_EVENT
        ):
            raise translate.not_implemented(action)
        try:
            payload = schema.load(env["data"])
        except ValidationError as exc:
            raise translate.invalid(exc.messages) from None
        if payload["operator"] != partner.operator:
            raise translate.error(109, "Invalid signature", 403)
        ctx = self._context(req, partner.id)
        try:
            if action == "identify":
                resp.media = translate.identified(
                    players.identify(partner.operator, payload["token"], ctx.now)
                )
                return
            if action in translate.ACTIONS_PLACE:
                outcome = betengine.place(
                    ctx,
                    translate.place_command(partner.operator, action, payload, env["data"]),
                    reserve_ttl_s=self._reserve_ttl_s,
                )
            else:
                outcome = betengine.handle(
                    ctx, translate.event_command(partner.operator, action, payload, env["data"])
                )
        except CoreError as exc:
            raise translate.from_core(exc, payload.get("ticket_id")) from None
        if outcome.replayed:
            self._metrics.idempotent_replays.labels("betstack").inc()
        _empty_ok(resp)


class PaidTicket(_Base):
    """`POST /be/tickets/{identifier}/paid`: a reserved ticket was paid."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, identifier: str) -> None:
        def respond(partner: Partner) -> None:
            ctx = self._context(req, partner.id)
            try:
                ticket = betengine.mark_paid(ctx, partner.operator, identifier)
            except CoreError as exc:
                raise translate.from_core(exc, identifier) from None
            resp.media = translate.ticket_view(ticket)

        self._guard.handle(req, resp, respond, operator=req.get_header(OPERATOR_HEADER))


class TicketItem(_Base):
    """`GET /be/tickets/{identifier}`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, identifier: str) -> None:
        def respond(partner: Partner) -> None:
            try:
                ticket = betengine.get_ticket(partner.operator, identifier)
            except CoreError as exc:
                raise translate.from_core(exc, identifier) from None
            resp.media = translate.ticket_view(ticket)

        self._guard.handle(req, resp, respond, operator=req.get_header(OPERATOR_HEADER))


class TicketCollection(_Base):
    """`GET /be/tickets?limit=10&skip=0&user_id=…&skip_types=…&status=…`, newest first."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._guard.handle(
            req,
            resp,
            lambda partner: self._list(req, resp, partner),
            operator=req.get_header(OPERATOR_HEADER),
        )

    def _list(self, req: falcon.Request, resp: falcon.Response, partner: Partner) -> None:
        try:
            limit = req.get_param_as_int("limit", min_value=1, max_value=100, default=10)
            skip = req.get_param_as_int("skip", min_value=0, max_value=2**31 - 1, default=0)
        except falcon.HTTPBadRequest:
            raise translate.invalid({"limit": ["limit must be 1..100 and skip >= 0"]}) from None
        statuses: list[str] = []
        for name in req.get_param_as_list("status") or []:
            if name not in translate.STATUS_FILTER:
                raise translate.invalid({"status": [f"unknown status {name!r}"]})
            statuses += translate.STATUS_FILTER[name]
        rows = betengine.list_tickets(
            partner.operator,
            limit=limit or 10,
            skip=skip or 0,
            user_id=req.get_param("user_id"),
            status=statuses or None,
            skip_types=req.get_param_as_list("skip_types") or None,
        )
        resp.media = [translate.ticket_view(t) for t in rows]
