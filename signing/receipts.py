"""Signed lottery receipts (SPEC 1c): an Ed25519 signature printed as the security number.

What it is for: computing a receipt's ``security_number`` with pamgate's receipt key and
telling, offline and with only public keys, a genuine receipt from a forged or altered one
(``pamgate receipts verify`` and ``POST /api/v1/receipts/verify``).
What it must never do: need a database or a secret to verify, raise on a malformed receipt
(``verify_receipt`` answers ``(False, reason)`` to any input), or sign anything but the
canonical encoding below.

What is signed: ``DOMAIN`` + the compact JSON, keys sorted, ASCII-only, of exactly the
``RECEIPT_FIELDS`` (everything in a receipt except ``security_number`` and
``ticket_image``), with values as given (strings as strings, ``creation_date`` as an
integer). The domain prefix keeps a receipt signature from ever being valid as any other
message signed by the same key (e.g. a ``v1a`` webhook signature).

The security number: the 64-byte signature in RFC 4648 base32 without padding (103
characters of ``A-Z2-7``, no lower case, no ``0 1 8 9`` to confuse), in dash-separated
groups of 8: printable, fits a QR code, and can be read out or retyped. Verification
ignores dashes, whitespace and case.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

RECEIPT_FIELDS: tuple[str, ...] = (
    "combination_numbers",
    "transaction_date",
    "store_id",
    "pos_id",
    "foreign_pos_id",
    "transaction_number",
    "reference_number",
    "session_id",
    "serial_number",
    "creation_date",
)
SECURITY_NUMBER_FIELD = "security_number"

DOMAIN = b"pamgate-receipt-v1\n"

MISSING_FIELD = "missing_field"
MALFORMED_FIELD = "malformed_field"
MALFORMED_RECEIPT = "malformed_receipt"
MALFORMED_SECURITY_NUMBER = "malformed_security_number"
BAD_SIGNATURE = "bad_signature"
REASONS: tuple[str, ...] = (
    MISSING_FIELD,
    MALFORMED_FIELD,
    MALFORMED_RECEIPT,
    MALFORMED_SECURITY_NUMBER,
    BAD_SIGNATURE,
)

_GROUP = 8
_SIGNATURE_BYTES = 64
_SECURITY_CHARS = 103  # ceil(64 * 8 / 5)
_BASE32_RE = re.compile(r"[A-Z2-7]+")
_IGNORED_RE = re.compile(r"[\s\-=]+")


class ReceiptFieldError(ValueError):
    """A signed field is missing or not a string/integer; ``reason`` says which."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(f"{reason}: {field}")
        self.reason = reason
        self.field = field


def canonical_bytes(receipt: Mapping[str, object]) -> bytes:
    """The exact bytes signed for a receipt; ``ReceiptFieldError`` (a ``ValueError``) when a
    signed field is missing or is not a string or an integer."""
    signed: dict[str, object] = {}
    for name in RECEIPT_FIELDS:
        if name not in receipt:
            raise ReceiptFieldError(MISSING_FIELD, name)
        value = receipt[name]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ReceiptFieldError(MALFORMED_FIELD, name)
        signed[name] = value
    text = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return DOMAIN + text.encode("ascii")


def format_security_number(signature: bytes) -> str:
    """A 64-byte signature as base32 without padding, in dash-separated groups of 8."""
    if len(signature) != _SIGNATURE_BYTES:
        raise ValueError("an Ed25519 signature is 64 bytes")
    text = base64.b32encode(signature).decode("ascii").rstrip("=")
    return "-".join(text[i : i + _GROUP] for i in range(0, len(text), _GROUP))


def parse_security_number(text: str) -> bytes:
    """The signature in a security number, leniently retyped (dashes, spaces, case);
    ``ValueError`` unless it is exactly the canonical encoding of 64 bytes."""
    compact = _IGNORED_RE.sub("", text).upper()
    if len(compact) != _SECURITY_CHARS or not _BASE32_RE.fullmatch(compact):
        raise ValueError("not a security number")
    try:
        raw = base64.b32decode(compact + "=" * (-len(compact) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("not a security number") from None
    # Reject non-zero padding bits, so one signature has one spelling (up to case/dashes).
    if base64.b32encode(raw).decode("ascii").rstrip("=") != compact:
        raise ValueError("not a security number")
    return raw


def security_number(signing_key: SigningKey, receipt: Mapping[str, object]) -> str:
    """The receipt's security number: its Ed25519 signature by ``signing_key``, printable."""
    return format_security_number(signing_key.sign(canonical_bytes(receipt)).signature)


def verify_receipt(
    verify_keys: Iterable[VerifyKey | tuple[str, VerifyKey]],
    receipt: Mapping[str, object],
) -> tuple[bool, str | None]:
    """``(True, None)`` when some key signed this receipt, else ``(False, reason)``.

    ``verify_keys`` are public keys, or ``(kid, key)`` pairs as ``Keyring.verify_keys()``
    returns them. ``reason`` is one of ``REASONS``. Never raises on a bad receipt.
    """
    if not isinstance(receipt, Mapping):
        return False, MALFORMED_RECEIPT
    try:
        message = canonical_bytes(receipt)
    except ReceiptFieldError as error:
        return False, error.reason
    if SECURITY_NUMBER_FIELD not in receipt:
        return False, MISSING_FIELD
    text = receipt[SECURITY_NUMBER_FIELD]
    if not isinstance(text, str):
        return False, MALFORMED_SECURITY_NUMBER
    try:
        signature = parse_security_number(text)
    except ValueError:
        return False, MALFORMED_SECURITY_NUMBER
    for entry in verify_keys:
        key = entry[1] if isinstance(entry, tuple) else entry
        try:
            key.verify(message, signature)
        except BadSignatureError:
            continue
        return True, None
    return False, BAD_SIGNATURE
