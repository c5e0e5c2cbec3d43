"""Partner authentication for the signed routes (`/pam`, `/be/…`, `/sms/…`).

Resources hand their work to `PartnerGuard.handle(req, resp, operator, respond)`: it
verifies the signature over the raw bytes, then runs `respond(partner)` inside the request's
one transaction together with the once-only record of the signature (gateway.core.replays):
a byte-identical retry answers the first response and runs nothing; the signature on any
other request is refused. The request first runs assuming it is new (`fastsql.optimistically`:
on PostgreSQL its claims ride with its next statement; on SQLite they wait, with its
transaction, for its first write, so its reads and validation run outside the writers'
lock); a repeat gives that attempt up and the request runs again, checking each claim at
once.

A refusal answers 403 in the family's shape (Betstack: `{"code": 109, …}`) and never says
which check failed; the reason goes
to the log (never a secret or signature), to `pamgate_signature_failures_total` and to the
per-minute rejection tally (gateway.core.rejections): no row is written per refused request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import falcon
import simplejson

from config.partners import PartnerDirectory
from gateway.core import replays
from gateway.core.clock import Clock, unix
from gateway.core.commands import Refusal, request_transaction
from gateway.core.rejections import Tally
from gateway.http.errors import ProtocolError
from gateway.http.metrics import Metrics
from gateway.http.protocol import Protocols
from gateway.logs import get_logger
from gateway.store import fastsql
from gateway.store.database import database, unit_of_work
from signing import betstack, standard_webhooks
from signing.errors import (
    BAD_SIGNATURE,
    INACTIVE_KEY,
    MALFORMED,
    MISSING_HEADER,
    STALE_TIMESTAMP,
    UNKNOWN_PARTNER,
    SignatureError,
)
from signing.keys import Partner

log = get_logger("pamgate.signatures")

REUSED = "signature_reused"
# When several partners were tried, the refusal names the most telling reason.
_TELLING = (
    STALE_TIMESTAMP,
    INACTIVE_KEY,
    BAD_SIGNATURE,
    MALFORMED,
    MISSING_HEADER,
    UNKNOWN_PARTNER,
)


@dataclass(frozen=True)
class _Verified:
    partner: Partner
    once_key: str  # the signature (Betstack) or "id:" + webhook-id (Standard Webhooks)
    message: bytes  # exactly what the signature covers


def _capture(resp: falcon.Response) -> dict[str, Any]:
    """The response as its bytes will be sent (exact decimals kept)."""
    if resp.text is not None:
        return {"text": resp.text}
    return {
        "text": simplejson.dumps(
            resp.media, use_decimal=True, ensure_ascii=False, separators=(",", ":")
        )
    }


def _reset(resp: falcon.Response) -> Callable[[], None]:
    """Put `resp` back as it is now: before the careful run of a request whose first,
    optimistic, attempt was lost (`fastsql.optimistically`) after it had answered."""
    headers = resp.headers
    status = resp.status

    def reset() -> None:
        for name in resp.headers:
            if name not in headers:
                resp.delete_header(name)
        resp.set_headers(headers)
        resp.status = status
        resp.text = None
        resp.data = None
        resp.media = None

    return reset


def _restore(resp: falcon.Response, stored: replays.Stored) -> None:
    body = stored.response or {}
    if "error" in body:
        raise ProtocolError(stored.status, body["error"], reason="replayed_refusal")
    resp.status = stored.status
    resp.content_type = falcon.MEDIA_JSON
    resp.text = body.get("text", "")


class PartnerGuard:
    def __init__(
        self,
        partners: PartnerDirectory,
        clock: Clock,
        metrics: Metrics,
        tally: Tally,
        protocols: Protocols,
    ) -> None:
        self._partners = partners
        self._protocols = protocols
        self._clock = clock
        self._metrics = metrics
        self._tally = tally

    def handle(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        respond: Callable[[Partner], None],
        *,
        operator: str | None = None,
        fresh: Callable[[], bool] = lambda: False,
    ) -> None:
        """Verify the raw bytes, then run `respond(partner)` once per signed message (see
        module doc). `operator`: the operator the request names outside its body (the
        `operator-name` header), which picks the partner; without it every partner's keys
        are tried, so nothing of the body is read before it is verified. `fresh()`, asked
        after verification: a read sent as a POST (`identify`), answered anew each time."""
        verified = self._verify(req, operator)
        partner = verified.partner
        req.context.partner = partner.id
        now = self._clock.now()
        target = req.path + ("?" + req.query_string if req.query_string else "")
        signed = replays.signed_request(
            partner.id,
            verified.once_key,
            method=req.method,
            target=target,
            message=verified.message,
            now=now,
            tolerance_s=partner.tolerance_s,
            fresh=fresh(),
        )
        reset = _reset(resp)

        def before_retry() -> None:
            reset()
            self._metrics.careful_reruns.inc()

        fastsql.optimistically(
            lambda: self._attempt(req, resp, respond, partner, signed, now),
            before_retry=before_retry,
        )

    def _attempt(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        respond: Callable[[Partner], None],
        partner: Partner,
        signed: replays.SignedRequest,
        now: dt.datetime,
    ) -> None:
        """The request's one transaction: claim the signature, answer, remember the answer."""
        refusal = Refusal()
        try:
            with request_transaction() as refusal:
                claim = replays.claim(signed, now)
                if claim.replay is not None:
                    self._metrics.idempotent_replays.labels("signature").inc()
                    log.info("signed_message_replayed", partner=partner.id)
                    _restore(resp, claim.replay)
                    return
                respond(partner)
                refusal.write(refused=False)  # refusals the adapter answered after all
                if claim.owner:
                    replays.complete(signed, resp.status_code, _capture(resp))
        except replays.Reused:
            self._refuse(req, partner, REUSED)
        except ProtocolError as error:
            if error.reason == "replayed_refusal":
                raise
            fastsql.refuse_carefully(error)
            with unit_of_work(database):
                refusal.write()
                replays.remember(signed, now, error.status, {"error": error.body})
            raise

    def _verify(self, req: falcon.Request, operator: str | None) -> _Verified:
        """The partner whose keys signed the request (the one `operator` names, else any),
        or a refusal with the most telling reason among the partners tried."""
        if operator is not None:
            candidates = [p for p in self._partners if p.operator == operator]
        else:
            candidates = list(self._partners)
        if not candidates:
            self._refuse(req, None, UNKNOWN_PARTNER)
        now = unix(self._clock.now())
        failures: list[tuple[Partner, str]] = []
        for partner in candidates:
            try:
                return self._check(req, partner, now)
            except SignatureError as error:
                failures.append((partner, error.reason))
        reason = min((r for _, r in failures), key=_TELLING.index)
        self._refuse(req, failures[0][0] if len(failures) == 1 else None, reason)
        raise AssertionError("unreachable")  # _refuse raises

    @staticmethod
    def _check(req: falcon.Request, partner: Partner, now: int) -> _Verified:
        """The partner's own scheme (data in the partners file) checks the request."""
        return _SCHEMES[partner.protocol](req, partner, now)

    def _refuse(self, req: falcon.Request, partner: Partner | None, reason: str) -> None:
        partner_id = partner.id if partner else "unknown"
        self._metrics.signature_failures.labels(partner_id, reason).inc()
        log.warning("signature_refused", partner=partner_id, reason=reason, path=req.path)
        self._tally.add(partner_id, reason)
        message = "Stale timestamp" if reason == STALE_TIMESTAMP else "Invalid signature"
        raise self._protocols.error(req.path, 403, message, reason=reason)


def _betstack(req: falcon.Request, partner: Partner, now: int) -> _Verified:
    """`timestamp` and hex HMAC `signature` headers; the once-only key is the signature."""
    signature = req.get_header(betstack.SIGNATURE_HEADER)
    match = betstack.verify(
        partner.keys,
        timestamp=req.get_header(betstack.TIMESTAMP_HEADER),
        signature=signature,
        body=req.context.raw_body,
        now=now,
        tolerance_s=partner.tolerance_s,
    )
    return _Verified(partner, (signature or "").lower(), match.message)


def _standard_webhooks(req: falcon.Request, partner: Partner, now: int) -> _Verified:
    """`webhook-id`/`-timestamp`/`-signature`; the once-only key is the message id."""
    msg_id = req.get_header(standard_webhooks.ID_HEADER)
    body = req.context.raw_body
    standard_webhooks.verify(
        partner.keys,
        msg_id=msg_id,
        timestamp=req.get_header(standard_webhooks.TIMESTAMP_HEADER),
        signature_header=req.get_header(standard_webhooks.SIGNATURE_HEADER),
        body=body,
        now=now,
        tolerance_s=partner.tolerance_s,
    )
    return _Verified(partner, "id:" + (msg_id or ""), body)


# The signature schemes a partner may choose (`protocol` in the partners file).
_SCHEMES: dict[str, Callable[[falcon.Request, Partner, int], _Verified]] = {
    "betstack": _betstack,
    "standard-webhooks": _standard_webhooks,
}
