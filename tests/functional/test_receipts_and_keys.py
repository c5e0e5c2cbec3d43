"""Signed receipts (SPEC 1c) and pamgate's own keys, through the API and the CLI."""

from __future__ import annotations

import json

import jwt

from config.settings import DEMO_JWT_SECRET, load_config
from gateway import cli
from signing.keys import Keyring, load_signing_key, load_verify_key
from signing.receipts import security_number

RECEIPT = {
    "combination_numbers": "10,27,36,41,52,56",
    "transaction_date": "22/12/2025 20:19:57",
    "store_id": "26226",
    "pos_id": "1",
    "foreign_pos_id": "1",
    "transaction_number": "432930881",
    "reference_number": "801500019-35600002",
    "session_id": "80150001900",
    "serial_number": "4815-052713529-200818",
    "creation_date": 1769621353354,
    "ticket_image": "iVBORw0KGgo=",
}


def _signed(app):
    key = app.services.keys.current.signing_key
    return {**RECEIPT, "security_number": security_number(key, RECEIPT)}


def test_a_genuine_receipt_verifies_and_an_altered_one_does_not(app, client):
    receipt = _signed(app)
    resp = client.simulate_post("/api/v1/receipts/verify", json=receipt)
    assert resp.status_code == 200 and resp.json == {"valid": True}
    altered = {**receipt, "combination_numbers": "10,27,36,41,52,55"}
    resp = client.simulate_post("/api/v1/receipts/verify", json=altered)
    assert resp.json == {"valid": False, "reason": "bad_signature"}
    resp = client.simulate_post("/api/v1/receipts/verify", json={**receipt, "security_number": "X"})
    assert resp.json["valid"] is False


def test_receipt_verify_rejects_a_non_object_body(client):
    resp = client.simulate_post("/api/v1/receipts/verify", body=b"[1,2]")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "VALIDATION_ERROR"


def test_cli_verifies_a_receipt_file_offline(app, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PAMGATE_SIGNING_KEY", raising=False)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"receipt": _signed(app)}))
    bad.write_text(json.dumps({**_signed(app), "store_id": "99999"}))
    assert cli.main(["receipts", "verify", str(good)]) == 0
    assert capsys.readouterr().out.strip() == "valid"
    assert cli.main(["receipts", "verify", str(bad)]) == 1
    assert capsys.readouterr().out.strip() == "invalid: bad_signature"


def test_keys_generate_prints_a_working_pair_and_its_kid(capsys):
    assert cli.main(["keys", "generate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    setting = lines[0].split("=", 1)[1]
    kid, secret = setting.split(":", 1)
    public = lines[1].rsplit(" ", 1)[1]
    signed = load_signing_key(secret).sign(b"hello")
    assert load_verify_key(public).verify(signed) == b"hello"
    assert lines[2].startswith(f"# kid: {kid} ")
    # the printed line is a valid setting, published under that kid
    config = load_config({"PAMGATE_SIGNING_KEY": setting})
    assert Keyring.from_texts(config.signing_keys).published()[0]["kid"] == kid


def test_keys_generate_takes_a_kid_and_refuses_one_that_breaks_the_setting(capsys):
    assert cli.main(["keys", "generate", "--kid", "2027-01"]) == 0
    assert capsys.readouterr().out.startswith("PAMGATE_SIGNING_KEY=2027-01:whsk_")
    assert cli.main(["keys", "generate", "--kid", "a:b"]) == 2
    assert "--kid" in capsys.readouterr().err


def test_token_mints_a_jwt_with_the_claims_asked_for(capsys, monkeypatch):
    monkeypatch.delenv("PAMGATE_JWT_SECRET", raising=False)
    assert (
        cli.main(
            [
                "token",
                "--role",
                "VENTANA",
                "--sub",
                "u1",
                "--ventana",
                "v1",
                "--permission",
                "payments_read",
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, DEMO_JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"], claims["ventanaId"]) == ("u1", "VENTANA", "v1")
    assert claims["permissions"] == ["payments_read"] and claims["exp"] - claims["iat"] == 900
