"""The statements page: one dimension's days (table and chart of `remainingBalance`) and the
form that records an account payment or collection (`settlements.settle`, as the API).

The dimension comes as `ventanaId`, `vendedorId` or `bancaId` (the page's own links), or as
`dim=kind:id` from the picker; the range defaults to the last 30 business days.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import falcon

from adapters.console import chart, formats, forms
from adapters.console.resources import _Page, allowed, refusal
from gateway.core import errors, network, policy, settlements, statements, users
from gateway.core.money import exponent

PARAMS = {"ventanaId": "ventana", "vendedorId": "vendedor", "bancaId": "banca"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}")
_SETTLE = forms.Settle()
DEFAULT_DAYS = 30


def _date(text: str | None) -> dt.date | None:
    if not text or not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _dim(text: str | None) -> tuple[str, str] | None:
    kind, _, ident = (text or "").partition(":")
    if kind in PARAMS.values() and 0 < len(ident) <= 36:
        return kind, ident
    return None


def _gate(principal: Any) -> None:
    policy.settle_account_kind(principal, "ventana")


class Statements(_Page):
    """`GET /console/statements?ventanaId|vendedorId|bancaId=…&from=…&to=…`."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        chosen = next(
            (
                (kind, req.get_param(name) or "")
                for name, kind in PARAMS.items()
                if req.get_param(name)
            ),
            None,
        ) or _dim(req.get_param("dim"))
        self.show(req, resp, user, chosen)

    def show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        user: users.SessionUser,
        chosen: tuple[str, str] | None,
        *,
        status: int = 200,
        form: dict[str, Any] | None = None,
        errors_: dict[str, str] | None = None,
    ) -> None:
        p, t = user.principal, self._t(req)
        if not allowed(_gate, p):
            raise refusal(403, "FORBIDDEN", t("error_403"))
        options = self._options(p)
        if chosen is None and options:
            chosen = (options[0][0], options[0][1])
        today = self._d.pages.today(self._d.clock.now())
        last = _date(req.get_param("to")) or today
        first = _date(req.get_param("from")) or last - dt.timedelta(days=DEFAULT_DAYS - 1)
        problems = dict(errors_ or {})
        days: list[statements.StatementDay] = []
        if chosen is not None and first > last:
            problems["from"] = t("err_range")
        elif chosen is not None:
            try:
                days = statements.statements(p, chosen[0], chosen[1], first, last)
            except errors.Forbidden:
                raise refusal(403, "FORBIDDEN", t("error_403")) from None
            except errors.NotFound:
                raise refusal(404, "NOT_FOUND", t("error_404")) from None
            except errors.Invalid as exc:
                problems["to"] = exc.message
        local_now = self._d.clock.now().astimezone(self._d.pages.zone)
        values = {
            "date": today.isoformat(),
            "time": local_now.strftime("%H:%M"),
            "amount": "",
            "type": "payment",
            "method": "cash",
            "notes": "",
            "isFinal": False,
            **(form or {}),
        }
        self._render(
            req,
            resp,
            "statements.html",
            user,
            status=status,
            options=options,
            chosen=f"{chosen[0]}:{chosen[1]}" if chosen else "",
            first=first.isoformat(),
            last=last.isoformat(),
            days=days,
            chart=chart.build(
                [d.remaining_balance for d in days], [d.day.isoformat() for d in days]
            ),
            currency=days[0].currency if days else "",
            methods=forms.ACCOUNT_METHODS,
            form=values,
            form_key=str(uuid.uuid4()),
            errors=problems,
        )

    @staticmethod
    def _options(principal: Any) -> list[tuple[str, str, str]]:
        """(kind, id, label) of every account the caller may read."""
        found: list[tuple[str, str, str]] = []
        found += [("ventana", v.id, v.name) for v in network.list_ventanas(principal)]
        found += [("vendedor", s.id, s.name) for s in network.list_vendedores(principal)]
        if allowed(lambda q: policy.settle_account_kind(q, "banca"), principal):
            found += [("banca", b.id, b.name) for b in network.list_bancas(principal)]
        return found


class StatementPayment(Statements):
    """`POST /console/statements/payment`: an account payment or collection of the chosen
    dimension (`dim`), then back to its statement."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = self._user(req, resp)
        if user is None:
            return
        t = self._t(req)
        values, problems = forms.load(_SETTLE, self._form(req))
        chosen = _dim(str(values.get("dim", "")))
        if chosen is None or "idempotencyKey" in problems:
            raise refusal(400, "BAD_FORM", t("error_400"))
        p = user.principal
        try:
            currency = settlements.currency_of(*chosen)
        except errors.NotFound:
            raise refusal(404, "NOT_FOUND", t("error_404")) from None
        found: dict[str, str] = {}
        day = _date(str(values.get("date", "")))
        if day is None:
            found["date"] = t("err_date")
        time = str(values.get("time", "")) or "00:00"
        if not _TIME.fullmatch(time) or not ("00:00" <= time <= "23:59" and time[3] < "6"):
            found["time"] = t("err_time")
        if "type" in problems:
            found["type"] = t("err_type")
        if "method" in problems:
            found["method"] = t("err_method")
        if "notes" in problems:
            found["notes"] = t("err_notes", n=500)
        amount = 0
        try:
            amount = formats.parse_amount(str(values.get("amount", "")), currency)
        except formats.AmountProblem as exc:
            found["amount"] = t(exc.key, places=exponent(currency))
        if found or day is None:
            self.show(req, resp, user, chosen, status=400, form=values, errors_=found)
            return
        cmd = settlements.SettleAccount(
            kind=chosen[0],
            dimension_id=chosen[1],
            day=day,
            time=time,
            amount=amount,
            type=values["type"],
            method=values["method"],
            notes=values["notes"] or None,
            is_final=bool(values["isFinal"]),
            idempotency_key=values["idempotencyKey"],
        )
        try:
            outcome = settlements.settle(self._context(req, p), p, cmd)
        except settlements.FutureDate:
            found["date"] = t("err_future_date")
        except settlements.FutureTime:
            found["time"] = t("err_future_time")
        except errors.IdempotencyConflict:
            found["amount"] = t("err_resent")
        except errors.Forbidden:
            raise refusal(403, "FORBIDDEN", t("error_403")) from None
        except errors.CoreError as exc:
            raise self._refused(req, exc) from None
        if found:
            self.show(req, resp, user, chosen, status=400, form=values, errors_=found)
            return
        settled = outcome.result
        self._d.sessions.flash(
            resp,
            "flash_settled",
            amount=formats.money(settled.payment.amount, settled.payment.currency),
        )
        param = {v: k for k, v in PARAMS.items()}[chosen[0]]
        self._redirect(resp, f"/console/statements?{param}={chosen[1]}")
