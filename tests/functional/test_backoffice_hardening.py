"""Bad input never answers 500 and claims are checked against the data (SPEC 0, 2, 7b, 7c).

Each test asserts what a client sees (status and error body in its protocol's shape) and
that nothing was written. Run on SQLite and on PostgreSQL (`PAMGATE_TEST_DATABASE_URL`).
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from gateway.app import PROTOCOLS
from gateway.core.clock import unix
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal
from gateway.http.errors import ProtocolError
from gateway.http.inputs import InputGuard
from gateway.http.protocol import Protocols
from gateway.store.models import (
    AuditRecord,
    Banca,
    IdempotencyRecord,
    LedgerTxn,
    Player,
    PlayerToken,
    Ventana,
)
from tests import factories as f
from tests.conftest import JWT_SECRET

# --- helpers ---------------------------------------------------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _mint(app: Any, principal: Principal) -> dict[str, str]:
    return _bearer(app.services.tokens.mint(principal))


def _admin(app: Any) -> dict[str, str]:
    return _mint(app, Principal(user_id="admin-1", role=ADMIN))


def _raw_token(clock: Any, **claims: Any) -> str:
    """A validly signed HS256 token with exactly these claims over sane defaults."""
    now = unix(clock.now())
    body: dict[str, Any] = {
        "sub": "svc-1",
        "role": ADMIN,
        "permissions": [],
        "iat": now,
        "exp": now + 600,
        "jti": "j-1",
    }
    body.update(claims)
    return jwt.encode(body, JWT_SECRET, algorithm="HS256")


def _counts() -> tuple[int, ...]:
    return tuple(
        model.select().count()
        for model in (
            AuditRecord,
            Banca,
            Ventana,
            Player,
            PlayerToken,
            LedgerTxn,
            IdempotencyRecord,
        )
    )


def _assert_backoffice_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "details"}
    assert set(body) == {"success", "error"}
    return body["error"]


def _two_bancas(clock: Any) -> dict[str, str]:
    """Banca A with ventana A1 (seller a1) and A2 (player at A2); banca B with ventana B1."""
    banca_a, ventana_a1 = f.banca_and_ventana(clock)
    from gateway.core import network

    ventana_a2 = network.create_ventana(
        f.ctx(clock),
        f.ADMIN_USER,
        network.NewVentana(banca_id=banca_a, name="Ventana A2", commission_bps=0),
    ).result.id
    seller = network.create_vendedor(
        f.ctx(clock),
        f.ADMIN_USER,
        network.NewVendedor(ventana_id=ventana_a1, name="Ana", commission_bps=0),
    ).result.id
    banca_b, ventana_b1 = f.banca_and_ventana(clock)
    player_a2 = f.player(clock, ventana_id=ventana_a2)
    return {
        "banca_a": banca_a,
        "a1": ventana_a1,
        "a2": ventana_a2,
        "seller": seller,
        "banca_b": banca_b,
        "b1": ventana_b1,
        "player_a2": player_a2,
    }


# --- 1. validly signed tokens with odd claims: 401, never 500 ---------------------------------

ODD_CLAIMS = [
    pytest.param({"exp": "abc"}, id="exp-string"),
    pytest.param({"exp": [1]}, id="exp-list"),
    pytest.param({"exp": {"a": 1}}, id="exp-object"),
    pytest.param({"exp": 10**30}, id="exp-huge"),
    pytest.param({"exp": True}, id="exp-bool"),
    pytest.param({"iat": [1]}, id="iat-list"),
    pytest.param({"iat": {"a": 1}}, id="iat-object"),
    pytest.param({"iat": "abc"}, id="iat-string"),
    pytest.param({"iat": 1.5}, id="iat-float"),
    pytest.param({"sub": "x" * 300}, id="sub-300-chars"),
    pytest.param({"sub": ""}, id="sub-empty"),
    pytest.param({"sub": "a\x00b"}, id="sub-nul"),
    pytest.param({"sub": "\ud800"}, id="sub-lone-surrogate"),
    pytest.param({"role": ["ADMIN"]}, id="role-list"),
    pytest.param({"role": "ROOT"}, id="role-unknown"),
    pytest.param({"bancaId": ["b"]}, id="bancaId-list"),
    pytest.param({"bancaId": 7}, id="bancaId-number"),
    pytest.param({"ventanaId": [1]}, id="ventanaId-list"),
    pytest.param({"ventanaId": 7}, id="ventanaId-number"),
    pytest.param({"ventanaId": "v" * 37}, id="ventanaId-37-chars"),
    pytest.param({"vendedorId": {"id": 1}}, id="vendedorId-object"),
    pytest.param({"vendedorId": "\x00"}, id="vendedorId-nul"),
    pytest.param({"permissions": [1, 2]}, id="permissions-numbers"),
    pytest.param({"permissions": [["payments_read"]]}, id="permissions-nested"),
    pytest.param({"permissions": "payments_read"}, id="permissions-string"),
    pytest.param({"permissions": ["p" * 300]}, id="permissions-long"),
    pytest.param({"jti": ["x"]}, id="jti-list"),
]


@pytest.mark.parametrize("claims", ODD_CLAIMS)
def test_a_signed_token_with_odd_claims_is_401_on_a_read(client, clock, claims):
    resp = client.simulate_get("/api/v1/bancas", headers=_bearer(_raw_token(clock, **claims)))
    _assert_backoffice_error(resp, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("claims", ODD_CLAIMS)
def test_a_signed_token_with_odd_claims_is_401_on_a_write_and_writes_nothing(client, clock, claims):
    player_id = f.player(clock)
    before = _counts()
    resp = client.simulate_post(
        f"/api/v1/players/{player_id}/tokens", headers=_bearer(_raw_token(clock, **claims))
    )
    _assert_backoffice_error(resp, 401, "UNAUTHORIZED")
    assert _counts() == before


def test_a_300_character_sub_in_the_cookie_is_401_and_writes_nothing(client, clock):
    player_id = f.player(clock)
    before = _counts()
    token = _raw_token(clock, sub="s" * 300)
    resp = client.simulate_post(
        f"/api/v1/players/{player_id}/deposits",
        json={"amount": 10, "idempotencyKey": "key-00001"},
        headers={"Cookie": f"accessToken={token}"},
    )
    _assert_backoffice_error(resp, 401, "UNAUTHORIZED")
    assert _counts() == before


def test_a_100_character_sub_is_accepted_and_recorded(client, app, clock):
    """The limit is the column's: a sub of 100 characters works end to end."""
    player_id = f.player(clock)
    resp = client.simulate_post(
        f"/api/v1/players/{player_id}/tokens", headers=_bearer(_raw_token(clock, sub="s" * 100))
    )
    assert resp.status_code == 201, resp.text
    assert PlayerToken.get(PlayerToken.player == player_id).created_by == "s" * 100


# --- 2. claims are checked against the data ---------------------------------------------------


def test_a_ventana_token_acts_for_the_banca_that_owns_its_ventana(client, app, clock):
    ids = _two_bancas(clock)
    lying = _mint(
        app, Principal(user_id="v-1", role=VENTANA, banca_id=ids["banca_b"], ventana_id=ids["a1"])
    )
    resp = client.simulate_get(f"/api/v1/bancas/{ids['banca_b']}", headers=lying)
    _assert_backoffice_error(resp, 403, "FORBIDDEN")
    listed = client.simulate_get("/api/v1/bancas", headers=lying)
    assert listed.status_code == 200, listed.text
    assert [b["id"] for b in listed.json["data"]] == [ids["banca_a"]]
    own = client.simulate_get(f"/api/v1/bancas/{ids['banca_a']}", headers=lying)
    assert own.status_code == 200, own.text
    assert own.json["data"]["id"] == ids["banca_a"]


def test_a_vendedor_token_acts_for_its_sellers_window(client, app, clock):
    """A VENDEDOR whose token claims another window (and banca) sees only its own."""
    ids = _two_bancas(clock)
    lying = _mint(
        app,
        Principal(
            user_id="s-1",
            role=VENDEDOR,
            banca_id=ids["banca_b"],
            ventana_id=ids["a2"],
            vendedor_id=ids["seller"],
        ),
    )
    ventanas = client.simulate_get("/api/v1/ventanas", headers=lying)
    assert ventanas.status_code == 200, ventanas.text
    assert [v["id"] for v in ventanas.json["data"]] == [ids["a1"]]
    bancas = client.simulate_get("/api/v1/bancas", headers=lying)
    assert [b["id"] for b in bancas.json["data"]] == [ids["banca_a"]]
    resp = client.simulate_get(f"/api/v1/players/{ids['player_a2']}", headers=lying)
    _assert_backoffice_error(resp, 403, "FORBIDDEN")


NAMES_NOTHING = [
    pytest.param(ADMIN, {"banca_id": "no-such-banca"}, id="admin-unknown-banca"),
    pytest.param(VENTANA, {"ventana_id": "no-such-ventana"}, id="ventana-unknown-ventana"),
    pytest.param(VENTANA, {"ventana_id": None}, id="ventana-without-ventana"),
    pytest.param(VENTANA, {"banca_id": "no-such-banca"}, id="ventana-unknown-banca"),
    pytest.param(VENDEDOR, {"vendedor_id": "no-such-seller"}, id="vendedor-unknown-seller"),
    pytest.param(VENDEDOR, {"vendedor_id": None}, id="vendedor-without-seller"),
]


@pytest.mark.parametrize(("role", "override"), NAMES_NOTHING)
@pytest.mark.parametrize("path", ["/api/v1/bancas", "/api/v1/ventanas", "/api/v1/vendedores"])
def test_a_token_whose_ids_name_nothing_is_403(client, app, clock, role, override, path):
    ids = _two_bancas(clock)
    claims = {"banca_id": ids["banca_a"], "ventana_id": ids["a1"], "vendedor_id": None}
    if role == VENDEDOR:
        claims["vendedor_id"] = ids["seller"]
    claims.update(override)
    headers = _mint(app, Principal(user_id="u-1", role=role, **claims))
    _assert_backoffice_error(client.simulate_get(path, headers=headers), 403, "FORBIDDEN")


def test_a_ventana_token_naming_a_seller_of_another_window_is_403(client, app, clock):
    ids = _two_bancas(clock)
    headers = _mint(
        app, Principal(user_id="v-1", role=VENTANA, ventana_id=ids["a2"], vendedor_id=ids["seller"])
    )
    _assert_backoffice_error(
        client.simulate_get("/api/v1/ventanas", headers=headers), 403, "FORBIDDEN"
    )


def test_a_token_whose_ids_name_nothing_writes_nothing(client, app, clock):
    ids = _two_bancas(clock)
    before = _counts()
    headers = _mint(app, Principal(user_id="v-1", role=VENTANA, ventana_id="gone"))
    resp = client.simulate_post(f"/api/v1/players/{ids['player_a2']}/tokens", headers=headers)
    _assert_backoffice_error(resp, 403, "FORBIDDEN")
    resp = client.simulate_post(
        f"/api/v1/players/{ids['player_a2']}/deposits",
        headers=headers,
        json={"amount": 10, "idempotencyKey": "key-00001"},
    )
    _assert_backoffice_error(resp, 403, "FORBIDDEN")
    admin = _mint(app, Principal(user_id="a-1", role=ADMIN, banca_id="gone"))
    resp = client.simulate_post("/api/v1/bancas", headers=admin, json={"name": "X"})
    _assert_backoffice_error(resp, 403, "FORBIDDEN")
    assert _counts() == before


def test_a_ventana_token_with_a_true_claim_still_works(client, app, clock):
    ids = _two_bancas(clock)
    headers = _mint(
        app, Principal(user_id="v-1", role=VENTANA, banca_id=ids["banca_a"], ventana_id=ids["a2"])
    )
    resp = client.simulate_post(f"/api/v1/players/{ids['player_a2']}/tokens", headers=headers)
    assert resp.status_code == 201, resp.text


# --- 3. msisdn must fully match \+[1-9]\d{7,14} ----------------------------------------------


@pytest.mark.parametrize(
    "msisdn",
    [
        "+50688887777\n",
        "+50688887777\r\n",
        "\n+50688887777",
        "50688887777",
        "+05068888777",
        "+1234567",
        "+1234567890123456",
        "+5068888777\u0667",
        "+50688 887777",
    ],
)
def test_an_msisdn_that_does_not_fully_match_is_a_validation_error(client, app, msisdn):
    before = _counts()
    resp = client.simulate_post(
        "/api/v1/players",
        headers=_admin(app),
        json={"msisdn": msisdn, "lang": "es", "currency": "CRC"},
    )
    error = _assert_backoffice_error(resp, 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"msisdn"}
    assert _counts() == before


@pytest.mark.parametrize("msisdn", ["+50688887777", "+12345678", "+123456789012345"])
def test_a_full_e164_msisdn_is_accepted(client, app, msisdn):
    resp = client.simulate_post(
        "/api/v1/players",
        headers=_admin(app),
        json={"msisdn": msisdn, "lang": "es", "currency": "CRC"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json["data"]["msisdn"] == msisdn


# --- 4. NUL (and decoding oddities) in a path or query: 400, never 500 -----------------------

BACKOFFICE_PATHS = [
    ("GET", "/api/v1/players/%00"),
    ("PATCH", "/api/v1/players/%00"),
    ("GET", "/api/v1/players/a%00b"),
    ("POST", "/api/v1/players/%00/tokens"),
    ("POST", "/api/v1/players/%00/deposits"),
    ("POST", "/api/v1/players/%00/withdrawals"),
    ("GET", "/api/v1/bancas/%00"),
    ("GET", "/api/v1/ventanas/%00"),
    ("GET", "/api/v1/vendedores/%00"),
    ("GET", "/api/v1/bancas?x=%00"),
    ("GET", "/api/v1/players/p?%00=1"),
]


@pytest.mark.parametrize(("method", "path"), BACKOFFICE_PATHS)
def test_nul_in_a_backoffice_path_or_query_is_400(client, app, method, path):
    before = _counts()
    body: dict[str, Any] | None = None
    if path.endswith(("/deposits", "/withdrawals")):
        body = {"amount": 10, "idempotencyKey": "key-00001"}
    elif method == "PATCH":
        body = {"blocked": True}
    resp = client.simulate_request(method, path, headers=_admin(app), json=body)
    _assert_backoffice_error(resp, 400, "VALIDATION_ERROR")
    assert _counts() == before


@pytest.mark.parametrize(
    "path",
    [
        "/be/tickets/%00",
        "/be/tickets/%00/paid",
        "/be/tickets?user_id=%00",
        "/be/tickets?skip_types=%00",
        "/be/tickets?skip_types=a,%00&limit=3",
        "/be/tickets?status=%00",
    ],
)
def test_nul_in_a_betstack_path_or_query_is_108(client, clock, path):
    before = _counts()
    method = "POST" if path.endswith("/paid") else "GET"
    resp = f.be(client, clock, method, path)
    assert resp.status_code == 400, resp.text
    assert resp.json["code"] == 108
    assert isinstance(resp.json["message"], str)
    assert _counts() == before


def test_a_lone_surrogate_in_the_path_or_query_is_refused_before_routing():
    """A WSGI server may hand falcon a path or query value holding a lone surrogate; the
    guard refuses it (falcon's own test client cannot build such a request)."""
    guard = InputGuard(Protocols(PROTOCOLS))
    for path, params in (
        ("/api/v1/players/\ud800", {}),
        ("/api/v1/players/x", {"q": "\udfff"}),
        ("/api/v1/players/x", {"q": ["ok", "a\ud800"]}),
        ("/be/tickets/\ud800", {}),
    ):
        with pytest.raises(ProtocolError) as caught:
            guard.process_request(SimpleNamespace(path=path, params=params), None)  # type: ignore[arg-type]
        assert caught.value.status == 400
    assert caught.value.body == {"code": 108, "message": caught.value.body["message"]}
    guard.process_request(
        SimpleNamespace(
            path="/api/v1/players/\u00e9\U0001f600",  # type: ignore[arg-type]
            params={"q": "\u00e9"},
        ),
        None,
    )


def test_invalid_utf8_in_a_path_is_not_a_500(client, app):
    """`%ED%A0%80` (an encoded surrogate) and `%FF` decode to U+FFFD: a plain 404."""
    for path in ("/api/v1/players/%ED%A0%80", "/api/v1/players/%FF", "/api/v1/bancas/%C0%80"):
        resp = client.simulate_get(path, headers=_admin(app))
        _assert_backoffice_error(resp, 404, "NOT_FOUND")


# --- 5. lone surrogates in back-office text: 400, never 500 ----------------------------------


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/v1/bancas", '{"name":"Banca \\ud800"}'),
        ("/api/v1/bancas", '{"name":"\\udfff"}'),
        (
            "/api/v1/players",
            '{"msisdn":"+50688887777","lang":"es","currency":"CRC","externalId":"ext-\\ud83d"}',
        ),
    ],
)
def test_a_lone_surrogate_in_a_backoffice_write_is_a_validation_error(client, app, path, raw):
    before = _counts()
    resp = client.simulate_post(
        path, headers={**_admin(app), "Content-Type": "application/json"}, body=raw
    )
    error = _assert_backoffice_error(resp, 400, "VALIDATION_ERROR")
    (field,) = error["details"]
    assert error["details"][field] == ["Must not contain unpaired surrogate characters."]
    assert _counts() == before


def test_a_surrogate_pair_is_ordinary_text(client, app):
    resp = client.simulate_post(
        "/api/v1/bancas",
        headers={**_admin(app), "Content-Type": "application/json"},
        body='{"name":"Banca \\ud83d\\ude00"}',
    )
    assert resp.status_code == 201, resp.text
    assert resp.json["data"]["name"] == "Banca \U0001f600"


def test_expiry_is_still_checked_against_the_injected_clock(client, clock):
    token = _raw_token(clock, exp=unix(clock.now() + dt.timedelta(seconds=5)))
    assert client.simulate_get("/api/v1/bancas", headers=_bearer(token)).status_code == 200
    clock.advance(5)
    resp = client.simulate_get("/api/v1/bancas", headers=_bearer(token))
    _assert_backoffice_error(resp, 401, "UNAUTHORIZED")
