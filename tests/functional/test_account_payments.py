"""Account payments and statements over HTTP (seed 002): the envelope, seed 002's example,
201 / 200 `meta.cached`, every error code, reversal, and the RBAC matrix of every back-office
money endpoint: each role against its own window, another window, another seller and
another banca."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from gateway.core import network, statements
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal
from gateway.core.reconcile import reconcile
from gateway.store.models import AuditRecord
from tests import factories as f
from tests.integration.test_ticket_payments import Shop, make_shop

PAY = "/api/v1/accounts/payment"
REVERSE = "/api/v1/accounts/reverse-payment"
STATEMENTS = "/api/v1/accounts/statements"
YESTERDAY = "2026-11-20"  # the fixed clock: 2026-11-21 06:00 in Costa Rica
TODAY = "2026-11-21"
ADMIN_USER = Principal(user_id="admin-1", role=ADMIN)
_keys = itertools.count(1)


@pytest.fixture
def shop(db: Any, clock: Any) -> Shop:
    return make_shop(clock)


def auth(app: Any, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.services.tokens.mint(principal)}"}


def body(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "date": YESTERDAY,
        "time": "14:30",
        "amount": 100,
        "type": "payment",
        "method": "cash",
        "idempotencyKey": f"acct-key-{next(_keys):06d}",
    }
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def units(value: Any) -> Decimal:
    return Decimal(str(value))


def test_seed_002_example_over_http(client, app, shop, clock):
    """Seed 002's request, answered with its statement: 500000 - 250000 - 17500 - 100000."""
    network_ventana = network.create_ventana(
        f.ctx(clock),
        ADMIN_USER,
        network.NewVentana(banca_id=shop.banca, name="ventana-001", commission_bps=350),
    ).result.id
    pos = statements.Position(shop.banca, network_ventana)
    day = statements.as_date(YESTERDAY)
    statements.record(pos, day, "MXN", sales=500000_00, payouts=250000_00)
    cashier = auth(app, Principal(user_id="user-123", role=VENTANA, ventana_id=network_ventana))
    request = {
        "date": YESTERDAY,
        "time": "14:30",
        "ventanaId": network_ventana,
        "amount": 100000,
        "type": "payment",
        "method": "cash",
        "notes": "Pago parcial de ventas del día",
        "isFinal": False,
        "idempotencyKey": "payment-2024-03-15-001",
    }
    resp = client.simulate_post(PAY, json=request, headers=cashier)
    assert resp.status_code == 201, resp.text
    assert resp.json["success"] is True and "meta" not in resp.json
    payment, stmt = resp.json["data"]["payment"], resp.json["data"]["statement"]
    assert payment["date"] == YESTERDAY and payment["time"] == "14:30"
    assert units(payment["amount"]) == 100000
    assert (payment["type"], payment["method"], payment["paidById"]) == (
        "payment",
        "cash",
        "user-123",
    )
    assert payment["notes"] == "Pago parcial de ventas del día"
    assert (payment["isReversed"], payment["isFinal"]) == (False, False)
    assert payment["createdAt"].endswith("Z")
    assert stmt["date"] == YESTERDAY
    assert [units(stmt[k]) for k in ("totalSales", "totalPayouts", "totalPaid")] == [
        500000,
        250000,
        100000,
    ]
    assert units(stmt["totalCommission"]) == 17500
    assert units(stmt["remainingBalance"]) == 132500
    assert stmt["isSaldado"] is False
    again = client.simulate_post(PAY, json=request, headers=cashier)
    assert again.status_code == 200 and again.json["meta"] == {"cached": True}
    assert again.json["data"] == resp.json["data"]
    details = [
        (r.result, r.details)
        for r in AuditRecord.select().where(AuditRecord.action == "ACCOUNT_PAYMENT_CREATE")
    ]
    assert [res for res, _ in details] == ["ok", "replayed"], details
    # the day's sales and prizes were written straight into its row: no ledger behind them
    assert [c.name for c in reconcile().breaches] == ["daily_activity_matches_ledger"]


def test_statements_range_lists_every_day_oldest_first(client, app, shop, clock):
    admin = auth(app, ADMIN_USER)
    pay = client.simulate_post(
        PAY, json=body(ventanaId=shop.ventana, date="2026-11-19", amount=10), headers=admin
    )
    assert pay.status_code == 201
    resp = client.simulate_get(
        STATEMENTS,
        params={"ventanaId": shop.ventana, "from": "2026-11-18", "to": TODAY},
        headers=admin,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json["data"]
    assert [d["date"] for d in data] == ["2026-11-18", "2026-11-19", "2026-11-20", TODAY]
    # make_shop sold 3 tickets of 15.00 at this window today, its commission 3.5 %:
    # 45.00 - 1.58 (157.5 cents, half-even) - the 10.00 paid on the 19th
    assert [units(d["remainingBalance"]) for d in data] == [0, -10, -10, Decimal("33.42")]
    assert units(data[-1]["totalCommission"]) == Decimal("1.58")
    one = client.simulate_get(
        STATEMENTS, params={"ventanaId": shop.ventana, "date": TODAY}, headers=admin
    )
    assert one.json["data"] == data[-1:]


def test_reverse_payment_over_http(client, app, shop):
    admin = auth(app, ADMIN_USER)
    created = client.simulate_post(PAY, json=body(ventanaId=shop.ventana), headers=admin)
    pid = created.json["data"]["payment"]["id"]
    resp = client.simulate_post(REVERSE, json={"paymentId": pid, "reason": "error"}, headers=admin)
    assert resp.status_code == 200, resp.text
    assert resp.json["data"]["payment"]["isReversed"] is True
    assert resp.json["data"]["payment"]["reason"] == "error"
    assert units(resp.json["data"]["statement"]["totalPaid"]) == 0
    twice = client.simulate_post(REVERSE, json={"paymentId": pid, "reason": "x"}, headers=admin)
    assert (twice.status_code, twice.json["error"]["code"]) == (400, "PAYMENT_ALREADY_REVERSED")
    assert reconcile().ok


def test_error_codes_of_account_payments(client, app, shop):
    admin = auth(app, ADMIN_USER)
    window = auth(app, Principal(user_id="w-1", role=VENTANA, ventana_id=shop.ventana))
    seller = auth(app, Principal(user_id="s-1", role=VENDEDOR, vendedor_id=shop.vendedor))
    v = {"ventanaId": shop.ventana}
    cases: list[tuple[dict[str, str], Any, int, str]] = [
        (admin, body(**v, date="2026-11-22"), 400, "FUTURE_DATE"),
        (admin, body(**v, date=TODAY, time="06:01"), 400, "FUTURE_TIME"),
        (admin, body(**v, time="24:00"), 400, "INVALID_TIME_FORMAT"),
        (admin, body(**v, time="9:30"), 400, "INVALID_TIME_FORMAT"),
        (admin, body(**v, time="09:30\n"), 400, "INVALID_TIME_FORMAT"),
        (admin, body(), 400, "MISSING_DIMENSION"),
        (admin, body(**v, vendedorId=shop.vendedor), 400, "MISSING_DIMENSION"),
        (admin, body(**v, amount=0), 400, "INVALID_AMOUNT"),
        (admin, body(**v, amount=-5), 400, "INVALID_AMOUNT"),
        (admin, body(**v, amount="100"), 400, "INVALID_AMOUNT"),
        (admin, body(**v, amount=1.001), 400, "VALIDATION_ERROR"),
        (admin, body(**v, date="2026-02-30"), 400, "VALIDATION_ERROR"),
        (admin, body(**v, date="20261120"), 400, "VALIDATION_ERROR"),
        (admin, body(**v, type="refund"), 400, "VALIDATION_ERROR"),
        (admin, body(**v, method="bitcoin"), 400, "VALIDATION_ERROR"),
        (admin, body(**v, notes="x" * 501), 400, "VALIDATION_ERROR"),
        (admin, body(**v, idempotencyKey="short"), 400, "VALIDATION_ERROR"),
        (admin, body(**v, isFinal="yes"), 400, "VALIDATION_ERROR"),
        (admin, body(**v, extra=1), 400, "VALIDATION_ERROR"),
        (admin, [1, 2], 400, "VALIDATION_ERROR"),
        (admin, body(ventanaId="no-such-window"), 404, "NOT_FOUND"),
        (seller, body(**v), 403, "FORBIDDEN"),
        (window, body(bancaId=shop.banca), 403, "FORBIDDEN"),
        (window, body(ventanaId=shop.other_ventana), 403, "FORBIDDEN"),
    ]
    for headers, payload, status, code in cases:
        resp = client.simulate_post(PAY, json=payload, headers=headers)
        assert (resp.status_code, resp.json["error"]["code"]) == (status, code), (
            payload,
            resp.text,
        )
        assert resp.json["success"] is False
    first = body(**v)
    assert client.simulate_post(PAY, json=first, headers=admin).status_code == 201
    reused = client.simulate_post(PAY, json={**first, "amount": 101}, headers=admin)
    assert (reused.status_code, reused.json["error"]["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    missing = client.simulate_post(
        REVERSE, json={"paymentId": "nope", "reason": "x"}, headers=admin
    )
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "PAYMENT_NOT_FOUND")
    blank = client.simulate_post(REVERSE, json={"paymentId": "nope", "reason": " "}, headers=admin)
    assert blank.json["error"]["code"] == "VALIDATION_ERROR"
    assert client.simulate_post(PAY, json=body(**v)).status_code == 401
    # nothing refused wrote money: one payment of 100.00
    resp = client.simulate_get(
        STATEMENTS, params={"ventanaId": shop.ventana, "date": YESTERDAY}, headers=admin
    )
    assert units(resp.json["data"][0]["totalPaid"]) == 100


def test_error_codes_of_statements(client, app, shop):
    admin = auth(app, ADMIN_USER)
    v = shop.ventana
    cases = [
        ({"date": TODAY}, 400, "MISSING_DIMENSION"),
        ({"date": TODAY, "ventanaId": v, "vendedorId": shop.vendedor}, 400, "MISSING_DIMENSION"),
        ({"ventanaId": v}, 400, "VALIDATION_ERROR"),
        ({"ventanaId": v, "from": TODAY}, 400, "VALIDATION_ERROR"),
        ({"ventanaId": v, "date": TODAY, "from": TODAY, "to": TODAY}, 400, "VALIDATION_ERROR"),
        ({"ventanaId": v, "date": "yesterday"}, 400, "VALIDATION_ERROR"),
        ({"ventanaId": v, "from": TODAY, "to": "2026-11-01"}, 400, "VALIDATION_ERROR"),
        ({"ventanaId": v, "from": "2024-01-01", "to": TODAY}, 400, "VALIDATION_ERROR"),
        ({"ventanaId": v, "date": TODAY, "extra": "1"}, 400, "VALIDATION_ERROR"),
        ({"ventanaId": "nope", "date": TODAY}, 404, "NOT_FOUND"),
    ]
    for params, status, code in cases:
        resp = client.simulate_get(STATEMENTS, params=params, headers=admin)
        assert (resp.status_code, resp.json["error"]["code"]) == (status, code), (params, resp.text)
    twice = client.simulate_get(
        STATEMENTS, query_string=f"ventanaId={v}&date={TODAY}&date={TODAY}", headers=admin
    )
    assert twice.status_code == 400


# --- the RBAC matrix -------------------------------------------------------------------------

ROLES = (
    "admin",
    "ventana_own",
    "ventana_other",
    "vendedor_own",
    "vendedor_other",
    "ventana_other_banca",
    "vendedor_other_banca",
)


@pytest.fixture
def people(shop: Shop, clock: Any) -> dict[str, Principal]:
    banca2, ventana2 = f.banca_and_ventana(clock)
    seller2 = network.create_vendedor(
        f.ctx(clock),
        ADMIN_USER,
        network.NewVendedor(ventana_id=ventana2, name="S", commission_bps=0),
    ).result.id
    _ = banca2
    return {
        "admin": ADMIN_USER,
        "ventana_own": Principal(user_id="w-own", role=VENTANA, ventana_id=shop.ventana),
        "ventana_other": Principal(user_id="w-oth", role=VENTANA, ventana_id=shop.other_ventana),
        "vendedor_own": Principal(user_id="s-own", role=VENDEDOR, vendedor_id=shop.vendedor),
        "vendedor_other": Principal(
            user_id="s-oth", role=VENDEDOR, vendedor_id=shop.other_vendedor
        ),
        "ventana_other_banca": Principal(user_id="w-b2", role=VENTANA, ventana_id=ventana2),
        "vendedor_other_banca": Principal(user_id="s-b2", role=VENDEDOR, vendedor_id=seller2),
    }


def _ticket_payment(client: Any, app: Any, shop: Shop) -> str:
    resp = client.simulate_post(
        "/api/v1/ticket-payments",
        json={
            "ticketId": shop.winners["big"],
            "amountPaid": 1,
            "idempotencyKey": f"setup-{next(_keys):06d}",
        },
        headers=auth(app, ADMIN_USER),
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json["data"]["id"])


def _account_payment(client: Any, app: Any, shop: Shop) -> str:
    resp = client.simulate_post(
        PAY, json=body(ventanaId=shop.ventana), headers=auth(app, ADMIN_USER)
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json["data"]["payment"]["id"])


Call = Callable[[Any, Any, Shop, dict[str, str]], Any]

# each endpoint acts on window 1 / seller 1 of banca 1; expected: who may (2xx) and who not (403)
ENDPOINTS: dict[str, tuple[Call, set[str]]] = {
    "pay ticket": (
        lambda c, a, s, h: c.simulate_post(
            "/api/v1/ticket-payments",
            json={
                "ticketId": s.winners["big"],
                "amountPaid": 1,
                "idempotencyKey": f"m-{next(_keys):06d}",
            },
            headers=h,
        ),
        {"admin", "ventana_own", "vendedor_own"},
    ),
    "payment history": (
        lambda c, a, s, h: c.simulate_get(
            f"/api/v1/tickets/{s.winners['big']}/payment-history", headers=h
        ),
        {"admin", "ventana_own", "vendedor_own"},
    ),
    "finalise ticket payment": (
        lambda c, a, s, h: c.simulate_patch(
            f"/api/v1/ticket-payments/{_ticket_payment(c, a, s)}",
            json={"notes": "ok"},
            headers=h,
        ),
        {"admin", "ventana_own", "vendedor_own"},
    ),
    "reverse ticket payment": (
        lambda c, a, s, h: c.simulate_post(
            f"/api/v1/ticket-payments/{_ticket_payment(c, a, s)}/reverse",
            json={"reason": "matrix"},
            headers=h,
        ),
        {"admin", "ventana_own"},
    ),
    "account payment of the window": (
        lambda c, a, s, h: c.simulate_post(PAY, json=body(ventanaId=s.ventana), headers=h),
        {"admin", "ventana_own"},
    ),
    "account payment of its seller": (
        lambda c, a, s, h: c.simulate_post(PAY, json=body(vendedorId=s.vendedor), headers=h),
        {"admin", "ventana_own"},
    ),
    "account payment of the banca": (
        lambda c, a, s, h: c.simulate_post(PAY, json=body(bancaId=s.banca), headers=h),
        {"admin"},
    ),
    "reverse account payment": (
        lambda c, a, s, h: c.simulate_post(
            REVERSE,
            json={"paymentId": _account_payment(c, a, s), "reason": "matrix"},
            headers=h,
        ),
        {"admin", "ventana_own"},
    ),
    "window statement": (
        lambda c, a, s, h: c.simulate_get(
            STATEMENTS, params={"ventanaId": s.ventana, "date": TODAY}, headers=h
        ),
        {"admin", "ventana_own"},
    ),
    "seller statement": (
        lambda c, a, s, h: c.simulate_get(
            STATEMENTS, params={"vendedorId": s.vendedor, "date": TODAY}, headers=h
        ),
        {"admin", "ventana_own"},
    ),
    "banca statement": (
        lambda c, a, s, h: c.simulate_get(
            STATEMENTS, params={"bancaId": s.banca, "date": TODAY}, headers=h
        ),
        {"admin"},
    ),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_rbac_matrix(client, app, shop, people, endpoint):
    call, allowed = ENDPOINTS[endpoint]
    seen = {}
    for role in ROLES:
        resp = call(client, app, shop, auth(app, people[role]))
        seen[role] = resp.status_code
        if role in allowed:
            assert resp.status_code in (200, 201), (endpoint, role, resp.text)
        else:
            assert resp.status_code == 403, (endpoint, role, resp.text)
            assert resp.json["success"] is False
    assert {r for r, s in seen.items() if s < 300} == allowed
    assert reconcile().ok
