"""The sales network through the back office (SPEC 7c): ADMIN builds and lists bancas,
ventanas and vendedores; a VENTANA reads only its own window and sellers."""

from __future__ import annotations

from typing import Any

from gateway.core.principal import ADMIN, VENTANA, Principal


def _bearer(app: Any, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.services.tokens.mint(principal)}"}


def _admin(app: Any) -> dict[str, str]:
    return _bearer(app, Principal(user_id="admin-1", role=ADMIN))


def _post(client: Any, headers: dict[str, str], path: str, body: dict[str, Any] | str) -> Any:
    if isinstance(body, str):
        return client.simulate_post(path, body=body, headers=headers)
    return client.simulate_post(path, json=body, headers=headers)


def _network(client: Any, app: Any) -> dict[str, str]:
    admin = _admin(app)
    banca = _post(client, admin, "/api/v1/bancas", {"name": "Banca Central"}).json["data"]
    v1 = _post(
        client,
        admin,
        "/api/v1/ventanas",
        {"bancaId": banca["id"], "name": "Ventana Norte", "commissionBps": 350},
    )
    v2 = _post(
        client,
        admin,
        "/api/v1/ventanas",
        {"bancaId": banca["id"], "name": "Ventana Sur", "commissionBps": 400},
    )
    s1 = _post(
        client,
        admin,
        "/api/v1/vendedores",
        {"ventanaId": v1.json["data"]["id"], "name": "Ana", "commissionBps": 100},
    )
    s2 = _post(
        client,
        admin,
        "/api/v1/vendedores",
        {"ventanaId": v2.json["data"]["id"], "name": "Luis", "commissionBps": 150},
    )
    return {
        "banca": banca["id"],
        "v1": v1.json["data"]["id"],
        "v2": v2.json["data"]["id"],
        "s1": s1.json["data"]["id"],
        "s2": s2.json["data"]["id"],
    }


def test_admin_creates_the_network_and_reads_it_back(client, app):
    admin = _admin(app)
    resp = _post(client, admin, "/api/v1/bancas", {"name": "Banca Central"})
    assert resp.status_code == 201, resp.text
    assert resp.json["success"] is True
    banca = resp.json["data"]
    assert banca["name"] == "Banca Central" and banca["id"]

    resp = _post(
        client,
        admin,
        "/api/v1/ventanas",
        {"bancaId": banca["id"], "name": "Ventana Norte", "commissionBps": 350},
    )
    assert resp.status_code == 201, resp.text
    ventana = resp.json["data"]
    assert ventana == {
        "id": ventana["id"],
        "bancaId": banca["id"],
        "name": "Ventana Norte",
        "commissionBps": 350,
    }

    resp = _post(
        client,
        admin,
        "/api/v1/vendedores",
        {"ventanaId": ventana["id"], "name": "Ana", "commissionBps": 0},
    )
    assert resp.status_code == 201, resp.text
    seller = resp.json["data"]
    assert (seller["ventanaId"], seller["bancaId"], seller["commissionBps"]) == (
        ventana["id"],
        banca["id"],
        0,
    )

    assert client.simulate_get("/api/v1/bancas", headers=admin).json == {
        "success": True,
        "data": [banca],
    }
    assert client.simulate_get(f"/api/v1/bancas/{banca['id']}", headers=admin).json["data"] == banca
    assert client.simulate_get("/api/v1/ventanas", headers=admin).json["data"] == [ventana]
    assert (
        client.simulate_get(f"/api/v1/ventanas/{ventana['id']}", headers=admin).json["data"]
        == ventana
    )
    assert client.simulate_get("/api/v1/vendedores", headers=admin).json["data"] == [seller]
    assert (
        client.simulate_get(f"/api/v1/vendedores/{seller['id']}", headers=admin).json["data"]
        == seller
    )


def test_a_ventana_cannot_create_bancas(client, app):
    ids = _network(client, app)
    ventana = _bearer(
        app, Principal(user_id="v-1", role=VENTANA, banca_id=ids["banca"], ventana_id=ids["v1"])
    )
    resp = _post(client, ventana, "/api/v1/bancas", {"name": "Mi Banca"})
    assert resp.status_code == 403
    assert resp.json["success"] is False
    assert resp.json["error"]["code"] == "FORBIDDEN"
    admin_view = client.simulate_get("/api/v1/bancas", headers=_admin(app)).json["data"]
    assert [b["name"] for b in admin_view] == ["Banca Central"]


def test_a_ventana_sees_only_its_own_window_and_sellers(client, app):
    ids = _network(client, app)
    ventana = _bearer(
        app, Principal(user_id="v-1", role=VENTANA, banca_id=ids["banca"], ventana_id=ids["v1"])
    )

    listed = client.simulate_get("/api/v1/ventanas", headers=ventana)
    assert listed.status_code == 200
    assert [v["id"] for v in listed.json["data"]] == [ids["v1"]]
    assert client.simulate_get(f"/api/v1/ventanas/{ids['v1']}", headers=ventana).status_code == 200

    other = client.simulate_get(f"/api/v1/ventanas/{ids['v2']}", headers=ventana)
    assert other.status_code == 403
    assert other.json["error"]["code"] == "FORBIDDEN"

    sellers = client.simulate_get("/api/v1/vendedores", headers=ventana).json["data"]
    assert [s["id"] for s in sellers] == [ids["s1"]]
    assert (
        client.simulate_get(f"/api/v1/vendedores/{ids['s2']}", headers=ventana).status_code == 403
    )


def test_commission_above_10000_bps_is_a_validation_error(client, app):
    ids = _network(client, app)
    resp = _post(
        client,
        _admin(app),
        "/api/v1/ventanas",
        {"bancaId": ids["banca"], "name": "Ventana Cara", "commissionBps": 10001},
    )
    assert resp.status_code == 400
    assert resp.json["success"] is False
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"
    assert "commissionBps" in resp.json["error"]["details"]

    resp = _post(
        client,
        _admin(app),
        "/api/v1/vendedores",
        {"ventanaId": ids["v1"], "name": "Eva", "commissionBps": -1},
    )
    assert resp.status_code == 400
    assert "commissionBps" in resp.json["error"]["details"]


def test_commission_must_be_an_integer(client, app):
    ids = _network(client, app)
    resp = _post(
        client,
        _admin(app),
        "/api/v1/vendedores",
        f'{{"ventanaId":"{ids["v1"]}","name":"Eva","commissionBps":12.5}}',
    )
    assert resp.status_code == 400
    assert "commissionBps" in resp.json["error"]["details"]


def test_unknown_field_is_rejected_and_nothing_is_created(client, app):
    admin = _admin(app)
    resp = _post(client, admin, "/api/v1/bancas", {"name": "Banca", "color": "red"})
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"
    assert resp.json["error"]["details"] == {"color": ["Unknown field."]}
    assert client.simulate_get("/api/v1/bancas", headers=admin).json["data"] == []


def test_missing_fields_and_bad_json_are_validation_errors(client, app):
    admin = _admin(app)
    resp = _post(client, admin, "/api/v1/ventanas", {"name": "Sin banca"})
    assert resp.status_code == 400
    assert set(resp.json["error"]["details"]) == {"bancaId", "commissionBps"}

    resp = _post(client, admin, "/api/v1/bancas", '{"name": ')
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"

    resp = _post(client, admin, "/api/v1/bancas", '["Banca"]')
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"

    resp = _post(client, admin, "/api/v1/bancas", "[" * 20000)
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"


def test_unknown_ids_answer_404(client, app):
    admin = _admin(app)
    resp = client.simulate_get("/api/v1/bancas/no-such-banca", headers=admin)
    assert resp.status_code == 404
    assert resp.json == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Banca not found"},
    }
    resp = _post(
        client,
        admin,
        "/api/v1/ventanas",
        {"bancaId": "no-such-banca", "name": "Huérfana", "commissionBps": 0},
    )
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "NOT_FOUND"


def test_the_network_needs_a_token(client):
    resp = client.simulate_get("/api/v1/bancas")
    assert resp.status_code == 401
    assert resp.json["success"] is False
    assert resp.json["error"]["code"] == "UNAUTHORIZED"
