"""The console's pages: thin falcon resources, one per route.

Each handler finds the signed-in user (no session: back to the login page), checks the CSRF
token of a POST, validates the form (`forms`), calls core services (the same functions as
the JSON API, so the same rules, RBAC, idempotency and audit lines) and renders a template.
After an action it redirects (303) to the page that shows the result, with a flash message;
a form with mistakes comes back with each error said next to its field.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from typing import Any

import falcon

from adapters.console import formats, forms, i18n
from adapters.console.pages import Pages
from gateway.core import audit, errors, outbox_admin, payouts, policy, reconcile, users
from gateway.core.audit import Actor
from gateway.core.clock import Clock
from gateway.core.commands import Context
from gateway.core.money import exponent
from gateway.core.outbox import STATES, OutboxStateError
from gateway.core.principal import Principal
from gateway.http.errors import ProtocolError
from gateway.http.metrics import Metrics

_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_LOGIN, _PAY, _REVERSE, _PLAIN = forms.Login(), forms.Pay(), forms.Reverse(), forms.Plain()


def refusal(status: int, code: str, message: str) -> ProtocolError:
    """An error page (the console family's shape: `{"code", "message"}`)."""
    body = {"code": code, "message": message, "localized": True}
    return ProtocolError(status, body, reason=code.lower())


def _reverse_gate(principal: Principal, *, window: str) -> None:
    policy.reverse_ticket_payment(principal, window)


def allowed(decision: Callable[[Principal], None], principal: Principal) -> bool:
    """Whether a policy decision lets `principal` through (to show a link or a button)."""
    try:
        decision(principal)
    except errors.Forbidden:
        return False
    return True


class Deps:
    """What every console resource is built from."""

    def __init__(
        self, pages: Pages, clock: Clock, metrics: Metrics, *, approval_threshold: int
    ) -> None:
        self.pages = pages
        self.sessions = pages.sessions
        self.clock = clock
        self.metrics = metrics
        self.approval_threshold = approval_threshold


class _Page:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    # --- who ---

    def _user(self, req: falcon.Request, resp: falcon.Response) -> users.SessionUser | None:
        """The signed-in user; None after answering with a redirect to the login page."""
        found = self._d.sessions.user(req)
        if found is None:
            if self._d.sessions.token(req):
                self._d.sessions.end(resp)
                self._redirect(resp, "/console?ended=1")
            else:
                self._redirect(resp, "/console")
        return found

    def _context(self, req: falcon.Request, principal: Principal) -> Context:
        return Context(
            actor=Actor("user", principal.user_id),
            now=self._d.clock.now(),
            request_id=req.context.request_id,
        )

    def _t(self, req: falcon.Request) -> Callable[..., str]:
        return i18n.translator(self._d.pages.lang(req))

    # --- forms ---

    def _form(self, req: falcon.Request) -> dict[str, str]:
        """The POSTed form, its CSRF token checked (403 page when missing or wrong)."""
        try:
            data = forms.decode(req.context.raw_body)
        except forms.BadForm:
            raise refusal(400, "BAD_FORM", self._t(req)("error_400")) from None
        if not self._d.sessions.csrf_ok(req, data.get("csrf")):
            raise refusal(403, "CSRF", self._t(req)("err_csrf"))
        return data

    # --- answers ---

    @staticmethod
    def _redirect(resp: falcon.Response, location: str) -> None:
        resp.status = 303
        resp.location = location
        resp.set_header("Cache-Control", "no-store")
        resp.text = ""

    def _render(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        user: users.SessionUser,
        **values: Any,
    ) -> None:
        values.setdefault("flash", None)
        values.setdefault("problem", None)
        taken = self._d.sessions.take_flash(req, resp)
        if taken is not None and values["flash"] is None:
            key, fields = taken
            values["flash"] = self._t(req)(key, **fields)
        p = user.principal
        can = {
            "admin": allowed(policy.review_approvals, p),
            "statements": allowed(lambda q: policy.settle_account_kind(q, "ventana"), p),
        }
        self._d.pages.render(
            req, resp, template, principal=p, username=user.username, can=can, **values
        )

    def _refused(self, req: falcon.Request, exc: errors.CoreError) -> ProtocolError:
        """A core refusal that ends the page: 403, 404 or 409, in words."""
        t = self._t(req)
        if isinstance(exc, errors.Forbidden):
            return refusal(403, "FORBIDDEN", t("error_403"))
        if isinstance(exc, errors.NotFound):
            return refusal(404, "NOT_FOUND", t("error_404"))
        return refusal(409, exc.code.upper(), t("err_refused", message=exc.message))


# --- login, logout, search ----------------------------------------------------------------------


class Home(_Page):
    """`GET /console`: the ticket search when signed in, else the login form."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._d.sessions.user(req)
        if user is not None:
            self._render(req, resp, "search.html", user, q="", found=[], errors={})
            return
        t = self._t(req)
        flash = None
        if req.get_param("ended") and self._d.sessions.token(req) is None:
            flash = t("session_ended")
        if req.get_param("bye"):
            flash = t("logged_out")
        if self._d.sessions.token(req):
            self._d.sessions.end(resp)
        login_page(self._d, req, resp, flash=flash)


def login_page(
    deps: Deps,
    req: falcon.Request,
    resp: falcon.Response,
    *,
    status: int = 200,
    username: str = "",
    errors: dict[str, str] | None = None,
    flash: str | None = None,
    problem: str | None = None,
) -> None:
    deps.pages.render(
        req,
        resp,
        "login.html",
        status=status,
        login_csrf=deps.sessions.login_csrf(req, resp),
        username_value=username,
        errors=errors or {},
        flash=flash,
        problem=problem,
    )


class Login(_Page):
    """`POST /console/login` `username`, `password`, `csrf`: a back-office login
    (`users.login`: lockout and audit as the API's), then the session cookie."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._redirect(resp, "/console")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        t = self._t(req)
        try:
            data = forms.decode(req.context.raw_body)
        except forms.BadForm:
            raise refusal(400, "BAD_FORM", t("error_400")) from None
        values, problems = forms.load(_LOGIN, data)
        username = str(values.get("username", ""))[:100]
        if not self._d.sessions.login_csrf_ok(req, data.get("csrf")):
            login_page(
                self._d, req, resp, status=403, username=username, problem=t("err_login_expired")
            )
            return
        found = {k: t("err_too_long") for k in problems if k in ("username", "password")}
        for name in ("username", "password"):
            if not found.get(name) and not values.get(name):
                found[name] = t("err_required")
        if found:
            login_page(self._d, req, resp, status=400, username=username, errors=found)
            return
        ctx = Context(
            actor=Actor("anonymous"), now=self._d.clock.now(), request_id=req.context.request_id
        )
        try:
            session = users.login(ctx, values["username"], values["password"])
        except users.TooManyAttempts as exc:
            wait = int(exc.details.get("retry_after", 900))
            login_page(
                self._d,
                req,
                resp,
                status=429,
                username=username,
                problem=t("err_locked", minutes=max(1, (wait + 59) // 60)),
            )
            return
        except users.InvalidCredentials:
            login_page(
                self._d,
                req,
                resp,
                status=401,
                username=username,
                errors={"password": t("err_credentials")},
            )
            return
        self._d.sessions.start(resp, session.refresh_token)
        self._redirect(resp, "/console")


class Logout(_Page):
    """`POST /console/logout`: the session's family revoked, the cookie dropped."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        forms.load(_PLAIN, self._form(req))
        token = self._d.sessions.token(req)
        if token:
            users.logout(self._context(req, user.principal), token)
        self._d.sessions.end(resp)
        self._redirect(resp, "/console?bye=1")


class TicketSearch(_Page):
    """`GET /console/tickets?q=`: by ticket id or code; one hit opens its page."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        q = (req.get_param("q") or "").strip()[:100]
        if not q:
            self._redirect(resp, "/console")
            return
        try:
            found = payouts.find_tickets(user.principal, q)
        except errors.Forbidden:
            raise refusal(403, "FORBIDDEN", self._t(req)("forbidden_ticket")) from None
        if len(found) == 1:
            self._redirect(resp, f"/console/tickets/{found[0].id}")
            return
        problems = {} if found else {"q": self._t(req)("err_not_found")}
        self._render(
            req,
            resp,
            "search.html",
            user,
            status=200 if found else 404,
            q=q,
            found=found,
            errors=problems,
        )


# --- a ticket: its page, paying it, reversing a payment ------------------------------------------


class TicketPage(_Page):
    """`GET /console/tickets/{ticket_id}`: status, result, payout, paid, remaining, the pay
    form (a fresh idempotency key per render) and the payment history."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: str) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        self.show(req, resp, user, ticket_id)

    def show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        user: users.SessionUser,
        ticket_id: str,
        *,
        status: int = 200,
        form: dict[str, Any] | None = None,
        errors_: dict[str, str] | None = None,
        problem: str | None = None,
    ) -> None:
        p = user.principal
        if not _ID.fullmatch(ticket_id):
            raise refusal(404, "NOT_FOUND", self._t(req)("error_404"))
        try:
            ticket = payouts.ticket_summary(p, ticket_id)
            history = payouts.history(p, ticket_id)
        except errors.Forbidden:
            raise refusal(403, "FORBIDDEN", self._t(req)("forbidden_ticket")) from None
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        reversible = {
            pay.id
            for pay in history.payments
            if not pay.is_reversed
            and allowed(functools.partial(_reverse_gate, window=pay.ventana_id), p)
        }
        payable = ticket.result == "won" and ticket.status == "EVALUATED" and ticket.remaining > 0
        self._render(
            req,
            resp,
            "ticket.html",
            user,
            status=status,
            ticket=ticket,
            history=history,
            payable=payable,
            reversible=reversible,
            methods=forms.PAY_METHODS,
            form={"amount": "", "method": "cash", "isFinal": False, "notes": "", **(form or {})},
            form_key=str(uuid.uuid4()),
            errors=errors_ or {},
            problem=problem,
        )


class TicketPay(TicketPage):
    """`POST /console/tickets/{ticket_id}/pay` `amount`, `method`, `isFinal`, `notes`,
    `idempotencyKey`, `csrf`: SPEC's ticket payment through `payouts.pay`. The same form
    sent twice (same key, same values) pays once and shows that payment."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: str) -> None:
        self._redirect(
            resp, f"/console/tickets/{ticket_id}" if _ID.fullmatch(ticket_id) else "/console"
        )

    def on_post(self, req: falcon.Request, resp: falcon.Response, ticket_id: str) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        t = self._t(req)
        values, problems = forms.load(_PAY, self._form(req))
        if not _ID.fullmatch(ticket_id):
            raise refusal(404, "NOT_FOUND", t("error_404"))
        try:
            currency = payouts.currency_of(ticket_id)
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        found: dict[str, str] = {}
        if "method" in problems:
            found["method"] = t("err_method")
        if "notes" in problems:
            found["notes"] = t("err_notes", n=forms.MAX_NOTES)
        if "idempotencyKey" in problems or "csrf" in problems:
            raise refusal(400, "BAD_FORM", t("err_csrf"))
        amount = 0
        try:
            amount = formats.parse_amount(str(values.get("amount", "")), currency)
        except formats.AmountProblem as exc:
            found["amount"] = t(exc.key, places=exponent(currency))
        if found:
            self.show(req, resp, user, ticket_id, status=400, form=values, errors_=found)
            return
        cmd = payouts.PayTicket(
            ticket_id=ticket_id,
            amount=amount,
            method=values["method"],
            is_final=bool(values["isFinal"]),
            notes=values["notes"] or None,
            idempotency_key=values["idempotencyKey"],
            ventana_id=None,
        )
        try:
            outcome = payouts.pay(
                self._context(req, user.principal),
                user.principal,
                cmd,
                approval_threshold=self._d.approval_threshold,
            )
        except payouts.ExceedsRemaining as exc:
            remaining = int(exc.details.get("remaining", 0))
            found["amount"] = t("err_exceeds", remaining=formats.money(remaining, currency))
            self.show(req, resp, user, ticket_id, status=400, form=values, errors_=found)
            return
        except (
            payouts.NotAWinner,
            payouts.NotPayable,
            payouts.PaymentInProgress,
            errors.IdempotencyConflict,
        ) as exc:
            problem = {
                payouts.NotAWinner: t("err_not_winner"),
                payouts.PaymentInProgress: t("err_in_progress"),
                errors.IdempotencyConflict: t("err_resent"),
            }.get(type(exc)) or t(
                "err_not_payable_status",
                status=payouts.ticket_summary(user.principal, ticket_id).status,
            )
            self.show(req, resp, user, ticket_id, status=409, form=values, problem=problem)
            return
        except errors.Forbidden:
            raise refusal(403, "FORBIDDEN", t("forbidden_ticket")) from None
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        payment: payouts.PaymentView = outcome.result
        if outcome.replayed:
            self._d.metrics.idempotent_replays.labels("console").inc()
        key = (
            "flash_paid_again"
            if outcome.replayed
            else "flash_pending"
            if payment.pending_approval
            else "flash_paid"
        )
        self._d.sessions.flash(resp, key, amount=formats.money(payment.amount, payment.currency))
        self._redirect(resp, f"/console/tickets/{payment.ticket_id}")


class PaymentReverse(TicketPage):
    """`POST /console/payments/{payment_id}/reverse` `reason`, `ticket`, `csrf` (ADMIN, or
    the VENTANA of the paying window: `payouts.reverse` decides)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        t = self._t(req)
        values, _ = forms.load(_REVERSE, self._form(req))
        reason = str(values.get("reason", "")).strip()
        if not _ID.fullmatch(payment_id):
            raise refusal(404, "NOT_FOUND", t("error_404"))
        if not reason:
            raise refusal(400, "VALIDATION_ERROR", t("err_reason"))
        try:
            outcome = payouts.reverse(
                self._context(req, user.principal), user.principal, payment_id, reason
            )
        except errors.AlreadyReversed:
            raise refusal(409, "ALREADY_REVERSED", t("err_already_reversed")) from None
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        payment: payouts.PaymentView = outcome.result
        self._d.sessions.flash(
            resp, "flash_reversed", amount=formats.money(payment.amount, payment.currency)
        )
        self._redirect(resp, f"/console/tickets/{payment.ticket_id}")


# --- approvals, outbox, health (ADMIN) -----------------------------------------------------------


class Approvals(_Page):
    """`GET /console/approvals`: payments waiting for a second user (ADMIN)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        try:
            waiting = payouts.pending_approvals(user.principal)
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        self._render(req, resp, "approvals.html", user, waiting=waiting)


class Approve(_Page):
    """`POST /console/approvals/{payment_id}/approve` (an ADMIN other than the maker)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, payment_id: str) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        forms.load(_PLAIN, self._form(req))
        if not _ID.fullmatch(payment_id):
            raise refusal(404, "NOT_FOUND", self._t(req)("error_404"))
        try:
            outcome = payouts.approve(
                self._context(req, user.principal), user.principal, payment_id
            )
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        payment: payouts.PaymentView = outcome.result
        self._d.sessions.flash(
            resp, "flash_approved", amount=formats.money(payment.amount, payment.currency)
        )
        self._redirect(resp, "/console/approvals")


class Outbox(_Page):
    """`GET /console/outbox?state=dead`: messages by state (ADMIN), newest first."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        state = req.get_param("state") or "dead"
        if state not in STATES:
            state = "dead"
        try:
            page = outbox_admin.list_messages(user.principal, state, limit=100)
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        counts = {s: outbox_admin.count(s) for s in STATES}
        self._render(
            req,
            resp,
            "outbox.html",
            user,
            state=state,
            states=STATES,
            counts=counts,
            entries=page.entries,
        )


class OutboxRetry(_Page):
    """`POST /console/outbox/{message_id}/retry`: a dead letter sent again (ADMIN)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, message_id: str) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        forms.load(_PLAIN, self._form(req))
        if not _ID.fullmatch(message_id):
            raise refusal(404, "NOT_FOUND", self._t(req)("error_404"))
        try:
            outbox_admin.retry_message(
                self._context(req, user.principal), user.principal, message_id
            )
        except OutboxStateError as exc:
            message = self._t(req)("err_refused", message=exc.message)
            raise refusal(409, "INVALID_STATE", message) from None
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        self._d.sessions.flash(resp, "flash_retried", id=message_id)
        self._redirect(resp, "/console/outbox?state=dead")


class Health(_Page):
    """`GET /console/health`: the reconciliation report and the audit chain check (ADMIN)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        try:
            policy.watch_books(user.principal)
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        report = reconcile.reconcile()
        chain = audit.verify()
        self._render(req, resp, "health.html", user, report=report, chain=chain)
