"""Tried as an attacker would, with two configured operators and captured traffic: each
attack answers the SPEC's error, moves no money, and the books reconcile afterwards.

Each test sends what the attacker sends (real HMAC over real bytes) through the app."""

from __future__ import annotations

import json
from collections.abc import Callable

import falcon.testing
import pytest

from config.partners import load_partners
from config.settings import Config
from gateway.app import create_app
from gateway.core import accounts, audit, ledger, reconcile, rejections
from gateway.core.clock import unix
from gateway.http.auth import TokenService
from gateway.store.models import AuditRecord, Entry, LedgerTxn, RejectionTally, Ticket
from signing import betstack
from signing.keys import Partner, PartnerKey
from tests import factories as f
from tests.concurrency import race
from tests.conftest import JWT_SECRET, ROOT

BETA_SECRET = "BETA-SECRET-KEY"


@pytest.fixture
def app(db, clock, db_url):  # type: ignore[no-untyped-def]
    """Two tenants: `acme` (the demo partner) and `beta`."""
    partners = (
        *load_partners(str(ROOT / "config" / "demo_partners.toml")),
        Partner(
            id="beta-engine",
            protocol="betstack",
            operator="beta",
            keys=(PartnerKey("k", BETA_SECRET),),
        ),
    )
    config = Config(
        env="test",
        database_url=db_url,
        jwt_secret=JWT_SECRET,
        partners=partners,
        log_format="json",
        rejection_flush_s=0,
    )
    return create_app(config, db=db, clock=clock)


def _pam(client, clock, action, data, **kw):  # type: ignore[no-untyped-def]
    return f.pam(client, clock, action, data, **kw)


def _beta(client, clock, action, data):  # type: ignore[no-untyped-def]
    return f.pam(
        client, clock, action, {**data, "operator": "beta"}, secret=BETA_SECRET, operator="beta"
    )


def _money_moved() -> tuple[int, int]:
    return LedgerTxn.select().count(), Entry.select().count()


def _books_clean() -> None:
    assert reconcile.reconcile().ok
    assert audit.verify().ok


# --- 1. spaces inside a string -------------------------------------------------------------


def test_spaces_added_inside_ticket_id_do_not_verify_and_debit_once(client, clock):
    pid = f.player(clock, balance=10_000)
    raw, headers = f.signed({"action": "ticket_create", "data": f.ticket_data("CAP1", pid)}, clock)
    assert client.simulate_post("/pam", body=raw, headers=headers).status_code == 200
    for variant in (b'"CA P1"', b'"C A P 1"', b'"CAP1 "', b'" CAP1"'):
        lifted = raw.replace(b'"CAP1"', variant)
        resp = client.simulate_post("/pam", body=lifted, headers=headers)
        assert resp.status_code == 403 and resp.json == {
            "code": 109,
            "message": "Invalid signature",
        }
    assert f.wallet(clock, pid).balance == 9_500
    assert Ticket.select().count() == 1
    _books_clean()


# --- 2. replays of captured messages -----------------------------------------------------------


def test_captured_rollback_and_win_replayed_after_settlement_move_nothing(client, clock):
    pid = f.player(clock, balance=10_000)
    assert _pam(client, clock, "ticket_create", f.ticket_data("R-1", pid)).status_code == 200
    clock.advance(1)
    win = f.signed(
        {"action": "ticket_win", "data": {"operator": "acme", "ticket_id": "R-1"}}, clock
    )
    assert client.simulate_post("/pam", body=win[0], headers=win[1]).status_code == 200
    clock.advance(1)
    rollback = f.signed(
        {"action": "ticket_rollback", "data": {"operator": "acme", "ticket_id": "R-1"}}, clock
    )
    assert client.simulate_post("/pam", body=rollback[0], headers=rollback[1]).status_code == 200
    clock.advance(1)
    assert (
        _pam(client, clock, "ticket_lost", {"operator": "acme", "ticket_id": "R-1"}).status_code
        == 200
    )
    assert f.wallet(clock, pid).balance == 9_500
    moved = _money_moved()
    clock.advance(60)  # still inside the 300 s window of the captured messages
    for raw, headers in (rollback, win, rollback, win):
        resp = client.simulate_post("/pam", body=raw, headers=headers)
        assert (resp.status_code, resp.text) == (200, "")  # the first answer, run again: no
    assert f.wallet(clock, pid).balance == 9_500
    assert _money_moved() == moved
    got = f.be(client, clock, "GET", "/be/tickets/R-1").json
    assert (got["status"], got["result"]) == ("resulted", "lost")
    _books_clean()


def test_a_byte_identical_retry_answers_the_first_response_and_runs_nothing(client, clock):
    pid = f.player(clock, balance=10_000)
    assert _pam(client, clock, "ticket_reserve", f.ticket_data("P-1", pid)).status_code == 200
    clock.advance(1)
    raw, headers = f.signed(None, clock)
    first = client.simulate_post("/be/tickets/P-1/paid", body=raw, headers=headers)
    assert first.status_code == 200 and first.json["status"] == "open"
    clock.advance(1)
    assert (
        _pam(client, clock, "ticket_lost", {"operator": "acme", "ticket_id": "P-1"}).status_code
        == 200
    )
    again = client.simulate_post("/be/tickets/P-1/paid", body=raw, headers=headers)
    assert (again.status_code, again.content) == (first.status_code, first.content)


def test_reformatted_copies_of_a_signed_message_are_the_same_message(client, clock):
    """Whitespace between tokens verifies through the re-serialised form: it is a retry of
    the same signed message, answered from the record, and debits once."""
    pid = f.player(clock, balance=10_000)
    obj = {"action": "ticket_create", "data": f.ticket_data("W-1", pid)}
    raw, headers = f.signed(obj, clock)
    pretty = json.dumps(obj, indent=2).encode()
    assert client.simulate_post("/pam", body=raw, headers=headers).status_code == 200
    assert client.simulate_post("/pam", body=pretty, headers=headers).status_code == 200
    assert f.wallet(clock, pid).balance == 9_500


def test_a_refused_requests_headers_cannot_be_lifted_either(client, clock):
    pid = f.player(clock, balance=10_000)
    assert _pam(client, clock, "ticket_reserve", f.ticket_data("L-1", pid)).status_code == 200
    clock.advance(1)
    raw, headers = f.signed(None, clock)
    resp = client.simulate_post("/be/tickets/NOPE/paid", body=raw, headers=headers)
    assert resp.status_code == 400 and resp.json["code"] == 102
    resp = client.simulate_post("/be/tickets/L-1/paid", body=raw, headers=headers)
    assert resp.status_code == 403 and resp.json["code"] == 109
    assert f.wallet(clock, pid).available == 9_500  # still only held
    assert f.wallet(clock, pid).balance == 10_000
    # the refusal itself is answered again to a byte-identical retry
    again = client.simulate_post("/be/tickets/NOPE/paid", body=raw, headers=headers)
    assert again.status_code == 400 and again.json["code"] == 102


# --- 3. lifted body-less signatures ------------------------------------------------------------


def test_get_headers_lifted_onto_paid_are_refused_and_the_hold_stays(client, clock):
    pid = f.player(clock, balance=10_000)
    assert _pam(client, clock, "ticket_reserve", f.ticket_data("H-1", pid)).status_code == 200
    clock.advance(1)
    raw, headers = f.signed(None, clock)
    listed = client.simulate_get("/be/tickets", params={"limit": "1"}, headers=headers)
    assert listed.status_code == 200
    again = client.simulate_get("/be/tickets/H-1", headers=headers)  # reads may reuse it
    assert again.status_code == 200 and again.json["status"] == "reserved"
    resp = client.simulate_post("/be/tickets/H-1/paid", body=raw, headers=headers)
    assert resp.status_code == 403 and resp.json == {"code": 109, "message": "Invalid signature"}
    bal = f.wallet(clock, pid)
    assert (bal.balance, bal.held) == (10_000, 500)
    assert f.be(client, clock, "GET", "/be/tickets/H-1", skew=1).json["status"] == "reserved"


def test_a_second_body_less_post_in_the_same_second_is_refused(client, clock):
    pid = f.player(clock, balance=10_000)
    for tid in ("S-1", "S-2"):
        assert _pam(client, clock, "ticket_reserve", f.ticket_data(tid, pid)).status_code == 200
    clock.advance(1)
    raw, headers = f.signed(None, clock)
    assert (
        client.simulate_post("/be/tickets/S-1/paid", body=raw, headers=headers).status_code == 200
    )
    resp = client.simulate_post("/be/tickets/S-2/paid", body=raw, headers=headers)
    assert resp.status_code == 403 and resp.json["code"] == 109
    # the engine retries with a new timestamp
    assert f.be(client, clock, "POST", "/be/tickets/S-2/paid", skew=1).status_code == 200


# --- 4. tenancy --------------------------------------------------------------------------------


def test_another_operator_cannot_debit_or_identify_a_player_by_any_id(client, clock):
    pid = f.player(clock, balance=10_000, external_id="ext-1")
    token = f.token(clock, pid)
    for i, ref in enumerate((pid, "ext-1", token)):
        resp = _beta(client, clock, "ticket_create", f.ticket_data(f"X-{i}", ref))
        assert resp.status_code == 403 and resp.json == {"code": 101, "message": "User not found"}
    resp = _beta(client, clock, "identify", {"token": token})
    assert resp.status_code == 403 and resp.json["code"] == 101
    assert f.wallet(clock, pid).balance == 10_000
    assert Ticket.select().count() == 0


def test_another_operators_ticket_is_unknown_on_pam_and_forbidden_on_be(client, clock):
    pid = f.player(clock, balance=10_000)
    assert _pam(client, clock, "ticket_create", f.ticket_data("T-A", pid)).status_code == 200
    for action in (
        "ticket_win",
        "ticket_void",
        "ticket_refund",
        "ticket_rollback",
        "ticket_closed",
        "ticket_lost",
    ):
        clock.advance(1)
        resp = _beta(client, clock, action, {"ticket_id": "T-A"})
        assert resp.status_code == 400 and resp.json["code"] == 102, (action, resp.text)
    resp = f.be(client, clock, "GET", "/be/tickets/T-A", secret=BETA_SECRET, operator="beta")
    assert resp.status_code == 403
    assert f.wallet(clock, pid).balance == 9_500
    assert f.be(client, clock, "GET", "/be/tickets/T-A", skew=1).json["status"] == "open"


def test_players_are_created_for_an_operator(client, app, clock):
    admin = {"Authorization": "Bearer " + TokenService(JWT_SECRET, clock).mint(f.ADMIN_USER)}
    body = {"msisdn": "+50688887777", "lang": "es", "currency": "USD", "externalId": "E-9"}
    resp = client.simulate_post("/api/v1/players", json=body, headers=admin)
    assert resp.status_code == 400
    assert resp.json["error"]["details"] == {
        "operator": ["Operator is required when several operators are configured"]
    }
    resp = client.simulate_post(
        "/api/v1/players", json={**body, "operator": "nobody"}, headers=admin
    )
    assert resp.status_code == 400 and "operator" in resp.json["error"]["details"]
    a = client.simulate_post("/api/v1/players", json={**body, "operator": "acme"}, headers=admin)
    b = client.simulate_post("/api/v1/players", json={**body, "operator": "beta"}, headers=admin)
    assert (a.status_code, b.status_code) == (201, 201)  # externalId is unique per operator
    again = client.simulate_post(
        "/api/v1/players", json={**body, "operator": "beta"}, headers=admin
    )
    assert again.status_code == 409 and again.json["error"]["code"] == "CONFLICT"


def test_concurrent_creates_of_one_external_id_are_one_201_and_409s(app, clock, db):
    admin = {"Authorization": "Bearer " + TokenService(JWT_SECRET, clock).mint(f.ADMIN_USER)}
    body = {
        "msisdn": "+50688887777",
        "lang": "es",
        "currency": "USD",
        "externalId": "RACE",
        "operator": "acme",
    }

    def arm(_: int) -> Callable[[], int]:
        c = falcon.testing.TestClient(app)
        return lambda: c.simulate_post("/api/v1/players", json=body, headers=admin).status_code

    statuses = sorted(race(20, arm))
    assert statuses == [201] + [409] * 19


# --- 5. unbounded void, 6. PSP money ---------------------------------------------------------


def test_a_void_refunds_at_most_what_was_paid(client, clock):
    pid = f.player(clock, balance=10_000)
    assert _pam(client, clock, "ticket_create", f.ticket_data("V-1", pid)).status_code == 200
    moved = _money_moved()
    resp = _pam(
        client, clock, "ticket_void", {"operator": "acme", "ticket_id": "V-1", "net_payout": 10**15}
    )
    assert resp.status_code == 400 and resp.json["code"] == 108
    assert resp.json["details"] == {
        "net_payout": ["net_payout must not exceed what the player paid"]
    }
    assert _money_moved() == moved and f.wallet(clock, pid).balance == 9_500
    clock.advance(1)
    assert (
        _pam(
            client,
            clock,
            "ticket_void",
            {"operator": "acme", "ticket_id": "V-1", "net_payout": 200},
        ).status_code
        == 200
    )
    assert f.wallet(clock, pid).balance == 9_700  # a lower refund is allowed
    _books_clean()


def test_psp_paid_money_goes_back_to_the_psp_not_the_wallet(client, clock):
    pid = f.player(clock, balance=1_000)
    data = f.ticket_data("J-1", pid, psp="card", ticket_type="jackpot")
    assert _pam(client, clock, "ticket_reserve", data).status_code == 200
    assert f.be(client, clock, "POST", "/be/tickets/J-1/paid", skew=1).status_code == 200
    clock.advance(2)
    zero = {
        **data,
        "price": 0,
        "stake": 0,
        "ext_amount": 0,
        "wht_amount": 0,
        "gross_payout": 0,
        "net_payout": 0,
    }
    assert _pam(client, clock, "ticket_update", zero).status_code == 200
    assert f.wallet(clock, pid).balance == 1_000  # nothing the player could withdraw
    clearing = ledger.balance_of(accounts.psp_clearing("card", "USD", clock.now()))
    assert clearing.balance == 0  # the card's 500 went back to the card
    _books_clean()


def test_psp_refund_goes_back_to_the_psp(client, clock):
    pid = f.player(clock, balance=1_000)
    assert (
        _pam(client, clock, "ticket_reserve", f.ticket_data("J-2", pid, psp="mpesa")).status_code
        == 200
    )
    assert f.be(client, clock, "POST", "/be/tickets/J-2/paid", skew=1).status_code == 200
    clock.advance(2)
    assert (
        _pam(client, clock, "ticket_refund", {"operator": "acme", "ticket_id": "J-2"}).status_code
        == 200
    )
    assert f.wallet(clock, pid).balance == 1_000
    assert ledger.balance_of(accounts.psp_clearing("mpesa", "USD", clock.now())).balance == 0
    _books_clean()


# --- 8. unauthenticated floods ---------------------------------------------------------------


def test_a_flood_of_bad_signatures_writes_one_summary_row_per_minute(client, app, clock):
    tally = app.services.rejections
    before = AuditRecord.select().count()
    garbage = {
        "timestamp": str(unix(clock.now())),
        "signature": "0" * 64,
        "operator-name": "acme",
        "Content-Type": "application/json",
    }
    for i in range(50):
        resp = client.simulate_post(
            "/pam", body=b'{"action":"ticket_create","data":{}}', headers=garbage
        )
        assert resp.status_code == 403
        if i == 24:
            clock.advance(60)  # the flood spans two minutes
    for _ in range(5):
        client.simulate_get("/api/v1/players/x", headers={"Authorization": "Bearer junk"})
    assert AuditRecord.select().count() == before  # nothing written on the request path
    assert tally.flush() == 0  # counted into the tally; no minute is over yet
    assert sorted((r.partner, r.reason, r.count) for r in RejectionTally.select()) == [
        ("backoffice", "invalid_token", 5),
        ("betstack-demo", "bad_signature", 25),
        ("betstack-demo", "bad_signature", 25),
    ]
    clock.advance(180)
    assert rejections.summarise(clock.now()) == 3
    rows = list(AuditRecord.select().where(AuditRecord.seq > before).order_by(AuditRecord.seq))
    assert [(r.action, r.result, json.loads(r.details)["count"]) for r in rows] == [
        ("signature_check", "rejected:bad_signature", 25),
        ("auth_check", "rejected:invalid_token", 5),
        ("signature_check", "rejected:bad_signature", 25),
    ]
    assert RejectionTally.select().count() == 0
    assert audit.verify().ok


# --- never 500 -----------------------------------------------------------------------------------

_TEXT_FIELDS = (
    "ticket_id",
    "ticket_code",
    "player_id",
    "currency",
    "atag",
    "rtag",
    "ticket_type",
    "psp",
    "wht",
    "ext",
    "ext_type",
)


@pytest.mark.parametrize("field", _TEXT_FIELDS)
def test_a_lone_surrogate_in_any_pam_text_field_is_108(client, clock, field):
    pid = f.player(clock, balance=10_000)
    data = f.ticket_data("U-1", pid)
    data[field] = "a\ud800"
    raw = json.dumps({"action": "ticket_create", "data": data}).encode()  # \ud800 escaped
    headers = betstack.signed_headers(f.SECRET, raw, timestamp=unix(clock.now()), operator="acme")
    resp = client.simulate_post("/pam", body=raw, headers=headers)
    assert resp.status_code == 400 and resp.json["code"] == 108, resp.text
    assert resp.json["details"] == {
        "data": {field: ["Must not contain unpaired surrogate characters."]}
    }
    assert f.wallet(clock, pid).balance == 10_000


def test_a_lone_surrogate_token_on_identify_is_108(client, clock):
    resp = _pam(client, clock, "identify", {"operator": "acme", "token": "\udfff"})
    assert resp.status_code == 400 and resp.json["code"] == 108


def test_deep_nesting_in_an_ignored_field_is_108_not_500(client, clock):
    pid = f.player(clock, balance=10_000)
    data = f.ticket_data("D-1", pid)
    raw = json.dumps({"action": "ticket_create", "data": data}).encode()
    raw = raw[:-2] + b',"extra":' + b"[" * 1000 + b"]" * 1000 + b"}}"
    headers = betstack.signed_headers(f.SECRET, raw, timestamp=unix(clock.now()), operator="acme")
    resp = client.simulate_post("/pam", body=raw, headers=headers)
    assert resp.status_code == 400 and resp.json["code"] == 108
    assert f.wallet(clock, pid).balance == 10_000


def test_receipt_check_of_30000_deep_json_is_a_validation_error(client):
    resp = client.simulate_post("/api/v1/receipts/verify", body=b"[" * 30_000 + b"]" * 30_000)
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "VALIDATION_ERROR"


def test_nan_amounts_are_108(client, clock):
    pid = f.player(clock, balance=10_000)
    raw = betstack.compact_json(
        {"action": "ticket_create", "data": f.ticket_data("N-1", pid)}
    ).replace(b'"price":500', b'"price":NaN')
    headers = betstack.signed_headers(f.SECRET, raw, timestamp=unix(clock.now()), operator="acme")
    resp = client.simulate_post("/pam", body=raw, headers=headers)
    assert resp.status_code == 400 and resp.json["code"] == 108


# --- concurrent duplicates (threads; PostgreSQL in CI) --------------------------------------


def _race(app, n, send):  # type: ignore[no-untyped-def]
    def arm(i: int):  # type: ignore[no-untyped-def]
        c = falcon.testing.TestClient(app)
        return lambda: send(c, i)

    return race(n, arm)


def test_concurrent_copies_of_one_signed_create_debit_once(app, db, clock):
    pid = f.player(clock, balance=10_000)
    raw, headers = f.signed({"action": "ticket_create", "data": f.ticket_data("C-1", pid)}, clock)
    results = _race(app, 16, lambda c, i: c.simulate_post("/pam", body=raw, headers=headers))
    assert [(r.status_code, r.text) for r in results] == [(200, "")] * 16
    assert f.wallet(clock, pid).balance == 9_500
    _books_clean()


def test_one_body_less_signature_racing_over_many_tickets_pays_one(app, db, clock):
    pid = f.player(clock, balance=10_000)
    client = falcon.testing.TestClient(app)
    for i in range(8):
        assert (
            _pam(client, clock, "ticket_reserve", f.ticket_data(f"RP-{i}", pid)).status_code == 200
        )
    clock.advance(1)
    raw, headers = f.signed(None, clock)
    results = _race(
        app, 8, lambda c, i: c.simulate_post(f"/be/tickets/RP-{i}/paid", body=raw, headers=headers)
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [403] * 7
    bal = f.wallet(clock, pid)
    assert (bal.balance, bal.held) == (9_500, 3_500)  # one posted, seven still held
    _books_clean()


# --- the body is read only after it is verified ------------------------------------------------


def test_without_operator_name_the_partner_is_found_by_its_key(client, clock):
    pid = f.player(clock, balance=10_000)
    raw, headers = f.signed(
        {"action": "ticket_create", "data": f.ticket_data("K-1", pid)}, clock, operator=None
    )
    assert "operator-name" not in headers
    assert client.simulate_post("/pam", body=raw, headers=headers).status_code == 200
    assert f.wallet(clock, pid).balance == 9_500


def test_a_message_signed_by_one_operator_for_another_is_refused(client, clock):
    pid = f.player(clock, balance=10_000)
    for operator in (None, "beta"):  # found by beta's key, or named by the header
        clock.advance(1)
        raw, headers = f.signed(
            {"action": "ticket_create", "data": f.ticket_data("K-2", pid)},  # data.operator: acme
            clock,
            secret=BETA_SECRET,
            operator=operator,
        )
        resp = client.simulate_post("/pam", body=raw, headers=headers)
        assert resp.status_code == 403 and resp.json["code"] == 109
    assert f.wallet(clock, pid).balance == 10_000 and Ticket.select().count() == 0
