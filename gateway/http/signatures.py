"""Partner authentication for the signed routes (`/pam`, `/be/…`, `/sms/…`).

Resources call `PartnerGuard.betstack(req, operator)` before parsing anything they act on.
A refusal answers 403 `{"code": 109, …}` and never says which check failed; the reason
goes to the log (never a secret or signature), to `pamgate_signature_failures_total`
and, as the only write of the request, to the audit log.
"""

from __future__ import annotations

import falcon

from config.partners import PartnerDirectory
from gateway.core.audit import Actor
from gateway.core.clock import Clock, unix
from gateway.core.commands import Context, record_rejection
from gateway.http.errors import ProtocolError
from gateway.http.metrics import Metrics
from gateway.logs import get_logger
from signing import betstack, standard_webhooks
from signing.errors import STALE_TIMESTAMP, UNKNOWN_PARTNER, SignatureError
from signing.keys import Partner

log = get_logger("pamgate.signatures")


class PartnerGuard:
    def __init__(self, partners: PartnerDirectory, clock: Clock, metrics: Metrics) -> None:
        self._partners = partners
        self._clock = clock
        self._metrics = metrics

    def betstack(self, req: falcon.Request, operator: str | None) -> Partner:
        """Verify a request to a Betstack-protocol route for `operator`; returns the partner
        or raises. The partner's own scheme decides the check: `betstack` (timestamp and
        hex HMAC headers) or `standard-webhooks` (webhook-id/-timestamp/-signature)."""
        partner = None
        if operator:
            partner = (self._partners.by_operator("betstack", operator)
                       or self._partners.by_operator("standard-webhooks", operator))
        if partner is None:
            self._refuse(req, None, UNKNOWN_PARTNER)
        assert partner is not None
        now = unix(self._clock.now())
        try:
            if partner.protocol == "standard-webhooks":
                standard_webhooks.verify(
                    partner.keys,
                    msg_id=req.get_header(standard_webhooks.ID_HEADER),
                    timestamp=req.get_header(standard_webhooks.TIMESTAMP_HEADER),
                    signature_header=req.get_header(standard_webhooks.SIGNATURE_HEADER),
                    body=req.context.raw_body, now=now, tolerance_s=partner.tolerance_s,
                )
            else:
                betstack.verify(
                    partner.keys,
                    timestamp=req.get_header(betstack.TIMESTAMP_HEADER),
                    signature=req.get_header(betstack.SIGNATURE_HEADER),
                    body=req.context.raw_body, now=now, tolerance_s=partner.tolerance_s,
                )
        except SignatureError as error:
            self._refuse(req, partner, error.reason)
        req.context.partner = partner.id
        return partner

    def _refuse(self, req: falcon.Request, partner: Partner | None, reason: str) -> None:
        partner_id = partner.id if partner else "unknown"
        self._metrics.signature_failures.labels(partner_id, reason).inc()
        log.warning("signature_refused", partner=partner_id, reason=reason, path=req.path)
        ctx = Context(actor=Actor("partner" if partner else "anonymous", partner_id),
                      now=self._clock.now(), request_id=req.context.request_id)
        record_rejection(ctx, "signature_check", reason, target_type="route",
                         target_id=req.path)
        message = "Stale timestamp" if reason == STALE_TIMESTAMP else "Invalid signature"
        raise ProtocolError(403, {"code": 109, "message": message}, reason=reason)
