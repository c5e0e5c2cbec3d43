"""Back-office sessions (SPEC 2): `POST /api/v1/auth/login` and `POST /api/v1/auth/refresh`.

Both answer `{"success": true, "data": {"accessToken", "refreshToken", "expiresIn"}}` and
set the same tokens as HttpOnly, SameSite=Strict cookies. The core (`gateway.core.users`)
checks passwords, counts failures and rotates refresh tokens; this module mints the access
token (`TokenService.mint`) from the principal the core returns. Neither the password nor a
token is ever logged or echoed in an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import falcon
from marshmallow import RAISE, Schema, validate

from adapters.backoffice import translate
from adapters.text import Text
from gateway.core import users
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.errors import CoreError
from gateway.http.auth import TokenService

REFRESH_COOKIE_PATH = "/api/v1/auth"


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class LoginBody(_Strict):
    username = Text(required=True, validate=validate.Length(min=1, max=users.MAX_USERNAME))
    password = Text(required=True, validate=validate.Length(min=1, max=users.MAX_PASSWORD))


class RefreshBody(_Strict):
    refreshToken = Text(load_default=None, validate=validate.Length(min=1, max=200))


_LOGIN = LoginBody()
_REFRESH = RefreshBody()


@contextmanager
def _session_errors() -> Iterator[None]:
    """The session refusals, then every other core refusal through `translate`."""
    try:
        yield
    except users.TooManyAttempts as exc:
        raise translate.error(429, "TOO_MANY_ATTEMPTS", exc.message) from None
    except users.InvalidCredentials:
        raise translate.error(401, "INVALID_CREDENTIALS", "Invalid username or password") from None
    except users.InvalidRefreshToken:
        raise translate.error(
            401, "INVALID_REFRESH_TOKEN", "Invalid, expired or already used refresh token"
        ) from None
    except CoreError as exc:
        raise translate.from_core(exc) from None


class _SessionResource:
    def __init__(self, tokens: TokenService, clock: Clock, *, secure_cookies: bool = True) -> None:
        self._tokens = tokens
        self._clock = clock
        self._secure = secure_cookies

    def _context(self, req: falcon.Request) -> Context:
        return Context(
            actor=Actor("anonymous"), now=self._clock.now(), request_id=req.context.request_id
        )

    def _answer(self, resp: falcon.Response, session: users.Session) -> None:
        access = self._tokens.mint(session.principal)
        refresh_max_age = int((session.refresh_expires_at - self._clock.now()).total_seconds())
        resp.set_cookie(
            "accessToken",
            access,
            max_age=self._tokens.ttl_s,
            path="/",
            http_only=True,
            secure=self._secure,
            same_site="Strict",
        )
        resp.set_cookie(
            "refreshToken",
            session.refresh_token,
            max_age=refresh_max_age,
            path=REFRESH_COOKIE_PATH,
            http_only=True,
            secure=self._secure,
            same_site="Strict",
        )
        resp.set_header("Cache-Control", "no-store")
        resp.status = 200
        resp.media = translate.envelope(
            {
                "accessToken": access,
                "refreshToken": session.refresh_token,
                "expiresIn": self._tokens.ttl_s,
            }
        )


class Login(_SessionResource):
    """`POST /api/v1/auth/login` `{username, password}`: 401 `INVALID_CREDENTIALS`, 429
    `TOO_MANY_ATTEMPTS` while the user is locked."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = translate.load(_LOGIN, req.context.raw_body)
        with _session_errors():
            session = users.login(self._context(req), data["username"], data["password"])
        self._answer(resp, session)


class Refresh(_SessionResource):
    """`POST /api/v1/auth/refresh` `{refreshToken?}` (else the `refreshToken` cookie): a new
    pair; the presented token is spent, and presenting it again revokes its family."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = req.context.raw_body
        data: dict[str, Any] = translate.load(_REFRESH, raw) if raw and raw.strip() else {}
        token = data.get("refreshToken")
        if token is None:
            cookies = req.get_cookie_values("refreshToken")
            token = cookies[0] if cookies else None
        if not token:
            raise translate.error(401, "INVALID_REFRESH_TOKEN", "Missing refresh token")
        with _session_errors():
            session = users.refresh(self._context(req), token)
        self._answer(resp, session)
