"""Each signed partner message is accepted once.

Betstack sends no message id, so pamgate remembers every accepted `(partner, signature)`
(for Standard Webhooks partners, `(partner, webhook-id)`) for twice the partner's window,
with the response it got, in the same transaction as what the request did:

- the same signature again, on the same method and path with the same signed content,
  answers the stored response and runs nothing (a network retry, or a captured
  `ticket_win` replayed after the ticket was settled otherwise);
- the same signature on another method, path or content is refused (`Reused`): a body-less
  signature covers only `{timestamp}`, so this is what stops the headers of a signed `GET`
  being lifted onto a `POST`;
- reads are exempt: a `GET` may reuse a signature seen on a `GET`, and messages marked
  `fresh` (`identify`) are answered anew each time;
- a refused request is remembered too (`remember`), with its refusal as the response.

The unique index on `(partner, signature)` decides: a concurrent duplicate waits for the
first to commit (PostgreSQL) or is serialised by the write lock (SQLite), then replays.
What this must never do: open its own transaction (the caller's request owns it) or keep
anything in process memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from gateway.core.errors import CoreError
from gateway.store import fastsql
from gateway.store.models import SignatureUse
from gateway.store.pruning import delete_in_id_order

PENDING = 0  # the request is running, or it is a read answered fresh each time
WINDOW_OFF_RETENTION = dt.timedelta(hours=24)


class Reused(CoreError):
    """A signature already accepted for another method, path or content."""

    code = "signature_reused"


@dataclass(frozen=True)
class SignedRequest:
    partner: str
    signature: str  # lowercase hex (Betstack) or "id:" + webhook-id (Standard Webhooks)
    method: str
    request_hash: str
    expires_at: dt.datetime
    fresh: bool = False  # answered anew each time (identify), never replayed

    @property
    def read(self) -> bool:
        return self.method in ("GET", "HEAD")


def signed_request(
    partner: str,
    signature: str,
    *,
    method: str,
    target: str,
    message: bytes,
    now: dt.datetime,
    tolerance_s: int,
    fresh: bool = False,
) -> SignedRequest:
    """Describe a verified request: `target` is its path and query, `message` exactly what
    its signature covers."""
    digest = hashlib.sha256()
    for part in (method.encode(), target.encode("utf-8", "surrogateescape"), message):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    keep = dt.timedelta(seconds=2 * tolerance_s) if tolerance_s else WINDOW_OFF_RETENTION
    return SignedRequest(
        partner=partner,
        signature=signature[:200],
        method=method[:10],
        request_hash=digest.hexdigest(),
        expires_at=now + keep,
        fresh=fresh,
    )


@dataclass(frozen=True)
class Stored:
    """The response the first use of a signature got."""

    status: int
    response: Any


@dataclass(frozen=True)
class Claim:
    owner: bool  # this request is the first use: it must `complete` the record
    replay: Stored | None = None  # answer this and run nothing


_RUN_FRESH = Claim(owner=False)


def _insert(
    req: SignedRequest, now: dt.datetime, status: int, response: str, *, expected: bool = False
) -> bool | None:
    """True: inserted; False: the signature is on record; None: inserted as expected to be
    new (`fastsql.insert_expected`), checked at the transaction's next round trip."""
    return (fastsql.insert_expected if expected else fastsql.insert_ignore)(
        "signature_use",
        {
            "partner": req.partner,
            "signature": req.signature,
            "method": req.method,
            "request_hash": req.request_hash,
            "status_code": status,
            "response": response,
            "created_at": now,
            "expires_at": req.expires_at,
        },
    )


def claim(req: SignedRequest, now: dt.datetime) -> Claim:
    """Inside the request's transaction, before it does anything; see the module doc.

    A write's signature is almost always new: it is claimed as expected to be new (no round
    trip of its own on PostgreSQL; a repeat fails the attempt, which runs again carefully
    and lands below). A read's may be reused: checked at once."""
    expected = not (req.read or req.fresh)
    if _insert(req, now, PENDING, "null", expected=expected) is not False:
        return Claim(owner=expected)
    row = fastsql.execute(
        "SELECT method, request_hash, status_code, response, expires_at FROM signature_use "
        "WHERE partner = %s AND signature = %s",
        (req.partner, req.signature),
    ).fetchone()
    if row is None:  # pragma: no cover - pruned between the insert and this read
        raise Reused("signature record vanished; retry with a new signature")
    method, request_hash, status, response, expires_at = row
    if isinstance(expires_at, str):  # SQLite returns timestamps as text
        expires_at = dt.datetime.fromisoformat(expires_at)
    if expires_at <= now and _take_over(req, now):
        return Claim(owner=not (req.read or req.fresh))
    if req.read:
        if method in ("GET", "HEAD"):
            return _RUN_FRESH
        raise Reused("signature already used on a write")
    if request_hash != req.request_hash:
        raise Reused("signature already used for another request")
    if req.fresh or status == PENDING:
        return _RUN_FRESH
    return Claim(owner=False, replay=Stored(status, json.loads(response)))


def _take_over(req: SignedRequest, now: dt.datetime) -> bool:
    """A record past its retention (not pruned yet) no longer binds its signature."""
    cursor = fastsql.execute(
        "UPDATE signature_use SET method = %s, request_hash = %s, status_code = %s, "
        "response = %s, created_at = %s, expires_at = %s "
        "WHERE partner = %s AND signature = %s AND expires_at <= %s",
        (
            req.method,
            req.request_hash,
            PENDING,
            "null",
            now,
            req.expires_at,
            req.partner,
            req.signature,
            now,
        ),
    )
    return bool(cursor.rowcount == 1)


def complete(req: SignedRequest, status: int, response: Any) -> None:
    """Store the response of the request that owns the record (same transaction)."""
    fastsql.defer(
        "UPDATE signature_use SET status_code = %s, response = %s "
        "WHERE partner = %s AND signature = %s",
        (
            status,
            json.dumps(response, separators=(",", ":"), default=str),
            req.partner,
            req.signature,
        ),
    )


def remember(req: SignedRequest, now: dt.datetime, status: int, response: Any) -> None:
    """After a refused request rolled back: remember its signature with the refusal, so its
    headers cannot be lifted onto another request (in the caller's new transaction)."""
    if req.read or req.fresh:
        _insert(req, now, PENDING, "null")
        return
    _insert(req, now, status, json.dumps(response, separators=(",", ":"), default=str))


def prune(now: dt.datetime) -> int:
    """Forget records past their retention (their timestamps are outside every window), a
    batch per transaction, walking the table by id (`gateway.store.pruning`): a record is
    never forgotten before its expiry."""
    return delete_in_id_order(SignatureUse, SignatureUse.expires_at <= now)
