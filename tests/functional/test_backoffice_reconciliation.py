"""`GET /api/v1/reconciliation` (SPEC 10): ADMIN reads the invariant report; 200 whether
the books hold or not, `data.ok` tells which."""

from __future__ import annotations

from typing import Any

from gateway.core.principal import ADMIN, VENTANA, Principal
from gateway.store.models import Account
from tests import factories as f


def _auth(app: Any, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.services.tokens.mint(principal)}"}


def _admin(app: Any) -> dict[str, str]:
    return _auth(app, Principal(user_id="admin-1", role=ADMIN))


def test_balanced_books_reconcile_ok(client, app, clock):
    pid = f.player(clock, currency="CRC")
    resp = client.simulate_post(
        f"/api/v1/players/{pid}/deposits",
        headers=_admin(app),
        json={"amount": 50000, "idempotencyKey": "dep-recon-01"},
    )
    assert resp.status_code == 201, resp.text

    resp = client.simulate_get("/api/v1/reconciliation", headers=_admin(app))
    assert resp.status_code == 200, resp.text
    assert resp.json["success"] is True
    report = resp.json["data"]
    assert report["ok"] is True
    assert report["totals"]["transactions"] == 1
    assert report["checks"] and all(check["ok"] for check in report["checks"])


def test_a_breach_is_reported_with_200_and_ok_false(client, app, clock):
    pid = f.player(clock, currency="USD", balance=1000)
    # Corrupt the cached balance behind the ledger's back, as a faulty migration might.
    Account.update(balance=Account.balance + 1).where(
        Account.code == f"player:{pid}:wallet:USD"
    ).execute()

    resp = client.simulate_get("/api/v1/reconciliation", headers=_admin(app))
    assert resp.status_code == 200
    report = resp.json["data"]
    assert report["ok"] is False
    failed = [check["name"] for check in report["checks"] if not check["ok"]]
    assert failed == ["cached_balances"]


def test_reconciliation_is_for_admin_only(client, app, clock):
    banca, ventana = f.banca_and_ventana(clock)
    staff = _auth(app, Principal(user_id="v-1", role=VENTANA, banca_id=banca, ventana_id=ventana))
    resp = client.simulate_get("/api/v1/reconciliation", headers=staff)
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "FORBIDDEN"
    assert client.simulate_get("/api/v1/reconciliation").status_code == 401
