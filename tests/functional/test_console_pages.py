"""The operator console over falcon's TestClient: login and logout, the session cookie,
CSRF, the ticket pages, paying (partial, final, a form sent twice), every refusal as a page,
escaping, the admin pages, the language switch."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import falcon.testing
import pytest

from gateway.core import users
from gateway.core.audit import Actor
from gateway.core.commands import Context
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA
from gateway.core.reconcile import reconcile
from gateway.store.models import AuditRecord, Ticket, TicketPayment
from tests.integration.test_ticket_payments import Shop, make_shop

PASSWORD = "correct horse battery"


@pytest.fixture
def shop(db: Any, clock: Any) -> Shop:
    return make_shop(clock)


def add_user(clock: Any, name: str, role: str, **ids: Any) -> None:
    ctx = Context(actor=Actor("system"), now=clock.now())
    users.add_user(ctx, users.NewUser(username=name, password=PASSWORD, role=role, **ids))


@pytest.fixture
def staff(shop: Shop, clock: Any) -> Shop:
    add_user(clock, "cajero", VENTANA, ventana_id=shop.ventana)
    add_user(clock, "cajero2", VENTANA, ventana_id=shop.other_ventana)
    add_user(clock, "vende2", VENDEDOR, vendedor_id=shop.other_vendedor)
    add_user(clock, "jefa", ADMIN)
    add_user(clock, "jefe", ADMIN)
    return shop


CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')
KEY_RE = re.compile(r'name="idempotencyKey" value="([^"]*)"')


def csrf_of(page: Any) -> str:
    found = CSRF_RE.search(page.text)
    assert found, page.text
    return found.group(1)


class Browser:
    """A TestClient that keeps cookies (Path /console) like a browser would."""

    def __init__(self, client: falcon.testing.TestClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}

    def _keep(self, result: Any) -> Any:
        for name, cookie in result.cookies.items():
            if cookie.value == "" or cookie.max_age == 0:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie.value
        return result

    def _headers(self) -> dict[str, str]:
        jar = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"Cookie": jar} if jar else {}

    def get(self, path: str, **params: str) -> Any:
        return self._keep(
            self.client.simulate_get(path, params=params or None, headers=self._headers())
        )

    def post(self, path: str, form: dict[str, str]) -> Any:
        headers = {**self._headers(), "Content-Type": "application/x-www-form-urlencoded"}
        body = urllib.parse.urlencode(form)
        return self._keep(self.client.simulate_post(path, body=body, headers=headers))

    def login(self, username: str, password: str = PASSWORD) -> Any:
        page = self.get("/console")
        token = csrf_of(page)
        return self.post(
            "/console/login", {"username": username, "password": password, "csrf": token}
        )


def form_of(page: Any) -> dict[str, str]:
    key = KEY_RE.search(page.text)
    assert key, page.text
    return {"csrf": csrf_of(page), "idempotencyKey": key.group(1)}


@pytest.fixture
def browser(client: falcon.testing.TestClient) -> Browser:
    return Browser(client)


def test_login_page_is_spanish_by_default_and_english_on_request(browser, staff):
    page = browser.get("/console")
    assert page.status_code == 200
    assert 'data-testid="login"' in page.text and "Iniciar sesión" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    english = browser.get("/console", lang="en")
    assert "Log in" in english.text
    assert "Log in" in browser.get("/console").text  # remembered


def test_login_pay_in_two_parts_then_paid(browser, staff, clock):
    resp = browser.login("cajero")
    assert resp.status_code == 303, resp.text
    session = resp.cookies["accessToken"]
    assert session.http_only and session.same_site == "Strict" and session.path == "/console"
    big = staff.winners["big"]
    found = browser.get("/console/tickets", q=big)
    assert found.status_code == 303 and found.headers["Location"].endswith(
        f"/console/tickets/{big}"
    )
    page = browser.get(f"/console/tickets/{big}")
    assert page.status_code == 200
    assert 'data-status="EVALUATED"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    done = browser.post(
        f"/console/tickets/{big}/pay", {**form_of(page), "amount": "20000", "method": "cash"}
    )
    assert done.status_code == 303, done.text
    page = browser.get(f"/console/tickets/{big}")
    assert 'data-testid="flash"' in page.text and "20,000.00" in page.text
    assert 'data-amount="30000.00"' in page.text
    done = browser.post(
        f"/console/tickets/{big}/pay",
        {**form_of(page), "amount": "30000,00", "isFinal": "true", "notes": "resto"},
    )
    assert done.status_code == 303
    page = browser.get(f"/console/tickets/{big}")
    assert 'data-status="PAID"' in page.text
    assert Ticket.get_by_id(big).status == "PAID"
    assert TicketPayment.select().where(TicketPayment.ticket == big).count() == 2
    assert reconcile().ok
    actions = {r.action for r in AuditRecord.select()}
    assert {"auth.login", "TICKET_PAY"} <= actions


def test_the_same_form_sent_twice_pays_once_and_shows_that_payment(browser, staff):
    big = staff.winners["big"]
    browser.login("cajero")
    page = browser.get(f"/console/tickets/{big}")
    form = {**form_of(page), "amount": "1000", "method": "cash"}
    first = browser.post(f"/console/tickets/{big}/pay", form)
    second = browser.post(f"/console/tickets/{big}/pay", form)
    assert (first.status_code, second.status_code) == (303, 303)
    assert TicketPayment.select().where(TicketPayment.ticket == big).count() == 1
    shown = browser.get(f"/console/tickets/{big}")
    assert 'data-testid="flash"' in shown.text and "una sola vez" in shown.text
    assert shown.text.count('data-testid="payment-row"') == 1
    # the same key with another amount: said next to the form, nothing paid
    altered = browser.post(f"/console/tickets/{big}/pay", {**form, "amount": "2000"})
    assert altered.status_code == 409 and 'data-testid="problem"' in altered.text
    assert TicketPayment.select().where(TicketPayment.ticket == big).count() == 1


def test_form_mistakes_are_said_next_to_the_field_and_pay_nothing(browser, staff):
    small = staff.winners["small"]  # 100,000.00 MXN
    browser.login("cajero")
    for typed, words in [
        ("", "Escriba el monto"),
        ("abc", "solo cifras"),
        ("20,000", "2 decimales"),
        ("1.001", "2 decimales"),
        ("-5", "solo cifras"),
        ("0", "mayor que cero"),
        ("٣٣", "solo cifras"),
        ("100000.01", "supera lo que falta"),
    ]:
        page = browser.get(f"/console/tickets/{small}")
        resp = browser.post(f"/console/tickets/{small}/pay", {**form_of(page), "amount": typed})
        assert resp.status_code == 400, (typed, resp.status_code)
        assert 'data-testid="error-amount"' in resp.text and words in resp.text, typed
    assert TicketPayment.select().count() == 0


def test_csrf_missing_or_wrong_is_refused_and_writes_nothing(browser, staff):
    big = staff.winners["big"]
    browser.login("cajero")
    page = browser.get(f"/console/tickets/{big}")
    form = {**form_of(page), "amount": "10"}
    for csrf in ("", "0" * 64, None):
        sent = dict(form)
        if csrf is None:
            del sent["csrf"]
        else:
            sent["csrf"] = csrf
        resp = browser.post(f"/console/tickets/{big}/pay", sent)
        assert resp.status_code == 403
        assert resp.headers["Content-Type"].startswith("text/html")
        assert 'data-code="CSRF"' in resp.text
    assert TicketPayment.select().count() == 0
    # another session's token does not fit this session
    other = Browser(browser.client)
    other.login("cajero")
    theirs = form_of(other.get(f"/console/tickets/{big}"))["csrf"]
    assert browser.post(f"/console/tickets/{big}/pay", {**form, "csrf": theirs}).status_code == 403
    # the login form too
    fresh = Browser(browser.client)
    fresh.get("/console")
    resp = fresh.post("/console/login", {"username": "cajero", "password": PASSWORD})
    assert resp.status_code == 403 and "accessToken" not in fresh.cookies


def test_a_seller_of_another_window_is_refused(browser, staff):
    big = staff.winners["big"]
    browser.login("vende2")
    resp = browser.get(f"/console/tickets/{big}")
    assert resp.status_code == 403 and resp.headers["Content-Type"].startswith("text/html")
    assert "otra ventana" in resp.text
    assert browser.get("/console/tickets", q=big).status_code == 403
    page = browser.get("/console")
    resp = browser.post(
        f"/console/tickets/{big}/pay",
        {"csrf": csrf_of(page), "idempotencyKey": "k" * 20, "amount": "10"},
    )
    assert resp.status_code == 403
    assert TicketPayment.select().count() == 0
    refused = AuditRecord.select().where(AuditRecord.result.startswith("rejected")).count()
    assert refused >= 1  # audited as through the API


def test_a_note_with_script_renders_as_text(browser, staff):
    big = staff.winners["big"]
    browser.login("cajero")
    page = browser.get(f"/console/tickets/{big}")
    note = '<script>alert("x")</script>'
    browser.post(f"/console/tickets/{big}/pay", {**form_of(page), "amount": "5", "notes": note})
    shown = browser.get(f"/console/tickets/{big}")
    assert note not in shown.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in shown.text
    search = browser.get("/console/tickets", q='"><img src=x>')
    assert search.status_code == 404 and '"><img src=x>' not in search.text


def test_logout_revokes_the_session_for_good(browser, staff):
    browser.login("cajero")
    old = dict(browser.cookies)
    page = browser.get("/console")
    assert 'data-testid="logout"' in page.text
    resp = browser.post("/console/logout", {"csrf": csrf_of(page)})
    assert resp.status_code == 303 and "accessToken" not in browser.cookies
    replay = Browser(browser.client)
    replay.cookies = old
    again = replay.get(f"/console/tickets/{staff.winners['big']}")
    assert again.status_code == 303 and again.headers["Location"].startswith("/console")
    assert 'data-testid="login"' in replay.get("/console").text
    assert AuditRecord.select().where(AuditRecord.action == "auth.logout").count() == 1


def test_wrong_password_is_said_next_to_the_field(browser, staff):
    resp = browser.login("cajero", "wrong password")
    assert resp.status_code == 401 and "incorrectos" in resp.text
    assert "accessToken" not in browser.cookies


def test_pages_without_a_session_go_to_the_login(browser, staff):
    for path in ("/console/tickets/x", "/console/approvals", "/console/outbox", "/console/health"):
        resp = browser.get(path)
        assert resp.status_code == 303 and resp.headers["Location"] == "/console", path


def test_admin_pages_refuse_a_cashier_and_serve_an_admin(browser, staff, clock):
    browser.login("cajero")
    for path in ("/console/approvals", "/console/outbox", "/console/health"):
        resp = browser.get(path)
        assert resp.status_code == 403, path
    admin = Browser(browser.client)
    admin.login("jefa")
    health = admin.get("/console/health")
    assert health.status_code == 200 and 'data-testid="reconcile" data-ok="true"' in health.text
    assert 'data-testid="audit" data-ok="true"' in health.text
    assert admin.get("/console/approvals").status_code == 200
    assert admin.get("/console/outbox").status_code == 200


def test_unknown_console_paths_are_html_pages(browser, staff):
    resp = browser.get("/console/nothing-here")
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("text/html")
    assert "No se encontró" in resp.text
    assert browser.get("/console/static/console.css").status_code == 200
    assert browser.get("/console/static/../app.py").status_code == 404
