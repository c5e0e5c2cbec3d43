"""Ticket payments over HTTP (SPEC 6, seed 000): the envelope and fields, 201 / 200
`meta.cached`, every error code in SPEC 6's order, PATCH, reverse, approve, history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import falcon.testing
import pytest

from gateway.app import create_app
from gateway.core.principal import ADMIN, Principal
from gateway.core.reconcile import reconcile
from gateway.store.models import AuditRecord, Ticket
from tests.integration.test_ticket_payments import Shop, cashier, make_shop, seller_of

PATH = "/api/v1/ticket-payments"


def auth(app: Any, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.services.tokens.mint(principal)}"}


def admin(app: Any, user: str = "admin-1") -> dict[str, str]:
    return auth(app, Principal(user_id=user, role=ADMIN))


@pytest.fixture
def shop(db: Any, clock: Any) -> Shop:
    return make_shop(clock)


def body(ticket: str, amount: Any = 1000, key: str = "payment-0001", **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"ticketId": ticket, "amountPaid": amount, "idempotencyKey": key}
    out.update(kw)
    return out


def pay(client: Any, headers: dict[str, str], payload: dict[str, Any]) -> Any:
    return client.simulate_post(PATH, json=payload, headers=headers)


def test_partial_then_final_payment_and_cached_replay(client, app, shop):
    """Payout 50000.00 MXN paid as 20000 + 30000: PAID; a replay is 200 `meta.cached`."""
    big, me = shop.winners["big"], auth(app, cashier(shop))
    first = pay(client, me, body(big, 20000, notes="Pago parcial"))
    assert first.status_code == 201, first.text
    data = first.json["data"]
    assert data["ticketId"] == big and data["method"] == "cash"
    assert Decimal(str(data["amountPaid"])) == 20000
    assert (data["isFinal"], data["isReversed"], data["paidById"]) == (False, False, "cashier-1")
    assert "meta" not in first.json
    again = pay(client, me, body(big, 20000, notes="Pago parcial", method="cash"))
    assert again.status_code == 200
    assert again.json["meta"] == {"cached": True} and again.json["data"] == data
    altered = pay(client, me, body(big, 20001, notes="Pago parcial"))
    assert altered.status_code == 409
    assert altered.json["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    second = pay(client, me, body(big, 30000, "payment-0002"))
    assert second.status_code == 201
    assert Ticket.get_by_id(big).status == "PAID"
    # still cached after PAID
    assert pay(client, me, body(big, 30000, "payment-0002")).json["meta"] == {"cached": True}
    hist = client.simulate_get(f"/api/v1/tickets/{big}/payment-history", headers=me)
    assert hist.status_code == 200
    h = hist.json["data"]
    assert [Decimal(str(h[k])) for k in ("totalPayout", "totalPaid", "remainingAmount")] == [
        50000,
        50000,
        0,
    ]
    assert len(h["payments"]) == 2
    details = [
        (r.result, r.details)
        for r in AuditRecord.select().where(AuditRecord.action == "TICKET_PAY")
    ]
    assert any(res == "ok" and '"created":true' in (d or "") for res, d in details), details
    assert any(res == "replayed" and '"cached":true' in (d or "") for res, d in details)
    assert reconcile().ok


def test_error_codes_of_spec_6(client, app, shop):
    me = auth(app, cashier(shop))
    big, small = shop.winners["big"], shop.winners["small"]
    unknown = "00000000-0000-4000-8000-000000000000"
    cases: list[tuple[dict[str, str], dict[str, Any], int, str]] = [
        (
            me,
            {"ticketId": "not-a-uuid", "amountPaid": 1, "idempotencyKey": "k-000001"},
            400,
            "VALIDATION_ERROR",
        ),
        (me, body(big, 0), 400, "VALIDATION_ERROR"),
        (me, body(big, "10"), 400, "VALIDATION_ERROR"),
        (me, body(big, 1.001), 400, "VALIDATION_ERROR"),
        (me, body(big, key="short"), 400, "VALIDATION_ERROR"),
        (me, body(big, method="bitcoin"), 400, "VALIDATION_ERROR"),
        (me, body(big, notes="x" * 301), 400, "VALIDATION_ERROR"),
        (me, body(big, extra=1), 400, "VALIDATION_ERROR"),
        (me, body(big, ventanaId=shop.ventana), 403, "TKT_PAY_006"),
        (me, body(unknown), 404, "TKT_PAY_001"),
        (auth(app, cashier(shop, other=True)), body(big), 403, "TKT_PAY_006"),
        (auth(app, seller_of(shop, other=True)), body(big), 403, "TKT_PAY_006"),
        (me, body(shop.winners["loser"]), 409, "TKT_PAY_002"),
        (me, body(small, 1000.01), 400, "TKT_PAY_004"),
    ]
    for headers, payload, status, code in cases:
        resp = pay(client, headers, payload)
        assert (resp.status_code, resp.json["error"]["code"]) == (status, code), (
            payload,
            resp.text,
        )
        assert resp.json["success"] is False
    assert pay(client, me, body(small, 1000, isFinal=True)).status_code == 201
    resp = pay(client, me, body(small, 1, "k-000099"))
    assert (resp.status_code, resp.json["error"]["code"]) == (400, "TKT_PAY_003")
    assert client.simulate_post(PATH, json=body(big)).status_code == 401


def test_rbac_over_http(client, app, shop):
    big, other = shop.winners["big"], shop.winners["other"]
    assert pay(client, auth(app, seller_of(shop)), body(big, 1, "k-000001")).status_code == 201
    assert pay(client, auth(app, cashier(shop)), body(big, 1, "k-000002")).status_code == 201
    resp = pay(client, admin(app), body(other, 1, "k-000003", ventanaId=shop.ventana))
    assert resp.status_code == 201 and resp.json["data"]["ventanaId"] == shop.ventana
    resp = pay(client, admin(app), body(other, 1, "k-000004", ventanaId="no-such-window"))
    assert (resp.status_code, resp.json["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert "ventanaId" in resp.json["error"]["details"]
    hist = client.simulate_get(
        f"/api/v1/tickets/{big}/payment-history", headers=auth(app, cashier(shop, other=True))
    )
    assert (hist.status_code, hist.json["error"]["code"]) == (403, "TKT_PAY_006")


def test_patch_reverse_and_history(client, app, shop):
    small, me = shop.winners["small"], auth(app, cashier(shop))
    paid = pay(client, me, body(small, 400)).json["data"]
    patched = client.simulate_patch(
        f"{PATH}/{paid['id']}", json={"isFinal": True, "notes": "final"}, headers=me
    )
    assert patched.status_code == 200 and patched.json["data"]["isFinal"] is True
    assert Ticket.get_by_id(small).status == "PAID"
    seller = auth(app, seller_of(shop))
    resp = client.simulate_post(
        f"{PATH}/{paid['id']}/reverse", json={"reason": "x"}, headers=seller
    )
    assert resp.status_code == 403
    resp = client.simulate_post(f"{PATH}/{paid['id']}/reverse", json={}, headers=me)
    assert resp.status_code == 400
    resp = client.simulate_post(
        f"{PATH}/{paid['id']}/reverse", json={"reason": "error"}, headers=me
    )
    assert resp.status_code == 200 and resp.json["data"]["isReversed"] is True
    assert Ticket.get_by_id(small).status == "EVALUATED"
    resp = client.simulate_post(
        f"{PATH}/{paid['id']}/reverse", json={"reason": "again"}, headers=admin(app)
    )
    assert (resp.status_code, resp.json["error"]["code"]) == (409, "ALREADY_REVERSED")
    resp = client.simulate_patch(f"{PATH}/{paid['id']}", json={"notes": "n"}, headers=me)
    assert resp.status_code == 409
    h = client.simulate_get(f"/api/v1/tickets/{small}/payment-history", headers=me).json["data"]
    assert Decimal(str(h["remainingAmount"])) == 1000 and h["payments"][0]["isReversed"]
    actions = {r.action for r in AuditRecord.select()}
    assert {"TICKET_PAY", "TICKET_PAY_FINALIZE", "TICKET_PAYMENT_REVERSE"} <= actions
    assert reconcile().ok


def test_maker_checker_over_http(config, db, clock, shop):
    app = create_app(config.replace(payout_approval_threshold=1_000_000), db=db, clock=clock)
    client = falcon.testing.TestClient(app)
    big = shop.winners["big"]
    made = pay(client, admin(app), body(big, 50000, isFinal=True))
    assert made.status_code == 201 and made.json["data"]["pendingApproval"] is True
    assert Ticket.get_by_id(big).status == "EVALUATED"
    path = f"{PATH}/{made.json['data']['id']}/approve"
    same = client.simulate_post(path, headers=admin(app))
    assert (same.status_code, same.json["error"]["code"]) == (403, "TKT_PAY_006")
    assert client.simulate_post(path, headers=auth(app, cashier(shop))).status_code == 403
    ok = client.simulate_post(path, headers=admin(app, "admin-2"))
    assert ok.status_code == 200 and ok.json["data"]["pendingApproval"] is False
    assert Ticket.get_by_id(big).status == "PAID"
    assert reconcile().ok
