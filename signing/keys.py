"""Keys: partners' verification keys and pamgate's own Ed25519 keys, and their text forms.

What it is for: the frozen value types the other ``signing`` modules take
(``PartnerKey``, ``Partner``, ``OwnKey``, ``Keyring``) and the parsers for the Standard
Webhooks text forms: ``whsec_`` (HMAC secret), ``whsk_`` (Ed25519 secret key) and ``whpk_``
(Ed25519 public key), all ``prefix + base64``.
What it must never do: read files or the environment (``config/`` does, then calls these),
or let a secret appear in a ``repr``, an exception message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from nacl.signing import SigningKey, VerifyKey

WHSEC_PREFIX = "whsec_"
WHSK_PREFIX = "whsk_"
WHPK_PREFIX = "whpk_"

ED25519_SEED_BYTES = 32
ED25519_PUBLIC_BYTES = 32

BETSTACK = "betstack"
STANDARD_WEBHOOKS = "standard-webhooks"
PROTOCOLS: tuple[str, ...] = (BETSTACK, STANDARD_WEBHOOKS)


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64, tolerating missing ``=`` padding (as ``standardwebhooks`` does).

    The message of the ``ValueError`` names ``what`` and never echoes ``text``.
    """
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode_whsec(text: str) -> bytes:
    """The raw HMAC key of a Standard Webhooks secret ``whsec_<base64>``.

    Like the official ``standardwebhooks`` package, the prefix is stripped when present and
    unpadded base64 is accepted; unlike it, stray non-base64 characters are an error rather
    than silently dropped. ``ValueError`` when empty or not base64.
    """
    body = text.strip()
    if body.startswith(WHSEC_PREFIX):
        body = body[len(WHSEC_PREFIX) :]
    raw = _b64decode(body, "whsec_ secret")
    if not raw:
        raise ValueError("whsec_ secret is empty")
    return raw


def load_signing_key(text: str) -> SigningKey:
    """An Ed25519 signing key from ``whsk_`` + base64 of the 32-byte seed or 64-byte seed‖public.

    The 64-byte form is libsodium's secret key layout (what the Standard Webhooks spec
    prints); its public half must match the seed, else ``ValueError``.
    """
    body = text.strip()
    if not body.startswith(WHSK_PREFIX):
        raise ValueError("Ed25519 secret key must start with 'whsk_'")
    raw = _b64decode(body[len(WHSK_PREFIX) :], "whsk_ key")
    if len(raw) == ED25519_SEED_BYTES:
        return SigningKey(raw)
    if len(raw) == ED25519_SEED_BYTES + ED25519_PUBLIC_BYTES:
        seed, public = raw[:ED25519_SEED_BYTES], raw[ED25519_SEED_BYTES:]
        key = SigningKey(seed)
        if not hmac.compare_digest(key.verify_key.encode(), public):
            raise ValueError("whsk_ key: public half does not match the seed")
        return key
    raise ValueError(f"whsk_ key must decode to 32 or 64 bytes, not {len(raw)}")


def load_verify_key(text: str) -> VerifyKey:
    """An Ed25519 public key from ``whpk_`` + base64 of its 32 raw bytes."""
    body = text.strip()
    if not body.startswith(WHPK_PREFIX):
        raise ValueError("Ed25519 public key must start with 'whpk_'")
    raw = _b64decode(body[len(WHPK_PREFIX) :], "whpk_ key")
    if len(raw) != ED25519_PUBLIC_BYTES:
        raise ValueError(f"whpk_ key must decode to 32 bytes, not {len(raw)}")
    return VerifyKey(raw)


def public_text(key: SigningKey | VerifyKey) -> str:
    """The ``whpk_…`` text of a key's public half (what ``/.well-known/pamgate-keys`` shows)."""
    verify_key = key.verify_key if isinstance(key, SigningKey) else key
    return WHPK_PREFIX + _b64encode(verify_key.encode())


def secret_text(signing_key: SigningKey) -> str:
    """The ``whsk_…`` text of a signing key, in the 64-byte seed‖public form."""
    return WHSK_PREFIX + _b64encode(signing_key.encode() + signing_key.verify_key.encode())


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as ``("whsk_…", "whpk_…")`` (``pamgate keys generate``)."""
    key = SigningKey.generate()
    return secret_text(key), public_text(key)


@dataclass(frozen=True)
class PartnerKey:
    """One key a partner signs with; ``secret`` is never shown by ``repr``.

    Betstack: the HMAC key as ASCII text. Standard Webhooks: ``whsec_…`` or ``whpk_…``.
    """

    kid: str
    secret: str = field(repr=False)
    active: bool = True


@dataclass(frozen=True)
class Partner:
    """A partner as configured: its scheme, the operator it signs for, its keys.

    Construction validates the configuration (protocol, tolerance, unique key ids, key
    formats) so a bad partners file fails at start-up, not on the first request.
    """

    id: str
    protocol: str  # "betstack" | "standard-webhooks"
    operator: str
    tolerance_s: int = 300
    keys: tuple[PartnerKey, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(self.keys))
        if not self.id:
            raise ValueError("partner id must not be empty")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"partner {self.id!r}: unknown protocol {self.protocol!r}")
        if isinstance(self.tolerance_s, bool) or not isinstance(self.tolerance_s, int):
            raise ValueError(f"partner {self.id!r}: tolerance_s must be an integer")
        if self.tolerance_s < 0:
            raise ValueError(f"partner {self.id!r}: tolerance_s must be >= 0 (0 disables)")
        kids = [key.kid for key in self.keys]
        if len(set(kids)) != len(kids):
            raise ValueError(f"partner {self.id!r}: duplicate key ids")
        for key in self.keys:
            check_partner_secret(self.protocol, key)

    @property
    def active_keys(self) -> tuple[PartnerKey, ...]:
        return tuple(key for key in self.keys if key.active)


def check_partner_secret(protocol: str, key: PartnerKey) -> None:
    """``ValueError`` (naming the kid, never the secret) unless the key suits the protocol."""
    if not key.kid:
        raise ValueError("partner key id must not be empty")
    if protocol == BETSTACK:
        if not key.secret or not key.secret.isascii():
            raise ValueError(f"key {key.kid!r}: a Betstack secret must be non-empty ASCII")
    elif key.secret.startswith(WHPK_PREFIX):
        load_verify_key(key.secret)
    elif key.secret.startswith(WHSEC_PREFIX):
        decode_whsec(key.secret)
    else:
        raise ValueError(f"key {key.kid!r}: a Standard Webhooks key must be whsec_… or whpk_…")


@dataclass(frozen=True)
class OwnKey:
    """One of pamgate's own Ed25519 keys; retired keys (``active=False``) only verify."""

    kid: str
    signing_key: SigningKey = field(repr=False)
    active: bool = True

    @property
    def verify_key(self) -> VerifyKey:
        return self.signing_key.verify_key


class Keyring:
    """pamgate's own Ed25519 keys, newest first: the first active key signs, all verify."""

    __slots__ = ("keys",)

    keys: tuple[OwnKey, ...]

    def __init__(self, keys: Iterable[OwnKey]) -> None:
        keys = tuple(keys)
        kids = [key.kid for key in keys]
        if len(set(kids)) != len(kids):
            raise ValueError("keyring: duplicate key ids")
        self.keys = keys

    @classmethod
    def from_texts(cls, entries: Iterable[tuple[str, str, bool]]) -> Keyring:
        """From ``(kid, "whsk_…", active)`` triples, in order."""
        return cls(
            OwnKey(kid=kid, signing_key=load_signing_key(text), active=active)
            for kid, text, active in entries
        )

    @property
    def current(self) -> OwnKey:
        """The key that signs now: the first active one. ``LookupError`` when there is none."""
        for key in self.keys:
            if key.active:
                return key
        raise LookupError("keyring has no active key")

    def verify_keys(self) -> list[tuple[str, VerifyKey]]:
        """Every key's public half, retired ones included, so old receipts still verify."""
        return [(key.kid, key.verify_key) for key in self.keys]

    def kid_for(self, verify_key: VerifyKey) -> str | None:
        """The kid of the key whose public half is ``verify_key``, or None."""
        wanted = verify_key.encode()
        for key in self.keys:
            if key.verify_key.encode() == wanted:
                return key.kid
        return None

    def published(self) -> list[dict[str, object]]:
        """The entries of ``GET /.well-known/pamgate-keys`` (SPEC 1b)."""
        return [
            {
                "kid": key.kid,
                "alg": "Ed25519",
                "public_key": public_text(key.signing_key),
                "active": key.active,
            }
            for key in self.keys
        ]

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        inner = ", ".join(f"{key.kid!r}{'' if key.active else ' (retired)'}" for key in self.keys)
        return f"Keyring([{inner}])"
