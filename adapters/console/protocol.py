"""The console family, declared: everything under `/console`, people signed in with a
console session (checked by the pages themselves), errors rendered as an HTML page in the
reader's language (`{"code", "message"}` is the family's body, shown on that page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon

from adapters.console import i18n, resources, statements_pages
from adapters.console.pages import SECURITY_HEADERS, Pages, error_html
from adapters.console.session import LANG_COOKIE, Sessions
from adapters.console.static_files import Static
from gateway.core.errors import CoreError
from gateway.http.errors import ProtocolError
from gateway.http.protocol import Protocol
from gateway.logs import get_logger

log = get_logger("pamgate.console")


def error_body(status: int, code: str, message: str) -> Mapping[str, Any]:
    return {"code": code, "message": message}


def from_core(exc: CoreError) -> ProtocolError:
    """A core refusal no page handled: said in general words by its status."""
    status = {"forbidden": 403, "not_found": 404}.get(exc.code, 409)
    return ProtocolError(status, error_body(status, exc.code.upper(), ""), reason=exc.code)


def error_page(
    req: falcon.Request, resp: falcon.Response, status: int, body: Mapping[str, Any]
) -> str:
    """The error as a page in the reader's language: the page's own words when a console
    page gave them (`localized`), else the words for the status (falcon's titles and the
    generic English messages are not for people at a counter)."""
    cookies = req.get_cookie_values(LANG_COOKIE) or []
    lang = i18n.choose(req.get_param("lang"), cookies[0] if cookies else None)
    t = i18n.translator(lang)
    code = str(body.get("code", "ERROR"))
    key = f"error_{status}"
    if body.get("localized") and body.get("message"):
        message = str(body["message"])
    else:
        message = t(key) if key in i18n.TEXTS else t("error_other")
    for name, value in SECURITY_HEADERS.items():
        resp.set_header(name, value)
    try:
        return error_html(status, code, message, lang, req.path or "/console")
    except Exception as exc:  # the error page itself must never fail
        log.error("console_error_page_failed", exc_info=exc)
        return f"<!doctype html><title>{status}</title><p>{status}</p>"


def mount(app: falcon.App, services: Any) -> None:
    config = services.config
    sessions = Sessions(config.jwt_secret, services.clock, secure=config.secure_cookies)
    pages = Pages(sessions, config.timezone)
    deps = resources.Deps(
        pages,
        services.clock,
        services.metrics,
        approval_threshold=config.payout_approval_threshold,
    )
    app.add_route("/console", resources.Home(deps))
    app.add_route("/console/login", resources.Login(deps))
    app.add_route("/console/logout", resources.Logout(deps))
    app.add_route("/console/tickets", resources.TicketSearch(deps))
    app.add_route("/console/tickets/{ticket_id}", resources.TicketPage(deps))
    app.add_route("/console/tickets/{ticket_id}/pay", resources.TicketPay(deps))
    app.add_route("/console/payments/{payment_id}/reverse", resources.PaymentReverse(deps))
    app.add_route("/console/approvals", resources.Approvals(deps))
    app.add_route("/console/approvals/{payment_id}/approve", resources.Approve(deps))
    app.add_route("/console/outbox", resources.Outbox(deps))
    app.add_route("/console/outbox/{message_id}/retry", resources.OutboxRetry(deps))
    app.add_route("/console/health", resources.Health(deps))
    app.add_route("/console/statements", statements_pages.Statements(deps))
    app.add_route("/console/statements/payment", statements_pages.StatementPayment(deps))
    app.add_route("/console/static/{name}", Static())


PROTOCOL = Protocol(
    name="console",
    prefixes=("/console",),
    caller="none",
    error_body=error_body,
    from_core=from_core,
    mount=mount,
    error_page=error_page,
)
