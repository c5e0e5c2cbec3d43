"""The SMS providers the dispatcher delivers through, on the wire (SPEC 5).

- `webhook`: `{"to", "text", "type", "reference"}` POSTed as JSON, signed with Standard
  Webhooks (`v1a` Ed25519 with pamgate's key; plus `v1` HMAC when a `whsec_` secret is
  set); `webhook-id` is the message's stable id, the same on every attempt.
- `twilio`: the Messages API form post (`To`, `From`, `Body`) with basic auth and
  `I-Twilio-Idempotency-Token` set to the message's stable id.

- `events`: a core event (`{"id", "type", "occurred_at", "data"}`) POSTed as JSON to the
  operator's endpoint, signed like `webhook`; `webhook-id` is the event's id.

All send the attempt's W3C `traceparent` header (the trace of the request that queued the
message, a new span per attempt); Twilio ignores it, the attempt log keeps it.

`send` never raises for a delivery problem: it answers a `Delivery` (`sent`; `failed`,
worth retrying: a timeout, a refused connection, a 5xx, 408 or 429, with the provider's
`Retry-After`; `refused`: any other 4xx, final). Errors are scrubbed of the phone number
and the text's secrets before they leave this module. Every request has a timeout.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from nacl.signing import SigningKey

from gateway import tracing
from gateway.core.clock import Clock, unix
from gateway.core.retry_schedule import parse_retry_after
from gateway.logs import mask_phone
from signing import standard_webhooks

SENT, FAILED, REFUSED = "sent", "failed", "refused"
TRACEPARENT = tracing.HEADER
MAX_RESPONSE_BYTES = 64 * 1024
_DIGIT_RUN = re.compile(r"\+?\d[\d ()./-]{5,}\d")


@dataclass(frozen=True)
class Sms:
    message_id: str  # stable across attempts: the provider drops duplicates by it
    to: str
    text: str
    type: str
    reference: str
    secrets: tuple[str, ...] = ()  # never to appear in an error (the code of an OTP)
    traceparent: str | None = None  # the delivery's span (W3C), sent as `traceparent`


@dataclass(frozen=True)
class Event:
    message_id: str  # the event's id, stable across attempts
    document: dict[str, Any]  # what the endpoint receives
    traceparent: str | None = None
    to: str = ""  # no phone number, no secrets: nothing to scrub from errors but digit runs
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    outcome: str  # sent | failed | refused
    http_status: int | None = None
    provider_message_id: str | None = None
    error: str | None = None
    retry_after_s: float | None = None


class Provider(Protocol):
    name: str

    def send(self, item: Any) -> Delivery: ...  # an `Sms`, or an `Event` for `events`


def scrub(text: str, sms: Sms | Event) -> str:
    """`text` without the phone number, the message's secrets or any long run of digits
    (each masked to its last 3 digits)."""
    for secret in (sms.to, sms.to.lstrip("+"), *sms.secrets):
        if secret:
            text = text.replace(secret, "***")
    text = _DIGIT_RUN.sub(lambda m: mask_phone(m.group(0)), text)
    return " ".join(text.split())[:500]


def classify(status: int) -> str:
    if 200 <= status < 300:
        return SENT
    if status in (408, 429) or status >= 500 or status < 400:
        return FAILED
    return REFUSED


def _read(response: requests.Response, deadline: float) -> bytes:
    """The response body, at most `MAX_RESPONSE_BYTES`, read before `deadline`."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _post(
    session: requests.Session, url: str, timeout_s: float, sms: Sms | Event, **kwargs: Any
) -> tuple[Delivery | None, requests.Response | None, bytes]:
    """POST with a timeout on connecting and on each read, and the whole body read within
    `timeout_s`; a transport failure is a `failed` delivery."""
    start = time.monotonic()
    try:
        response = session.post(
            url, timeout=(timeout_s, timeout_s), allow_redirects=False, stream=True, **kwargs
        )
        try:
            body = _read(response, start + timeout_s)
        finally:
            response.close()
    except requests.Timeout:
        return Delivery(FAILED, error=f"timeout after {timeout_s:g} s"), None, b""
    except requests.RequestException as exc:
        return Delivery(FAILED, error=scrub(f"{type(exc).__name__}: {exc}", sms)), None, b""
    return None, response, body


def _outcome(
    response: requests.Response,
    body: bytes,
    sms: Sms | Event,
    clock: Clock,
    provider_id: str | None,
) -> Delivery:
    status = response.status_code
    outcome = classify(status)
    if outcome == SENT:
        return Delivery(SENT, http_status=status, provider_message_id=provider_id)
    detail = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(detail)
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            detail = parsed["message"]
    except ValueError:
        pass
    return Delivery(
        outcome,
        http_status=status,
        error=scrub(f"HTTP {status}: {detail}", sms),
        retry_after_s=parse_retry_after(response.headers.get("Retry-After"), clock.now())
        if outcome == FAILED
        else None,
    )


def _json_id(body: bytes, name: str) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    value = parsed.get(name) if isinstance(parsed, dict) else None
    return str(value)[:100] if isinstance(value, str | int) else None


class WebhookProvider:
    name = "webhook"
    URL_SETTING = "PAMGATE_SMS_URL"

    def __init__(
        self,
        session: requests.Session,
        url: str,
        clock: Clock,
        *,
        timeout_s: float,
        signing_keys: Sequence[SigningKey],
        hmac_secret: str = "",
    ) -> None:
        if not url:
            raise ValueError(f"the {self.name} provider needs {self.URL_SETTING}")
        if not signing_keys and not hmac_secret:
            raise ValueError("the webhook provider needs a signing key or PAMGATE_SMS_SECRET")
        self._session = session
        self._url = url
        self._clock = clock
        self._timeout_s = timeout_s
        self._keys = tuple(signing_keys)
        self._secrets = (hmac_secret,) if hmac_secret else ()

    def body(self, sms: Sms) -> bytes:
        message = {"to": sms.to, "text": sms.text, "type": sms.type, "reference": sms.reference}
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()

    def send(self, sms: Sms) -> Delivery:
        return self._signed_post(sms, self.body(sms))

    def _signed_post(self, item: Sms | Event, body: bytes) -> Delivery:
        headers = standard_webhooks.headers(
            item.message_id,
            unix(self._clock.now()),
            body,
            hmac_secrets=self._secrets,
            ed25519_keys=self._keys,
        )
        headers["Content-Type"] = "application/json"
        if item.traceparent:
            headers[TRACEPARENT] = item.traceparent
        failure, response, raw = _post(
            self._session, self._url, self._timeout_s, item, data=body, headers=headers
        )
        if failure is not None or response is None:
            return failure or Delivery(FAILED, error="no response")
        return _outcome(response, raw, item, self._clock, _json_id(raw, "id"))


class EventWebhook(WebhookProvider):
    """Core events to the operator's endpoint (`PAMGATE_EVENTS_URL`), signed like SMS."""

    name = "events"
    URL_SETTING = "PAMGATE_EVENTS_URL"

    def send(self, event: Event) -> Delivery:  # type: ignore[override]
        body = json.dumps(event.document, ensure_ascii=False, separators=(",", ":")).encode()
        return self._signed_post(event, body)


class TwilioProvider:
    name = "twilio"
    IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

    def __init__(
        self,
        session: requests.Session,
        clock: Clock,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        timeout_s: float,
    ) -> None:
        if not (account_sid and auth_token and sender):
            raise ValueError(
                "the twilio provider needs PAMGATE_TWILIO_ACCOUNT_SID, "
                "PAMGATE_TWILIO_AUTH_TOKEN and PAMGATE_TWILIO_FROM"
            )
        self._session = session
        self._clock = clock
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = (account_sid, auth_token)
        self._from = sender
        self._timeout_s = timeout_s

    def send(self, sms: Sms) -> Delivery:
        failure, response, raw = _post(
            self._session,
            self._url,
            self._timeout_s,
            sms,
            data={"To": sms.to, "From": self._from, "Body": sms.text},
            auth=self._auth,
            headers={
                self.IDEMPOTENCY_HEADER: sms.message_id,
                **({TRACEPARENT: sms.traceparent} if sms.traceparent else {}),
            },
        )
        if failure is not None or response is None:
            return failure or Delivery(FAILED, error="no response")
        return _outcome(response, raw, sms, self._clock, _json_id(raw, "sid"))
