"""Players and wallets through the back office (SPEC 7b): creation, cash across a window's
counter with idempotency keys, window-scoped reads, blocking, and player tokens."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import falcon.testing

from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal
from gateway.store.models import AuditRecord, IdempotencyRecord, LedgerTxn
from tests import factories as f


def _token(app: Any, principal: Principal) -> str:
    return app.services.tokens.mint(principal)


def _auth(app: Any, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(app, principal)}"}


def _admin(app: Any) -> dict[str, str]:
    return _auth(app, Principal(user_id="admin-1", role=ADMIN))


def _post(client: Any, headers: dict[str, str], path: str, body: dict[str, Any] | str) -> Any:
    if isinstance(body, str):
        return client.simulate_post(path, body=body, headers=headers)
    return client.simulate_post(path, json=body, headers=headers)


def _new_player(client: Any, app: Any, currency: str = "CRC", ventana_id: str | None = None) -> str:
    body: dict[str, Any] = {"msisdn": "+50688887777", "lang": "es", "currency": currency}
    if ventana_id:
        body["ventanaId"] = ventana_id
    resp = _post(client, _admin(app), "/api/v1/players", body)
    assert resp.status_code == 201, resp.text
    return resp.json["data"]["id"]


def _wallet(client: Any, app: Any, player_id: str) -> dict[str, Any]:
    resp = client.simulate_get(f"/api/v1/players/{player_id}", headers=_admin(app))
    assert resp.status_code == 200, resp.text
    return resp.json["data"]


def test_admin_creates_a_player_with_an_empty_wallet(client, app, clock):
    _, ventana = f.banca_and_ventana(clock)
    resp = _post(
        client,
        _admin(app),
        "/api/v1/players",
        {
            "externalId": "ext-77",
            "msisdn": "+50688887777",
            "lang": "en",
            "currency": "EUR",
            "ventanaId": ventana,
        },
    )
    assert resp.status_code == 201, resp.text
    player = resp.json["data"]
    assert player == {
        "id": player["id"],
        "operator": "acme",
        "externalId": "ext-77",
        "msisdn": "+50688887777",
        "lang": "en",
        "currency": "EUR",
        "blocked": False,
        "ventanaId": ventana,
        "balance": 0,
        "available": 0,
        "held": 0,
    }


def test_player_fields_are_validated(client, app):
    resp = _post(
        client,
        _admin(app),
        "/api/v1/players",
        {"msisdn": "call me", "lang": "fr", "currency": "XYZ", "nickname": "x"},
    )
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"
    assert set(resp.json["error"]["details"]) == {"msisdn", "lang", "currency", "nickname"}


def test_a_deposit_funds_the_wallet_and_a_replay_is_cached(client, app):
    pid = _new_player(client, app, "CRC")
    body = {"amount": 50000, "method": "cash", "idempotencyKey": "dep-0001-crc"}

    first = _post(client, _admin(app), f"/api/v1/players/{pid}/deposits", body)
    assert first.status_code == 201, first.text
    assert first.json["success"] is True and "meta" not in first.json
    deposit = first.json["data"]
    assert (deposit["type"], deposit["amount"], deposit["currency"], deposit["method"]) == (
        "deposit",
        50000,
        "CRC",
        "cash",
    )
    wallet = _wallet(client, app, pid)
    assert (wallet["balance"], wallet["available"], wallet["held"]) == (50000, 50000, 0)

    replay = _post(client, _admin(app), f"/api/v1/players/{pid}/deposits", body)
    assert replay.status_code == 200
    assert replay.json == {"success": True, "data": deposit, "meta": {"cached": True}}
    assert _wallet(client, app, pid)["balance"] == 50000

    other = _post(client, _admin(app), f"/api/v1/players/{pid}/deposits", {**body, "amount": 60000})
    assert other.status_code == 409
    assert other.json["success"] is False
    assert other.json["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _wallet(client, app, pid)["balance"] == 50000


def test_the_method_defaults_to_cash_and_must_be_known(client, app):
    pid = _new_player(client, app, "USD")
    resp = _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/deposits",
        {"amount": 10, "idempotencyKey": "dep-default"},
    )
    assert resp.status_code == 201
    assert resp.json["data"]["method"] == "cash"
    resp = _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/deposits",
        {"amount": 10, "idempotencyKey": "dep-bitcoin", "method": "barter"},
    )
    assert resp.status_code == 400
    assert "method" in resp.json["error"]["details"]


def test_a_withdrawal_beyond_available_is_refused_and_writes_nothing(client, app):
    pid = _new_player(client, app, "USD")
    _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/deposits",
        {"amount": 100, "idempotencyKey": "dep-usd-100"},
    )
    txns = LedgerTxn.select().count()
    keys = IdempotencyRecord.select().count()

    resp = _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/withdrawals",
        '{"amount": 100.01, "idempotencyKey": "wd-usd-0001"}',
    )
    assert resp.status_code == 400
    assert resp.json["success"] is False
    assert resp.json["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert _wallet(client, app, pid)["balance"] == 100
    assert (LedgerTxn.select().count(), IdempotencyRecord.select().count()) == (txns, keys)
    assert (
        AuditRecord.select().where(AuditRecord.result == "rejected:insufficient_funds").count() == 1
    )

    # Nothing was stored under the key: the same key works for an amount that fits.
    resp = _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/withdrawals",
        '{"amount": 40.25, "idempotencyKey": "wd-usd-0001"}',
    )
    assert resp.status_code == 201, resp.text
    assert resp.json["data"]["amount"] == 40.25
    wallet = _wallet(client, app, pid)
    assert (wallet["balance"], wallet["available"]) == (59.75, 59.75)


def test_more_decimals_than_the_currency_has_is_a_validation_error(client, app):
    pid = _new_player(client, app, "EUR")
    resp = _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/deposits",
        '{"amount": 45.505, "idempotencyKey": "dep-eur-0001"}',
    )
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"
    assert "amount" in resp.json["error"]["details"]
    assert _wallet(client, app, pid)["balance"] == 0

    resp = _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/deposits",
        '{"amount": 45.50, "idempotencyKey": "dep-eur-0001"}',
    )
    assert resp.status_code == 201, resp.text
    assert _wallet(client, app, pid)["balance"] == 45.5


def test_amounts_must_be_positive_numbers(client, app):
    pid = _new_player(client, app, "USD")
    for raw in ('"10.00"', "0", "-5", "true", "NaN", "1e400"):
        resp = _post(
            client,
            _admin(app),
            f"/api/v1/players/{pid}/deposits",
            f'{{"amount": {raw}, "idempotencyKey": "dep-bad-amount"}}',
        )
        assert resp.status_code == 400, raw
        assert resp.json["error"]["code"] == "VALIDATION_ERROR", raw
    assert _wallet(client, app, pid)["balance"] == 0


def test_the_idempotency_key_must_be_8_to_100_characters(client, app):
    pid = _new_player(client, app, "USD")
    for key in ("short", "k" * 101):
        resp = _post(
            client,
            _admin(app),
            f"/api/v1/players/{pid}/deposits",
            {"amount": 5, "idempotencyKey": key},
        )
        assert resp.status_code == 400
        assert "idempotencyKey" in resp.json["error"]["details"]


def test_a_vendedor_deposits_at_its_own_window(client, app, clock):
    banca, ventana = f.banca_and_ventana(clock)
    seller = _post(
        client,
        _admin(app),
        "/api/v1/vendedores",
        {"ventanaId": ventana, "name": "Ana", "commissionBps": 100},
    ).json["data"]
    pid = _new_player(client, app, "CRC", ventana_id=ventana)
    vendedor = _auth(
        app,
        Principal(
            user_id="seller-1",
            role=VENDEDOR,
            banca_id=banca,
            ventana_id=ventana,
            vendedor_id=seller["id"],
        ),
    )

    resp = _post(
        client,
        vendedor,
        f"/api/v1/players/{pid}/deposits",
        {"amount": 2500, "idempotencyKey": "vend-dep-0001"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json["data"]["ventanaId"] == ventana
    assert _wallet(client, app, pid)["balance"] == 2500
    own = client.simulate_get(f"/api/v1/players/{pid}", headers=vendedor)
    assert own.status_code == 200
    assert own.json["data"]["balance"] == 2500


def test_window_staff_cannot_move_cash_for_another_windows_player(client, app, clock):
    banca, ventana = f.banca_and_ventana(clock)
    _, elsewhere = f.banca_and_ventana(clock)
    pid = _new_player(client, app, "CRC", ventana_id=elsewhere)
    staff = _auth(app, Principal(user_id="v-1", role=VENTANA, banca_id=banca, ventana_id=ventana))
    resp = _post(
        client,
        staff,
        f"/api/v1/players/{pid}/deposits",
        {"amount": 100, "idempotencyKey": "dep-elsewhere"},
    )
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "FORBIDDEN"
    resp = _post(
        client,
        staff,
        f"/api/v1/players/{pid}/deposits",
        {"amount": 100, "idempotencyKey": "dep-elsewhere", "ventanaId": elsewhere},
    )
    assert resp.status_code == 403
    assert _wallet(client, app, pid)["balance"] == 0


def test_a_ventana_cannot_read_another_windows_player(client, app, clock):
    banca, ventana = f.banca_and_ventana(clock)
    _, elsewhere = f.banca_and_ventana(clock)
    mine = _new_player(client, app, "CRC", ventana_id=ventana)
    theirs = _new_player(client, app, "CRC", ventana_id=elsewhere)
    staff = _auth(app, Principal(user_id="v-1", role=VENTANA, banca_id=banca, ventana_id=ventana))

    assert client.simulate_get(f"/api/v1/players/{mine}", headers=staff).status_code == 200
    resp = client.simulate_get(f"/api/v1/players/{theirs}", headers=staff)
    assert resp.status_code == 403
    assert resp.json["success"] is False
    assert resp.json["error"]["code"] == "FORBIDDEN"


def test_an_unknown_player_is_404(client, app):
    resp = client.simulate_get("/api/v1/players/nobody", headers=_admin(app))
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "NOT_FOUND"
    resp = _post(
        client,
        _admin(app),
        "/api/v1/players/nobody/deposits",
        {"amount": 1, "idempotencyKey": "dep-nobody"},
    )
    assert resp.status_code == 404


def test_a_blocked_player_is_refused_by_identify(client, app, clock):
    pid = _new_player(client, app, "USD")
    token = _post(client, _admin(app), f"/api/v1/players/{pid}/tokens", {}).json["data"]
    identify = {"operator": f.OPERATOR, "token": token["token"]}
    assert f.pam(client, clock, "identify", identify).status_code == 200

    resp = client.simulate_patch(
        f"/api/v1/players/{pid}", json={"blocked": True}, headers=_admin(app)
    )
    assert resp.status_code == 200, resp.text
    assert resp.json["data"]["blocked"] is True
    refused = f.pam(client, clock, "identify", identify)
    assert refused.status_code == 400
    assert refused.json == {"code": 106, "message": "Player blocked"}

    resp = client.simulate_patch(
        f"/api/v1/players/{pid}", json={"blocked": False}, headers=_admin(app)
    )
    assert resp.json["data"]["blocked"] is False
    assert f.pam(client, clock, "identify", identify).status_code == 200


def test_only_admin_blocks_and_blocked_must_be_a_boolean(client, app, clock):
    banca, ventana = f.banca_and_ventana(clock)
    pid = _new_player(client, app, "USD", ventana_id=ventana)
    staff = _auth(app, Principal(user_id="v-1", role=VENTANA, banca_id=banca, ventana_id=ventana))
    resp = client.simulate_patch(f"/api/v1/players/{pid}", json={"blocked": True}, headers=staff)
    assert resp.status_code == 403
    resp = client.simulate_patch(
        f"/api/v1/players/{pid}", json={"blocked": "yes"}, headers=_admin(app)
    )
    assert resp.status_code == 400
    assert "blocked" in resp.json["error"]["details"]
    assert _wallet(client, app, pid)["blocked"] is False


def test_a_player_token_is_issued_for_identify(client, app, clock):
    pid = _new_player(client, app, "USD")
    _post(
        client,
        _admin(app),
        f"/api/v1/players/{pid}/deposits",
        {"amount": 12, "idempotencyKey": "dep-usd-0012"},
    )
    resp = client.simulate_post(f"/api/v1/players/{pid}/tokens", headers=_admin(app))
    assert resp.status_code == 201, resp.text
    data = resp.json["data"]
    assert data["playerId"] == pid and data["token"] and data["expiresAt"].endswith("Z")
    seen = f.pam(client, clock, "identify", {"operator": f.OPERATOR, "token": data["token"]})
    assert seen.status_code == 200
    assert (seen.json["player_id"], seen.json["balance"]) == (pid, 1200)


def test_a_token_request_without_auth_is_401_in_back_office_shape(client, app):
    pid = _new_player(client, app, "USD")
    resp = client.simulate_post(f"/api/v1/players/{pid}/tokens")
    assert resp.status_code == 401
    assert resp.json == {
        "success": False,
        "error": {"code": "UNAUTHORIZED", "message": "Missing, invalid or expired token"},
    }


def test_the_access_token_cookie_authenticates(client, app):
    pid = _new_player(client, app, "USD")
    cookie = {"accessToken": _token(app, Principal(user_id="admin-1", role=ADMIN))}
    resp = client.simulate_post(f"/api/v1/players/{pid}/tokens", cookies=cookie)
    assert resp.status_code == 201, resp.text
    assert resp.json["data"]["playerId"] == pid


def test_a_vendedor_may_not_issue_player_tokens(client, app, clock):
    banca, ventana = f.banca_and_ventana(clock)
    pid = _new_player(client, app, "USD", ventana_id=ventana)
    seller = _auth(
        app,
        Principal(
            user_id="s-1", role=VENDEDOR, banca_id=banca, ventana_id=ventana, vendedor_id="s-1"
        ),
    )
    resp = client.simulate_post(f"/api/v1/players/{pid}/tokens", headers=seller)
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "FORBIDDEN"


def test_concurrent_duplicate_deposits_credit_the_wallet_once(app):
    """16 cashiers' retries of one deposit at the same instant: one 201, fifteen replays."""
    pid = _new_player(falcon.testing.TestClient(app), app, "CRC")
    headers = _admin(app)
    body = {"amount": 50000, "method": "cash", "idempotencyKey": "race-deposit-0001"}
    start = threading.Barrier(16)

    def deposit(_: int) -> tuple[int, Any]:
        client = falcon.testing.TestClient(app)
        start.wait()
        resp = _post(client, headers, f"/api/v1/players/{pid}/deposits", body)
        return resp.status_code, resp.json

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(deposit, range(16)))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 15 + [201], results
    created = next(body for status, body in results if status == 201)
    for status, answer in results:
        if status == 200:
            assert answer == {"success": True, "data": created["data"], "meta": {"cached": True}}
    wallet = _wallet(falcon.testing.TestClient(app), app, pid)
    assert (wallet["balance"], wallet["available"]) == (50000, 50000)
