"""Rendering console pages: the Jinja2 environment (autoescape on for every template) and
the headers every console response carries.

Pages never cache (`Cache-Control: no-store`: they show money and act on it), may not be
framed, and load scripts, styles and images only from pamgate itself (the CSP).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

import falcon
import jinja2

from adapters.console import formats, i18n
from adapters.console.session import LANG_COOKIE, Sessions
from gateway.core.principal import Principal

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@functools.cache
def environment() -> jinja2.Environment:
    """The templates, loaded once (on first use, never at import time); autoescape is on
    for every template, and an undefined name is an error, not an empty string."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("adapters.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(money=formats.money, plain=formats.plain)
    return env


def error_html(status: int, code: str, message: str, lang: str, path: str) -> str:
    """An error page: no navigation (the reader may not be signed in), a way back."""
    t = i18n.translator(lang)
    return (
        environment()
        .get_template("error.html")
        .render(
            t=t,
            lang=lang,
            other_lang="en" if lang == "es" else "es",
            path=path,
            me=None,
            csrf="",
            flash=None,
            problem=None,
            status=status,
            code=code,
            message=message,
        )
    )


class Pages:
    def __init__(self, sessions: Sessions, timezone: str) -> None:
        self.sessions = sessions
        self.zone = zoneinfo.ZoneInfo(timezone)
        self._env = environment()

    def lang(self, req: falcon.Request, resp: falcon.Response | None = None) -> str:
        query = req.get_param("lang")
        cookies = req.get_cookie_values(LANG_COOKIE) or []
        lang = i18n.choose(query, cookies[0] if cookies else None)
        if resp is not None and query in i18n.LANGS:
            self.sessions.remember_lang(resp, lang)
        return lang

    def render(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        *,
        status: int = 200,
        principal: Principal | None = None,
        **values: Any,
    ) -> None:
        lang = self.lang(req, resp)
        t = i18n.translator(lang)
        resp.status = status
        resp.content_type = falcon.MEDIA_HTML
        for name, value in SECURITY_HEADERS.items():
            resp.set_header(name, value)
        resp.text = self._env.get_template(template).render(
            t=t,
            lang=lang,
            other_lang="en" if lang == "es" else "es",
            path=req.path,
            me=principal,
            csrf=self.sessions.csrf(req) if principal else "",
            when=lambda moment: formats.when(moment, self.zone),
            method_key=i18n.method_key,
            **values,
        )

    def today(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.zone).date()
