"""The console's statements page over falcon's TestClient: the day-by-day table and its
chart, recording a payment (once, whatever the double clicks), the refusals."""

from __future__ import annotations

from typing import Any

from gateway.store.models import AccountPayment
from tests.functional.test_console_pages import Browser, form_of, shop, staff  # noqa: F401


def test_statement_table_chart_and_a_payment_recorded_once(client: Any, staff: Any) -> None:  # noqa: F811
    browser = Browser(client)
    browser.login("cajero")
    page = browser.get("/console/statements", ventanaId=staff.ventana)
    assert page.status_code == 200, page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.text.count("<tr data-day=") == 30
    assert 'data-testid="statement-chart"' in page.text and "<polyline" in page.text
    form = {
        **form_of(page),
        "dim": f"ventana:{staff.ventana}",
        "amount": "100",
        "type": "payment",
        "method": "cash",
    }
    form["date"] = next(
        line.split('value="')[1].split('"')[0]
        for line in page.text.splitlines()
        if 'name="date"' in line
    )
    first = browser.post("/console/statements/payment", form)
    second = browser.post("/console/statements/payment", form)
    assert (first.status_code, second.status_code) == (303, 303), first.text
    assert AccountPayment.select().count() == 1
    shown = browser.get("/console/statements", ventanaId=staff.ventana)
    assert 'data-testid="flash"' in shown.text and "$100.00 MXN" in shown.text


def test_statement_refusals_and_mistakes(client: Any, staff: Any) -> None:  # noqa: F811
    seller = Browser(client)
    seller.login("vende2")
    assert seller.get("/console/statements").status_code == 403
    cashier = Browser(client)
    cashier.login("cajero2")
    other = cashier.get("/console/statements", ventanaId=staff.ventana)
    assert other.status_code == 403
    page = cashier.get("/console/statements")
    resp = cashier.post(
        "/console/statements/payment",
        {
            **form_of(page),
            "dim": f"ventana:{staff.other_ventana}",
            "date": "2999-01-01",
            "amount": "1,5",
        },
    )
    assert resp.status_code == 400 and "no puede ser futura" in resp.text
    resp = cashier.post(
        "/console/statements/payment",
        {**form_of(page), "dim": f"ventana:{staff.other_ventana}", "date": "2026-13-01"},
    )
    assert resp.status_code == 400 and "AAAA-MM-DD" in resp.text
    assert AccountPayment.select().count() == 0
    bad = cashier.get(
        "/console/statements",
        ventanaId=staff.other_ventana,
        **{"from": "2026-02-01", "to": "2026-01-01"},
    )
    assert bad.status_code == 200 and "va antes de la final" in bad.text
