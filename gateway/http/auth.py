"""Back-office tokens (SPEC section 2): HS256 JWTs from `Authorization: Bearer` or the
`accessToken` cookie, turned into a `Principal`.

`TokenService` mints and verifies; `Authenticator.require(req, …)` is what resources call:
it raises a `ProtocolError` in the caller's protocol family shape (401 missing/bad/expired
token or a claim of the wrong type or size, 403 missing role or permission or ids that name
no record). Token text never reaches a log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import falcon
import jwt

from gateway.core import network
from gateway.core.clock import Clock, unix
from gateway.core.errors import Forbidden as CoreForbidden
from gateway.core.principal import ROLES, Principal
from gateway.http.inputs import storable
from gateway.http.protocol import Protocols

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, malformed, expired or signed with another key."""


class TokenService:
    def __init__(self, secret: str, clock: Clock, *, ttl_s: int = 900) -> None:
        self._secret = secret
        self._clock = clock
        self.ttl_s = ttl_s
        # A cashier sends the same token with every request: its signature and claims are
        # checked once (refused tokens are never remembered); expiry is checked every time.
        self._checked = lru_cache(maxsize=4096)(self._check)

    def mint(self, principal: Principal, *, ttl_s: int | None = None) -> str:
        now = self._clock.now()
        claims: dict[str, object] = {
            "sub": principal.user_id,
            "role": principal.role,
            "permissions": sorted(principal.permissions),
            "iat": unix(now),
            "exp": unix(now + dt.timedelta(seconds=ttl_s or self.ttl_s)),
            "jti": str(uuid.uuid4()),
        }
        for claim, value in (
            ("bancaId", principal.banca_id),
            ("ventanaId", principal.ventana_id),
            ("vendedorId", principal.vendedor_id),
        ):
            if value is not None:
                claims[claim] = value
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal a validly signed, unexpired token describes; `InvalidToken` for
        anything else, a claim of the wrong type or size included (SPEC 0: never a 500)."""
        principal, exp = self._checked(token)
        # Expiry is checked against the injected clock, not the wall clock.
        if exp <= unix(self._clock.now()):
            raise InvalidToken("expired")
        return principal

    def _check(self, token: str) -> tuple[Principal, int]:
        """The signature and every claim but expiry: the principal and its `exp`."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "role", "exp", "iat"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        if not isinstance(claims, dict):
            raise InvalidToken("bad_claims")
        exp = _timestamp(claims, "exp")
        _timestamp(claims, "iat")  # type and range; PyJWT already refused one in the future
        role = claims["role"]
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidToken("bad_claims")
        if "jti" in claims:
            _text(claims, "jti", MAX_JTI)
        principal = Principal(
            user_id=_text(claims, "sub", MAX_SUB),
            role=role,
            banca_id=_optional_id(claims, "bancaId"),
            ventana_id=_optional_id(claims, "ventanaId"),
            vendedor_id=_optional_id(claims, "vendedorId"),
            permissions=_permissions(claims),
        )
        return principal, exp


# Claim limits: `sub` is stored as the actor (`PlayerToken.created_by` holds 100 characters),
# ids are the network's 36-character primary keys.
MAX_SUB = 100
MAX_ID = 36
MAX_JTI = 100
MAX_PERMISSION = 64
MAX_PERMISSIONS = 64
# Seconds since the epoch that fit the 64-bit integers every database stores.
MAX_TIMESTAMP = 2**63 - 1


def _timestamp(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIMESTAMP:
        raise InvalidToken("bad_claims")
    return value


def _text(claims: dict[str, Any], name: str, max_length: int) -> str:
    value = claims[name]
    if not isinstance(value, str) or not 0 < len(value) <= max_length or not storable(value):
        raise InvalidToken("bad_claims")
    return value


def _optional_id(claims: dict[str, Any], name: str) -> str | None:
    if claims.get(name) is None:
        return None
    return _text(claims, name, MAX_ID)


def _permissions(claims: dict[str, Any]) -> frozenset[str]:
    value = claims.get("permissions", [])
    if not isinstance(value, list) or len(value) > MAX_PERMISSIONS:
        raise InvalidToken("bad_claims")
    for item in value:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_PERMISSION or not storable(item):
            raise InvalidToken("bad_claims")
    return frozenset(value)


def token_from(req: falcon.Request) -> str | None:
    header = req.get_header("Authorization") or ""
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    cookies = req.get_cookie_values("accessToken")
    return cookies[0] if cookies else None


class Authenticator:
    """Verifies the token, checks role and permission, then resolves the principal against
    the records (`network.resolve_principal`): ids that name nothing are 403, and a
    VENTANA or VENDEDOR acts for the banca (and window) that the records say it belongs to.
    A 401 writes nothing: `on_refused(reason)` counts it (the per-minute rejection tally)."""

    def __init__(
        self,
        tokens: TokenService,
        protocols: Protocols,
        resolve: Callable[[Principal], Principal] = network.resolve_principal,
        on_refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._tokens = tokens
        self._protocols = protocols
        self._resolve = resolve
        self._on_refused = on_refused

    def require(
        self,
        req: falcon.Request,
        *,
        roles: Iterable[str] | None = None,
        permission: str | None = None,
    ) -> Principal:
        path = req.path or ""
        token = token_from(req)
        if not token:
            self._on_refused("missing_token")
            raise self._protocols.error(path, 401, reason="unauthenticated")
        try:
            principal = self._tokens.verify(token)
        except InvalidToken:
            self._on_refused("invalid_token")
            raise self._protocols.error(path, 401, reason="unauthenticated") from None
        if roles is not None and principal.role not in set(roles):
            raise self._protocols.error(path, 403, reason="forbidden")
        if permission is not None and not principal.has(permission):
            raise self._protocols.error(path, 403, reason="forbidden")
        try:
            principal = self._resolve(principal)
        except CoreForbidden:
            raise self._protocols.error(path, 403, reason="forbidden") from None
        req.context.principal = principal
        return principal
