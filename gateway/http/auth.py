"""Back-office tokens (SPEC section 2): HS256 JWTs from `Authorization: Bearer` or the
`accessToken` cookie, turned into a `Principal`.

`TokenService` mints and verifies; `Authenticator.require(req, …)` is what resources call:
it raises a `ProtocolError` in the caller's protocol family shape (401 missing/bad/expired
token, 403 missing role or permission). Token text never reaches a log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

import falcon
import jwt

from gateway.core.clock import Clock, unix
from gateway.core.principal import ROLES, Principal
from gateway.http.errors import BACKOFFICE, LOTTERY, PAYMENTS, ProtocolError, family_for

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, malformed, expired or signed with another key."""


class TokenService:
    def __init__(self, secret: str, clock: Clock, *, ttl_s: int = 900) -> None:
        self._secret = secret
        self._clock = clock
        self.ttl_s = ttl_s

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
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM],
                options={"require": ["sub", "role", "exp", "iat"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        # Expiry is checked against the injected clock, not the wall clock.
        if int(claims["exp"]) <= unix(self._clock.now()):
            raise InvalidToken("expired")
        role = claims.get("role")
        permissions = claims.get("permissions", [])
        if role not in ROLES or not isinstance(permissions, list):
            raise InvalidToken("bad_claims")
        return Principal(
            user_id=str(claims["sub"]),
            role=str(role),
            banca_id=claims.get("bancaId"),
            ventana_id=claims.get("ventanaId"),
            vendedor_id=claims.get("vendedorId"),
            permissions=frozenset(str(p) for p in permissions),
        )


def token_from(req: falcon.Request) -> str | None:
    header = req.get_header("Authorization") or ""
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    cookies = req.get_cookie_values("accessToken")
    return cookies[0] if cookies else None


def _unauthorized(family: str) -> ProtocolError:
    if family == LOTTERY:
        return ProtocolError(401, {"errors": ["Access denied"]}, reason="unauthenticated")
    if family == PAYMENTS:
        return ProtocolError(401, {"error": "Unauthorized"}, reason="unauthenticated")
    return ProtocolError(
        401,
        {"success": False, "error": {"code": "UNAUTHORIZED",
                                     "message": "Missing, invalid or expired token"}},
        reason="unauthenticated",
    )


def forbidden(family: str, code: str = "FORBIDDEN", message: str = "Forbidden") -> ProtocolError:
    if family == LOTTERY:
        return ProtocolError(403, {"errors": ["Access denied"]}, reason="forbidden")
    if family == PAYMENTS:
        return ProtocolError(403, {"error": "Forbidden"}, reason="forbidden")
    return ProtocolError(
        403, {"success": False, "error": {"code": code, "message": message}}, reason="forbidden"
    )


class Authenticator:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def require(
        self,
        req: falcon.Request,
        *,
        roles: Iterable[str] | None = None,
        permission: str | None = None,
    ) -> Principal:
        family = family_for(req.path) if req.path else BACKOFFICE
        token = token_from(req)
        if not token:
            raise _unauthorized(family)
        try:
            principal = self._tokens.verify(token)
        except InvalidToken:
            raise _unauthorized(family) from None
        if roles is not None and principal.role not in set(roles):
            raise forbidden(family)
        if permission is not None and not principal.has(permission):
            raise forbidden(family)
        req.context.principal = principal
        return principal
