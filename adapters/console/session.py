"""Console sessions, CSRF tokens and the cookies that carry them.

A console login is a back-office login (`gateway.core.users.login`: the same password check,
lockout and audit line); the session is the refresh token of that login, kept unspent in
the `accessToken` cookie (Path `/console`, HttpOnly, SameSite=Strict, Secure when
configured) and checked against its row on every request (`users.session_user`), so
logging out (`users.logout`: its family revoked) ends it for good.

CSRF: every form carries `csrf`, an HMAC of the session token under the service's secret
(a per-session secret that no other site can read or compute), compared in constant time on
every POST. The login form, before any session, carries an HMAC of a random `consoleLogin`
cookie instead. Nothing here logs or shows a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

import falcon

from gateway.core import network, users
from gateway.core.clock import Clock
from gateway.core.errors import Forbidden

PATH = "/console"
SESSION_COOKIE = "accessToken"
LOGIN_COOKIE = "consoleLogin"
LANG_COOKIE = "consoleLang"
FLASH_COOKIE = "consoleFlash"
MAX_TOKEN = 200


class Sessions:
    def __init__(self, secret: str, clock: Clock, *, secure: bool) -> None:
        self._key = hashlib.sha256(("pamgate-console\0" + secret).encode()).digest()
        self._clock = clock
        self.secure = secure

    # --- cookies ---

    def _cookie(self, resp: falcon.Response, name: str, value: str, max_age: int | None) -> None:
        resp.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PATH,
            http_only=True,
            secure=self.secure,
            same_site="Strict",
        )

    def _forget(self, resp: falcon.Response, name: str) -> None:
        resp.unset_cookie(name, path=PATH, same_site="Strict")

    def start(self, resp: falcon.Response, token: str) -> None:
        """The session cookie for a new login (a browser-session cookie: it goes when the
        browser closes; the server ends it after `users.CONSOLE_SESSION_TTL` anyway)."""
        self._cookie(resp, SESSION_COOKIE, token, None)
        self._forget(resp, LOGIN_COOKIE)

    def end(self, resp: falcon.Response) -> None:
        self._forget(resp, SESSION_COOKIE)

    def remember_lang(self, resp: falcon.Response, lang: str) -> None:
        self._cookie(resp, LANG_COOKIE, lang, 365 * 24 * 3600)

    # --- the session ---

    @staticmethod
    def token(req: falcon.Request) -> str | None:
        values = req.get_cookie_values(SESSION_COOKIE) or []
        for value in values:
            if 0 < len(value) <= MAX_TOKEN:
                return value
        return None

    def user(self, req: falcon.Request) -> users.SessionUser | None:
        """The signed-in user, its principal resolved against the records, or None (no
        session, an ended one, or a user whose window no longer exists)."""
        token = self.token(req)
        if token is None:
            return None
        try:
            found = users.session_user(token, self._clock.now())
            return users.SessionUser(network.resolve_principal(found.principal), found.username)
        except (users.InvalidRefreshToken, Forbidden):
            return None

    # --- CSRF ---

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def csrf(self, req: falcon.Request) -> str:
        token = self.token(req)
        return self._mac("csrf", token) if token else ""

    def csrf_ok(self, req: falcon.Request, sent: str | None) -> bool:
        token = self.token(req)
        if not token or not sent:
            return False
        return hmac.compare_digest(self._mac("csrf", token), sent)

    def login_csrf(self, req: falcon.Request, resp: falcon.Response) -> str:
        """The login form's token, from the `consoleLogin` cookie (set here when missing)."""
        values = [v for v in req.get_cookie_values(LOGIN_COOKIE) or [] if 0 < len(v) <= 64]
        nonce = values[0] if values else secrets.token_urlsafe(24)
        if not values:
            self._cookie(resp, LOGIN_COOKIE, nonce, 3600)
        return self._mac("login", nonce)

    def login_csrf_ok(self, req: falcon.Request, sent: str | None) -> bool:
        values = [v for v in req.get_cookie_values(LOGIN_COOKIE) or [] if 0 < len(v) <= 64]
        if not values or not sent:
            return False
        return hmac.compare_digest(self._mac("login", values[0]), sent)

    # --- the message after an action (Post/Redirect/Get) ---

    def flash(self, resp: falcon.Response, key: str, **fields: str) -> None:
        """What the next page says about the action just done: a catalog key and its
        fields, signed so no one else can make the console say something."""
        raw = json.dumps([key, fields], separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self._cookie(resp, FLASH_COOKIE, f"{body}.{self._mac('flash', body)}", 120)

    def take_flash(
        self, req: falcon.Request, resp: falcon.Response
    ) -> tuple[str, dict[str, str]] | None:
        values = req.get_cookie_values(FLASH_COOKIE) or []
        if not values:
            return None
        self._forget(resp, FLASH_COOKIE)
        body, _, mac = values[0].partition(".")
        if len(body) > 2000 or not hmac.compare_digest(self._mac("flash", body), mac):
            return None
        try:
            key, fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(key, str) or not isinstance(fields, dict):
            return None
        return key, {str(k): str(v) for k, v in fields.items()}
