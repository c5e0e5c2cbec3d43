"""The Betstack signature scheme (SPEC 1a): HMAC-SHA256 over ``{timestamp}{body}``, hex.

What it is for: signing (tests, the demo, the curl printer) and verifying the ``timestamp``
and ``signature`` headers of the bet-engine webhook, ticket and SMS endpoints against a
partner's keys, returning the key that matched or raising ``SignatureError``.
What it must never do: read the clock (``now`` is passed in), hand the caller anything
decoded from the body (the caller parses only after ``verify`` returns; the parsing here
only rebuilds candidate bytes), put a secret or signature into an error, or compare
signatures with ``==`` (always ``hmac.compare_digest``).

Why several candidate bodies: Betstack signs ``json.dumps(obj, separators=(",", ":"))``
but what arrives may have been re-formatted by an HTTP client (pretty-printed, or non-ASCII
sent raw instead of ``\\uXXXX``). So pamgate tries, in order: the raw bytes; the body
re-serialised compactly keeping key order (``ensure_ascii=False``, then ``True``). Nothing
else: removing every space from the raw bytes (an older form) let anyone add spaces inside a
string (a ``ticket_id``) and replay a captured message as a new ticket.

``verify`` returns the key and the signed message (``{timestamp}{form}``) that matched: two
requests that verify with one signature have one signed message, whatever their spacing, so
the once-only record compares what was really signed.

How the re-serialisation keeps numbers exact: the body is parsed with ``json.loads`` but
every number (and ``NaN``/``Infinity``) is kept as the *token text the sender wrote*
(``parse_int``/``parse_float``/``parse_constant`` hooks), objects as ordered pairs
(``object_pairs_hook``, so even duplicate keys survive) and strings are re-encoded with
the stdlib's own encoder. So ``"ext": 12.5`` is written back as ``12.5``, ``1.10`` stays
``1.10`` and ``1e5`` stays ``1e5``: never a float round trip (which would rewrite
``1e5`` as ``100000.0`` and can never be bit-exact for a non-Python sender) nor a
``Decimal`` (which would need a custom encoder and still normalises some forms).
For a Python sender the token text *is* ``float.__repr__``, so this reproduces exactly
``json.dumps(obj, separators=(",", ":"))`` (property-tested).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring, encode_basestring_ascii

from signing.errors import (
    BAD_SIGNATURE,
    INACTIVE_KEY,
    MALFORMED,
    MISSING_HEADER,
    SignatureError,
)
from signing.keys import PartnerKey
from signing.timestamps import check_window, parse_timestamp

SIGNATURE_HEADER = "signature"
TIMESTAMP_HEADER = "timestamp"
OPERATOR_HEADER = "operator-name"

_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")


def compact_json(obj: object) -> bytes:
    """Exactly what Betstack signs: ``json.dumps(obj, separators=(",", ":"))`` as bytes.

    ``ensure_ascii`` stays at its default (True), as in Betstack's sender, so the result is
    ASCII.
    """
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


def _message(timestamp: int | str, body: bytes) -> bytes:
    return str(timestamp).encode("ascii") + body


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 keyed with ``secret``'s ASCII bytes over ``{timestamp}{body}``.

    An empty body signs just the timestamp.
    """
    key = secret.encode("ascii")
    return hmac.new(key, _message(timestamp, body), hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, *, timestamp: int, operator: str | None = None
) -> dict[str, str]:
    """The headers of a signed Betstack request (tests, ``pamgate demo``, curl printer)."""
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    if operator is not None:
        headers[OPERATOR_HEADER] = operator
    return headers


# --- candidate bodies -------------------------------------------------------------------


class _Number:
    """A JSON number (or NaN/Infinity constant) kept as the exact token text sent."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Object:
    """A JSON object kept as its ordered (key, value) pairs, duplicates included."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        self.pairs = pairs


class _Literal:
    """Text to copy to the output as is (a bracket, comma or encoded key)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_preserving(text: str) -> object:
    return json.loads(
        text,
        parse_int=_Number,
        parse_float=_Number,
        parse_constant=_Number,
        object_pairs_hook=_Object,
    )


def _compact(tree: object, *, ensure_ascii: bool) -> str:
    """Write a ``_parse_preserving`` tree back as compact JSON, iteratively (no recursion
    limit, whatever the nesting ``json.loads`` accepted)."""
    encode: Callable[[str], str] = encode_basestring_ascii if ensure_ascii else encode_basestring
    out: list[str] = []
    stack: list[object] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, _Literal | _Number):
            out.append(item.text)
        elif isinstance(item, str):
            out.append(encode(item))
        elif item is None:
            out.append("null")
        elif item is True:
            out.append("true")
        elif item is False:
            out.append("false")
        elif isinstance(item, _Object):
            todo: list[object] = [_Literal("{")]
            for index, (key, value) in enumerate(item.pairs):
                todo.append(_Literal(("," if index else "") + encode(key) + ":"))
                todo.append(value)
            todo.append(_Literal("}"))
            stack.extend(reversed(todo))
        elif isinstance(item, list):
            todo = [_Literal("[")]
            for index, value in enumerate(item):
                if index:
                    todo.append(_Literal(","))
                todo.append(value)
            todo.append(_Literal("]"))
            stack.extend(reversed(todo))
        else:  # pragma: no cover - json.loads with our hooks yields nothing else
            raise TypeError(f"unexpected JSON node {type(item).__name__}")
    return "".join(out)


def reserialise(body: bytes, *, ensure_ascii: bool) -> bytes | None:
    """The body re-serialised compactly, key order and number tokens kept; None when the
    body is not UTF-8 JSON or cannot be written back in that form (a lone surrogate with
    ``ensure_ascii=False``)."""
    try:
        tree = _parse_preserving(body.decode("utf-8"))
        return _compact(tree, ensure_ascii=ensure_ascii).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        # UnicodeError: not UTF-8 / lone surrogate; ValueError: not JSON;
        # RecursionError: nesting deeper than json.loads accepts. All: skip these forms.
        return None


def candidate_bodies(body: bytes) -> list[bytes]:
    """The body forms tried, in SPEC 1a order, without repeats."""
    forms = [
        body,
        reserialise(body, ensure_ascii=False),
        reserialise(body, ensure_ascii=True),
    ]
    unique: list[bytes] = []
    for form in forms:
        if form is not None and form not in unique:
            unique.append(form)
    return unique


# --- verification -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """The key that signed a request and the exact message it signed."""

    key: PartnerKey
    message: bytes


def _matching_key(
    keys: Sequence[PartnerKey], messages: Sequence[bytes], signature: str
) -> Verified | None:
    for key in keys:
        secret = key.secret.encode("ascii")
        for message in messages:
            expected = hmac.new(secret, message, hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, signature):
                return Verified(key, message)
    return None


def verify(
    keys: Sequence[PartnerKey],
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: int,
    tolerance_s: int,
) -> Verified:
    """The active key that signed this request and the message it signed, or
    ``SignatureError``.

    Checks in order: both headers present (``missing_header``; an empty value counts as
    missing); timestamp an integer and signature 64 hex digits of either case
    (``malformed``); timestamp within the window (``stale_timestamp``); then each active
    key against each candidate body (``candidate_bodies``). A match only with an inactive
    key is ``inactive_key``; no match at all is ``bad_signature``.
    """
    if not timestamp or not signature:
        missing = [
            name
            for name, value in ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature))
            if not value
        ]
        raise SignatureError(MISSING_HEADER, "missing " + ", ".join(missing))
    sent_at = parse_timestamp(timestamp)
    if not _SIGNATURE_RE.fullmatch(signature):
        raise SignatureError(MALFORMED, "signature is not 64 hex digits")
    check_window(sent_at, now=now, tolerance_s=tolerance_s)
    signature = signature.lower()
    active = [k for k in keys if k.active]
    # Fast path: the raw bytes are the first form tried and nearly always the one signed.
    verified = _matching_key(active, [_message(timestamp, body)], signature)
    if verified is not None:
        return verified
    messages = [_message(timestamp, form) for form in candidate_bodies(body)]
    verified = _matching_key(active, messages, signature)
    if verified is not None:
        return verified
    retired = _matching_key([k for k in keys if not k.active], messages, signature)
    if retired is not None:
        raise SignatureError(INACTIVE_KEY, f"signed with inactive key {retired.key.kid!r}")
    raise SignatureError(BAD_SIGNATURE, "no active key matched")
