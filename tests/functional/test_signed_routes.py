"""Partner authentication through the app: verify before parse, 403 code 109, nothing written
but the audit line, the reason counted in metrics and logged without secrets."""

from __future__ import annotations

import json

import falcon.testing
import pytest
from structlog.testing import capture_logs

from config.settings import Config
from gateway.app import create_app
from gateway.core.clock import unix
from gateway.store.models import AuditRecord, Ticket
from signing import betstack
from signing.keys import Partner, PartnerKey
from tests import factories as f

SPEC_BODY = (
    b'{"action":"ticket_create","data":{"operator":"acme","ticket_id":"668ef666333180bba97f0c93",'
    b'"ticket_code":"CD4BDD","player_id":"sometokenvalue","price":500,"stake":444,'
    b'"wht_amount":240,"wht":10,"ext_amount":56,"ext":12.5,"ext_type":"inclusive",'
    b'"gross_payout":2842,"net_payout":2602,"currency":"USD","atag":"atag_value","rtag":null,'
    b'"ticket_type":"quickbet"}}'
)


def _post(client, body, headers):
    return client.simulate_post("/pam", body=body, headers=headers)


def test_the_published_example_is_accepted_at_its_own_time(client, clock):
    """SPEC 1a's example, signed at 1706191612: authentic, so it reaches the adapter
    (here: an unknown player → 101), proving the signature check passed."""
    import datetime as dt

    clock.set(dt.datetime(2024, 1, 25, 14, 6, 52))
    headers = {
        "timestamp": "1706191612",
        "operator-name": "acme",
        "signature": "3fe37f41ba6dc960fd2a7098bd4643f971ff1408a31bcea9f3ef8d03b3ba2d0a",
    }
    resp = _post(client, SPEC_BODY, headers)
    assert resp.status_code == 403 and resp.json == {"code": 101, "message": "User not found"}


def test_a_pretty_printed_body_still_verifies(client, clock):
    pid = f.player(clock, balance=1_000)
    obj = {"action": "ticket_create", "data": f.ticket_data("PP-1", pid)}
    compact = betstack.compact_json(obj)
    headers = betstack.signed_headers(
        f.SECRET, compact, timestamp=unix(clock.now()), operator="acme"
    )
    resp = _post(client, json.dumps(obj, indent=2).encode(), headers)
    assert (resp.status_code, resp.text) == (200, "")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw, h: (raw.replace(b"500", b"501"), h), "Invalid signature"),
        (lambda raw, h: (raw, {**h, "signature": "0" * 64}), "Invalid signature"),
        (
            lambda raw, h: (raw, {k: v for k, v in h.items() if k != "signature"}),
            "Invalid signature",
        ),
        (
            lambda raw, h: (raw, {**h, "timestamp": str(int(h["timestamp"]) - 301)}),
            "Stale timestamp",
        ),
        (
            lambda raw, h: (raw, {**h, "timestamp": str(int(h["timestamp"]) + 301)}),
            "Stale timestamp",
        ),
        (lambda raw, h: (raw, {**h, "operator-name": "nobody"}), "Invalid signature"),
    ],
    ids=[
        "altered-body",
        "wrong-signature",
        "missing-signature",
        "stale-past",
        "stale-future",
        "unknown-operator",
    ],
)
def test_refused_requests_are_403_109_and_write_nothing(app, client, clock, mutate, message):
    pid = f.player(clock, balance=1_000)
    raw, headers = f.signed({"action": "ticket_create", "data": f.ticket_data("S-1", pid)}, clock)
    raw, headers = mutate(raw, headers)
    # a signature over a stale/future timestamp must be valid, to test only the window
    if message == "Stale timestamp":
        headers["signature"] = betstack.sign(f.SECRET, headers["timestamp"], raw)
    before = AuditRecord.select().count()
    resp = _post(client, raw, headers)
    assert resp.status_code == 403
    assert resp.json == {"code": 109, "message": message}
    assert Ticket.select().count() == 0
    assert f.wallet(clock, pid).balance == 1_000
    # not even an audit row: refusals are counted, and summarised once a minute
    assert AuditRecord.select().where(AuditRecord.seq > before).count() == 0
    assert app.services.rejections.pending() == 1


def test_refusals_are_counted_by_partner_and_reason(client, clock):
    raw, headers = f.signed(
        {"action": "identify", "data": {"operator": "acme", "token": "x"}}, clock, secret="WRONGKEY"
    )
    with capture_logs() as logs:
        _post(client, raw, headers)
    metrics = client.simulate_get("/metrics").text
    assert (
        'pamgate_signature_failures_total{partner="betstack-demo",reason="bad_signature"} 1.0'
        in metrics
    )
    refusal = next(e for e in logs if e["event"] == "signature_refused")
    assert refusal["reason"] == "bad_signature"
    assert headers["signature"] not in json.dumps(logs, default=str)


def test_key_rotation_inactive_key_refused_new_key_accepted(db, clock):
    partner = Partner(
        id="bs",
        protocol="betstack",
        operator="acme",
        tolerance_s=300,
        keys=(
            PartnerKey(kid="old", secret="OLDSECRET", active=False),
            PartnerKey(kid="new", secret="NEWSECRET", active=True),
        ),
    )
    app = create_app(
        Config(env="test", partners=(partner,), rejection_flush_s=0), db=db, clock=clock
    )
    client = falcon.testing.TestClient(app)
    body = {"action": "identify", "data": {"operator": "acme", "token": "nobody"}}
    raw, headers = f.signed(body, clock, secret="OLDSECRET")
    assert _post(client, raw, headers).json["code"] == 109
    raw, headers = f.signed(body, clock, secret="NEWSECRET")
    assert _post(client, raw, headers).json["code"] == 101  # authentic; unknown token
    assert 'reason="inactive_key"' in client.simulate_get("/metrics").text


def test_tolerance_zero_accepts_recorded_traffic(db, clock):
    partner = Partner(
        id="bs",
        protocol="betstack",
        operator="acme",
        tolerance_s=0,
        keys=(PartnerKey(kid="k", secret=f.SECRET),),
    )
    app = create_app(
        Config(env="test", partners=(partner,), rejection_flush_s=0), db=db, clock=clock
    )
    raw, headers = f.signed(
        {"action": "identify", "data": {"operator": "acme", "token": "t"}}, clock, skew=-86_400
    )
    resp = _post(falcon.testing.TestClient(app), raw, headers)
    assert resp.json["code"] == 101


def test_be_endpoints_need_a_signature_too(client, clock):
    resp = client.simulate_get("/be/tickets/anything", headers={"operator-name": "acme"})
    assert resp.status_code == 403 and resp.json["code"] == 109
    resp = f.be(client, clock, "GET", "/be/tickets/anything", secret="WRONG")
    assert resp.status_code == 403


def test_ticket_of_another_operator_is_forbidden_on_paid(db, clock):
    partners = (
        Partner(id="a", protocol="betstack", operator="acme", keys=(PartnerKey("k", "AAA"),)),
        Partner(id="b", protocol="betstack", operator="beta", keys=(PartnerKey("k", "BBB"),)),
    )
    app = create_app(Config(env="test", partners=partners, rejection_flush_s=0), db=db, clock=clock)
    client = falcon.testing.TestClient(app)
    pid = f.player(clock, balance=1_000)
    resp = f.pam(client, clock, "ticket_reserve", f.ticket_data("O-1", pid), secret="AAA")
    assert resp.status_code == 200
    resp = f.be(client, clock, "POST", "/be/tickets/O-1/paid", secret="BBB", operator="beta")
    assert resp.status_code == 403
    assert f.be(client, clock, "GET", "/be/tickets/O-1", secret="AAA").json["status"] == "reserved"


def test_published_keys_are_public_ed25519(client):
    resp = client.simulate_get("/.well-known/pamgate-keys")
    assert resp.status_code == 200
    (key,) = resp.json["keys"]
    assert key["alg"] == "Ed25519" and key["public_key"].startswith("whpk_") and key["active"]


def test_a_partner_on_standard_webhooks_signs_with_ed25519(db, clock):
    """A partner that chose Standard Webhooks calls /pam with webhook-* headers (v1a)."""
    from signing import standard_webhooks
    from signing.keys import generate_keypair, load_signing_key

    secret, public = generate_keypair()
    partner = Partner(
        id="sw", protocol="standard-webhooks", operator="acme", keys=(PartnerKey("k1", public),)
    )
    app = create_app(
        Config(env="test", partners=(partner,), rejection_flush_s=0), db=db, clock=clock
    )
    client = falcon.testing.TestClient(app)
    body = betstack.compact_json(
        {"action": "identify", "data": {"operator": "acme", "token": "unknown"}}
    )
    headers = standard_webhooks.headers(
        "msg_1", unix(clock.now()), body, ed25519_keys=[load_signing_key(secret)]
    )
    headers["operator-name"] = "acme"
    assert _post(client, body, headers).json["code"] == 101  # authentic: reached identify
    headers["webhook-timestamp"] = str(unix(clock.now()) + 1)
    assert _post(client, body, headers).json["code"] == 109
