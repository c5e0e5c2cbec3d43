"""`TokenService.verify` checks the type and size of every claim of a validly signed token
(SPEC 0 and 2): anything odd is `InvalidToken` (401), never an exception that becomes 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import pytest

from gateway.core.clock import FixedClock, unix
from gateway.core.principal import ADMIN, VENDEDOR, VENTANA, Principal
from gateway.http.auth import InvalidToken, TokenService

SECRET = "unit-test-jwt-secret-with-at-least-32-chars"
CLOCK = FixedClock(dt.datetime(2026, 11, 21, 12, 0, 0))
NOW = unix(CLOCK.now())
ID = "0f8fad5b-d9cb-469f-a165-70867728950e"  # 36 characters, like every network id


def _service() -> TokenService:
    return TokenService(SECRET, CLOCK)


def _token(**claims: Any) -> str:
    body: dict[str, Any] = {
        "sub": "svc-1",
        "role": VENTANA,
        "bancaId": ID,
        "ventanaId": ID,
        "permissions": ["payments_read"],
        "iat": NOW,
        "exp": NOW + 600,
        "jti": "jti-1",
    }
    body.update(claims)
    return jwt.encode(
        {k: v for k, v in body.items() if v is not _ABSENT}, SECRET, algorithm="HS256"
    )


_ABSENT = object()


def test_a_sound_token_verifies():
    principal = _service().verify(_token())
    assert principal == Principal(
        user_id="svc-1",
        role=VENTANA,
        banca_id=ID,
        ventana_id=ID,
        permissions=frozenset({"payments_read"}),
    )


def test_minted_tokens_verify_for_every_role():
    service = _service()
    for principal in (
        Principal(user_id="a", role=ADMIN),
        Principal(user_id="v", role=VENTANA, banca_id=ID, ventana_id=ID),
        Principal(user_id="s", role=VENDEDOR, vendedor_id=ID, permissions=frozenset({"x", "y"})),
    ):
        assert service.verify(service.mint(principal)) == principal


def test_limits_are_inclusive():
    principal = _service().verify(
        _token(sub="s" * 100, vendedorId="v" * 36, permissions=["p" * 64], bancaId=None)
    )
    assert (principal.user_id, principal.vendedor_id, principal.banca_id) == (
        "s" * 100,
        "v" * 36,
        None,
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "abc"},
        {"exp": [1]},
        {"exp": {"a": 1}},
        {"exp": None},
        {"exp": 1.5e12},
        {"exp": True},
        {"exp": -1},
        {"exp": 2**64},
        {"exp": "9999999999"},
        {"iat": "abc"},
        {"iat": [1]},
        {"iat": None},
        {"iat": 1.5},
        {"iat": False},
        {"iat": str(NOW)},
        {"sub": "x" * 101},
        {"sub": "x" * 300},
        {"sub": ""},
        {"sub": 7},
        {"sub": ["a"]},
        {"sub": None},
        {"sub": "a\x00"},
        {"sub": "\ud800"},
        {"role": "ROOT"},
        {"role": ["ADMIN"]},
        {"role": None},
        {"role": "admin"},
        {"bancaId": ["b"]},
        {"bancaId": 7},
        {"bancaId": ""},
        {"bancaId": "b" * 37},
        {"ventanaId": [1]},
        {"ventanaId": 7.5},
        {"ventanaId": {"id": ID}},
        {"ventanaId": True},
        {"vendedorId": "\x00"},
        {"vendedorId": "\udc00"},
        {"vendedorId": 0},
        {"permissions": [1]},
        {"permissions": [None]},
        {"permissions": [["x"]]},
        {"permissions": "payments_read"},
        {"permissions": {"payments_read": True}},
        {"permissions": None},
        {"permissions": [""]},
        {"permissions": ["p" * 65]},
        {"permissions": ["p\x00"]},
        {"permissions": [f"p{i}" for i in range(65)]},
        {"jti": ["j"]},
        {"jti": 5},
        {"jti": "j" * 101},
        {"exp": _ABSENT},
        {"iat": _ABSENT},
        {"sub": _ABSENT},
        {"role": _ABSENT},
    ],
    ids=repr,
)
def test_odd_claims_are_invalid_tokens(claims):
    with pytest.raises(InvalidToken):
        _service().verify(_token(**claims))


def test_expiry_uses_the_injected_clock():
    with pytest.raises(InvalidToken, match="expired"):
        _service().verify(_token(exp=NOW))
    assert _service().verify(_token(exp=NOW + 1)).user_id == "svc-1"


def test_a_token_signed_with_another_key_is_invalid():
    token = jwt.encode(
        {"sub": "a", "role": ADMIN, "iat": NOW, "exp": NOW + 60},
        "another-secret-of-at-least-32-characters!",
        algorithm="HS256",
    )
    with pytest.raises(InvalidToken):
        _service().verify(token)
