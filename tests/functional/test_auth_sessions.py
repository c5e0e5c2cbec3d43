"""Back-office sessions (SPEC 2): login with Argon2id passwords, cookies and Bearer, the
lockout counted in the database, refresh rotation and reuse detection."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import falcon.testing
import pytest
from structlog.testing import capture_logs

from gateway.core import users
from gateway.core.audit import Actor
from gateway.core.commands import Context
from gateway.store.models import AuditRecord, RefreshToken, User
from tests import factories as f

PASSWORD = "correct horse battery staple"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"


@pytest.fixture
def cashier(app: Any, clock: Any) -> dict[str, str]:
    """A VENTANA user of a real window."""
    banca_id, ventana_id = f.banca_and_ventana(clock)
    ctx = Context(actor=Actor("system", "test"), now=clock.now())
    created = users.add_user(
        ctx,
        users.NewUser(username="caja1", password=PASSWORD, role="VENTANA", ventana_id=ventana_id),
    )
    return {"id": created.id, "banca": banca_id, "ventana": ventana_id}


def _login(client: Any, username: str = "caja1", password: str = PASSWORD) -> Any:
    return client.simulate_post(LOGIN, json={"username": username, "password": password})


def _refresh(client: Any, token: str) -> Any:
    return client.simulate_post(REFRESH, json={"refreshToken": token})


def test_login_answers_tokens_and_sets_strict_httponly_cookies(client, app, cashier):
    resp = _login(client)
    assert resp.status_code == 200, resp.text
    data = resp.json["data"]
    assert resp.json["success"] is True
    assert set(data) == {"accessToken", "refreshToken", "expiresIn"}
    assert data["expiresIn"] == app.services.tokens.ttl_s
    assert resp.cookies["accessToken"].value == data["accessToken"]
    assert resp.cookies["refreshToken"].value == data["refreshToken"]
    for name in ("accessToken", "refreshToken"):
        assert resp.cookies[name].http_only
        assert resp.cookies[name].same_site == "Strict"
    principal = app.services.tokens.verify(data["accessToken"])
    assert principal.user_id == cashier["id"]
    assert principal.role == "VENTANA"
    assert principal.ventana_id == cashier["ventana"]
    assert "payments_create" in principal.permissions


def test_the_access_token_is_accepted_by_the_back_office_as_bearer_and_cookie(client, cashier):
    access = _login(client).json["data"]["accessToken"]
    by_bearer = client.simulate_get(
        f"/api/v1/ventanas/{cashier['ventana']}", headers={"Authorization": f"Bearer {access}"}
    )
    assert by_bearer.status_code == 200, by_bearer.text
    by_cookie = client.simulate_get(
        f"/api/v1/ventanas/{cashier['ventana']}", headers={"Cookie": f"accessToken={access}"}
    )
    assert by_cookie.status_code == 200, by_cookie.text


def test_wrong_password_and_unknown_user_are_the_same_401(client, cashier):
    for username, password in (("caja1", "wrong password"), ("nobody", PASSWORD)):
        resp = _login(client, username, password)
        assert resp.status_code == 401
        assert resp.json == {
            "success": False,
            "error": {"code": "INVALID_CREDENTIALS", "message": "Invalid username or password"},
        }
        assert "accessToken" not in resp.cookies


def test_ten_failures_lock_the_user_for_fifteen_minutes(client, clock, cashier):
    for _ in range(10):
        assert _login(client, password="wrong password").status_code == 401
    locked = _login(client)
    assert locked.status_code == 429
    assert locked.json["error"]["code"] == "TOO_MANY_ATTEMPTS"
    clock.advance(14 * 60 + 59)
    assert _login(client).status_code == 429
    clock.advance(1)
    assert _login(client).status_code == 200
    actions = [r.action for r in AuditRecord.select().order_by(AuditRecord.seq)]
    assert actions.count("auth.lockout") == 1


def test_failures_spread_beyond_the_window_do_not_lock(client, clock, cashier):
    for _ in range(9):
        assert _login(client, password="wrong password").status_code == 401
    clock.advance(15 * 60)
    assert _login(client, password="wrong password").status_code == 401
    assert _login(client).status_code == 200


def test_a_success_resets_the_failure_count(client, cashier):
    for _ in range(9):
        _login(client, password="wrong password")
    assert _login(client).status_code == 200
    for _ in range(9):
        _login(client, password="wrong password")
    assert _login(client).status_code == 200


def test_the_lock_is_in_the_database_not_in_the_process(client, app, config, db, clock, cashier):
    """Another app (another worker or host) sees the lock the first one counted."""
    from gateway.app import create_app

    for _ in range(10):
        _login(client, password="wrong password")
    other = falcon.testing.TestClient(create_app(config, db=db, clock=clock))
    assert _login(other).status_code == 429
    row = User.get_by_id(cashier["id"])
    assert row.locked_until is not None


def test_refresh_rotates_and_the_new_token_works(client, app, cashier):
    first = _login(client).json["data"]
    resp = _refresh(client, first["refreshToken"])
    assert resp.status_code == 200, resp.text
    second = resp.json["data"]
    assert second["refreshToken"] != first["refreshToken"]
    assert app.services.tokens.verify(second["accessToken"]).user_id == cashier["id"]
    assert resp.cookies["refreshToken"].value == second["refreshToken"]
    assert _refresh(client, second["refreshToken"]).status_code == 200


def test_refresh_reads_the_cookie_when_the_body_has_no_token(client, cashier):
    token = _login(client).json["data"]["refreshToken"]
    resp = client.simulate_post(REFRESH, headers={"Cookie": f"refreshToken={token}"})
    assert resp.status_code == 200, resp.text


def test_a_reused_refresh_token_revokes_the_whole_family(client, cashier):
    first = _login(client).json["data"]["refreshToken"]
    second = _refresh(client, first).json["data"]["refreshToken"]
    reuse = _refresh(client, first)
    assert reuse.status_code == 401
    assert reuse.json["error"]["code"] == "INVALID_REFRESH_TOKEN"
    assert _refresh(client, second).status_code == 401
    assert RefreshToken.select().where(RefreshToken.revoked_at.is_null()).count() == 0
    actions = [(r.action, r.result) for r in AuditRecord.select().order_by(AuditRecord.seq)]
    assert ("auth.refresh_reuse", "ok") in actions
    assert ("auth.refresh", "rejected:refresh_token_reused") in actions


def test_another_login_keeps_its_own_family(client, cashier):
    """A reuse revokes one family, not the user's other sessions."""
    other = _login(client).json["data"]["refreshToken"]
    first = _login(client).json["data"]["refreshToken"]
    _refresh(client, first)
    assert _refresh(client, first).status_code == 401
    assert _refresh(client, other).status_code == 200


def test_unknown_and_expired_refresh_tokens_are_401(client, clock, cashier):
    assert _refresh(client, "not-a-token").status_code == 401
    assert client.simulate_post(REFRESH).status_code == 401
    token = _login(client).json["data"]["refreshToken"]
    clock.advance(users.REFRESH_TTL.total_seconds())
    assert _refresh(client, token).status_code == 401


def test_concurrent_refreshes_of_one_token_exactly_one_succeeds(app, cashier):
    token = _login(falcon.testing.TestClient(app)).json["data"]["refreshToken"]
    start = threading.Barrier(8)

    def refresh(_: int) -> int:
        client = falcon.testing.TestClient(app)
        start.wait()
        return int(_refresh(client, token).status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(refresh, range(8)))
    assert statuses == [200] + [401] * 7, statuses


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (LOGIN, {"username": "caja1", "password": PASSWORD, "extra": 1}),
        (LOGIN, {"username": "caja1", "password": 12345678}),
        (LOGIN, {"username": ["caja1"], "password": PASSWORD}),
        (LOGIN, {"username": "caja1"}),
        (LOGIN, {"username": "", "password": PASSWORD}),
        (LOGIN, [1, 2]),
        (REFRESH, {"refreshToken": 5}),
        (REFRESH, {"refreshToken": "x", "other": True}),
    ],
)
def test_unknown_fields_and_bad_types_are_400(client, cashier, path, body):
    resp = client.simulate_post(path, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"


def test_malformed_json_is_400(client, cashier):
    resp = client.simulate_post(
        LOGIN, body="{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"


def test_no_password_or_token_reaches_the_logs_or_the_audit(client, cashier):
    with capture_logs() as logs:
        _login(client, password="wrong password")
        data = _login(client).json["data"]
        again = _refresh(client, data["refreshToken"]).json["data"]
        _refresh(client, data["refreshToken"])
    text = json.dumps(logs, default=str)
    audit = json.dumps([r.__data__ for r in AuditRecord.select()], default=str)
    for secret in (PASSWORD, "wrong password", data["refreshToken"], again["refreshToken"]):
        assert secret not in text
        assert secret not in audit
    assert data["accessToken"] not in text


def test_passwords_are_stored_as_argon2id_and_tokens_as_hashes(client, cashier):
    token = _login(client).json["data"]["refreshToken"]
    row = User.get_by_id(cashier["id"])
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert all(token not in r.token_hash for r in RefreshToken.select())


def test_login_success_and_failure_are_audited(client, cashier):
    _login(client, password="wrong password")
    _login(client)
    rows = [(r.action, r.result) for r in AuditRecord.select().order_by(AuditRecord.seq)]
    assert ("auth.login", "rejected:invalid_credentials") in rows
    assert ("auth.login", "ok") in rows
