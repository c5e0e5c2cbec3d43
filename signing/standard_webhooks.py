"""Standard Webhooks signatures (SPEC 1b): ``v1`` HMAC-SHA256 and ``v1a`` Ed25519.

What it is for: signing everything pamgate sends (``webhook-id``, ``webhook-timestamp``,
``webhook-signature`` over ``{id}.{timestamp}.{raw body}``) and verifying partners that
chose this scheme, interoperably with the official ``standardwebhooks`` package (which
knows only ``v1`` and skips other versions, so a header carrying both verifies with it).
What it must never do: read the clock (``now`` is passed in), put a secret or signature
into an error, or compare HMACs with ``==`` (always ``hmac.compare_digest``).

Key forms (``PartnerKey.secret``): ``whsec_…`` is checked against ``v1`` entries,
``whpk_…`` against ``v1a`` entries; unknown signature versions are ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from signing.errors import (
    BAD_SIGNATURE,
    INACTIVE_KEY,
    MALFORMED,
    MISSING_HEADER,
    SignatureError,
)
from signing.keys import WHPK_PREFIX, PartnerKey, decode_whsec, load_verify_key
from signing.timestamps import check_window, parse_timestamp

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

HMAC_VERSION = "v1"
ED25519_VERSION = "v1a"

_HMAC_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64
# More entries than any sender needs; bounds the work an attacker can ask of us.
MAX_SIGNATURES = 16


def signed_content(msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    """What both versions sign: ``{webhook-id}.{webhook-timestamp}.`` + the raw body."""
    return f"{msg_id}.{timestamp}.".encode() + body


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def sign(
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    hmac_secrets: Sequence[str] = (),
    ed25519_keys: Sequence[SigningKey] = (),
) -> str:
    """The ``webhook-signature`` value: ``v1a,<b64>`` entries first, then ``v1,<b64>``.

    ``hmac_secrets`` are ``whsec_…`` texts; ``ed25519_keys`` are pamgate's signing keys.
    ``ValueError`` without any key, or with an id the header cannot carry.
    """
    if not hmac_secrets and not ed25519_keys:
        raise ValueError("sign needs at least one hmac secret or Ed25519 key")
    if not msg_id or any(ch.isspace() for ch in msg_id):
        raise ValueError("webhook id must be non-empty and without whitespace")
    content = signed_content(msg_id, timestamp, body)
    entries = [f"{ED25519_VERSION},{_b64(key.sign(content).signature)}" for key in ed25519_keys]
    entries += [
        f"{HMAC_VERSION},{_b64(hmac.new(decode_whsec(s), content, hashlib.sha256).digest())}"
        for s in hmac_secrets
    ]
    return " ".join(entries)


def headers(
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    hmac_secrets: Sequence[str] = (),
    ed25519_keys: Sequence[SigningKey] = (),
) -> dict[str, str]:
    """The three Standard Webhooks headers of a signed request."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(
            msg_id, timestamp, body, hmac_secrets=hmac_secrets, ed25519_keys=ed25519_keys
        ),
    }


def _parse_signature_header(header: str) -> tuple[list[bytes], list[bytes]]:
    """The decoded ``v1`` and ``v1a`` signatures of a header.

    ``malformed`` when the header has no entry, too many, or an entry that is not
    ``version,value``. Entries of other versions are ignored; a ``v1``/``v1a`` value that
    is not canonical base64 of the right length can match nothing and is dropped.
    """
    tokens = header.split()
    if not tokens:
        raise SignatureError(MALFORMED, "empty signature header")
    if len(tokens) > MAX_SIGNATURES:
        raise SignatureError(MALFORMED, f"more than {MAX_SIGNATURES} signatures")
    hmacs: list[bytes] = []
    ed25519s: list[bytes] = []
    for token in tokens:
        version, comma, value = token.partition(",")
        if not comma or not version or not value:
            raise SignatureError(MALFORMED, "signature entry is not 'version,value'")
        if version not in (HMAC_VERSION, ED25519_VERSION):
            continue
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if _b64(raw) != value:  # non-canonical (stray padding bits): one signature, one text
            continue
        if version == HMAC_VERSION and len(raw) == _HMAC_BYTES:
            hmacs.append(raw)
        elif version == ED25519_VERSION and len(raw) == _ED25519_SIGNATURE_BYTES:
            ed25519s.append(raw)
    return hmacs, ed25519s


def _matches(
    key: PartnerKey, content: bytes, hmacs: Sequence[bytes], ed25519s: Sequence[bytes]
) -> bool:
    if key.secret.startswith(WHPK_PREFIX):
        verify_key: VerifyKey = load_verify_key(key.secret)
        for signature in ed25519s:
            try:
                verify_key.verify(content, signature)
            except BadSignatureError:
                continue
            return True
        return False
    expected = hmac.new(decode_whsec(key.secret), content, hashlib.sha256).digest()
    # No early exit: every entry is compared, in constant time each.
    found = False
    for signature in hmacs:
        found |= hmac.compare_digest(expected, signature)
    return found


def verify(
    keys: Sequence[PartnerKey],
    *,
    msg_id: str | None,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    now: int,
    tolerance_s: int,
) -> PartnerKey:
    """The active key that signed this request, or ``SignatureError``.

    Checks in order (as ``signing.betstack.verify``): the three headers present
    (``missing_header``); timestamp an integer and the signature header parsable
    (``malformed``); timestamp within ``±tolerance_s``, 0 disabling the window
    (``stale_timestamp``); then active keys, then inactive ones (``inactive_key``),
    else ``bad_signature``. A key that is not valid ``whsec_``/``whpk_`` text raises
    ``ValueError`` (configuration, not the sender, is wrong; ``Partner`` checks it early).
    """
    if not msg_id or not timestamp or not signature_header:
        present = (
            (ID_HEADER, msg_id),
            (TIMESTAMP_HEADER, timestamp),
            (SIGNATURE_HEADER, signature_header),
        )
        missing = [name for name, value in present if not value]
        raise SignatureError(MISSING_HEADER, "missing " + ", ".join(missing))
    sent_at = parse_timestamp(timestamp)
    hmacs, ed25519s = _parse_signature_header(signature_header)
    check_window(sent_at, now=now, tolerance_s=tolerance_s)

    content = signed_content(msg_id, timestamp, body)
    for key in keys:
        if key.active and _matches(key, content, hmacs, ed25519s):
            return key
    for key in keys:
        if not key.active and _matches(key, content, hmacs, ed25519s):
            raise SignatureError(INACTIVE_KEY, f"signed with inactive key {key.kid!r}")
    raise SignatureError(BAD_SIGNATURE, "no active key matched")
