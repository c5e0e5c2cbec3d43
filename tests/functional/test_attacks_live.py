"""Attacks over real HTTP against a live `pamgate serve` (gunicorn, 2 workers) with two
configured operators, `acme` and `beta`, on SQLite or (with `PAMGATE_TEST_DATABASE_URL`)
PostgreSQL.

Everything is done as an attacker (or a legitimate engine whose traffic was captured)
would: players and tokens are seeded through the back office with an ADMIN token from
`pamgate token`, messages carry real HMAC bytes over loopback sockets, captured requests are
replayed byte for byte or with spaces added inside a string. Every response is checked to
be the SPEC's answer in its protocol's shape and never a 5xx; at the end `pamgate
reconcile` and `pamgate audit verify` run against the same database and exit 0.

One server serves the whole module; the tests run in file order and the last one checks
what they all did.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from peewee import fn

from gateway.core import rejections
from gateway.core.clock import SystemClock
from gateway.store.database import bind, database, open_database
from gateway.store.models import AuditRecord, Entry, LedgerTxn, RejectionTally
from signing import betstack
from tests import live

pytestmark = pytest.mark.slow

ACME_SECRET = "12345ABCDE"  # the demo partner's
BETA_SECRET = "BETA-SECRET-KEY-FOR-TESTS"
JWT_SECRET = "live-attack-jwt-secret-with-32-characters-or-more"
PARTNERS = (
    live.DEMO_PARTNERS.read_text()
    + """
[[partners]]
id = "beta-engine"
protocol = "betstack"
operator = "beta"
tolerance_s = 300
[[partners.keys]]
kid = "beta-1"
secret = "BETA-SECRET-KEY-FOR-TESTS"
active = true

[[partners]]
id = "gamma-engine"    # the flood's target: nothing else in this module talks to it
protocol = "betstack"
operator = "gamma"
tolerance_s = 300
[[partners.keys]]
kid = "gamma-1"
secret = "GAMMA-SECRET-KEY-FOR-TESTS"
active = true
"""
)
SECRETS = {"acme": ACME_SECRET, "beta": BETA_SECRET}
TIMEOUT = 10
INVALID_SIGNATURE = {"code": 109, "message": "Invalid signature"}
USER_NOT_FOUND = {"code": 101, "message": "User not found"}
FORBIDDEN = {"code": 109, "message": "Forbidden"}  # another operator's ticket on /be


# --- the attacker's tools ----------------------------------------------------------------------


@dataclass
class Captured:
    """A request as it went over the wire: enough to send it again byte for byte."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Wire:
    """HTTP to the live server; every answer is checked for its protocol's shape and kept."""

    base: str
    admin: dict[str, str]
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_ts: int = 0

    # timestamps ---------------------------------------------------------------------
    def unique_ts(self) -> int:
        """A timestamp no other body-less message of this module has used (two body-less
        messages in one second sign alike, and the second would be refused as a lift)."""
        with self._lock:
            self._last_ts = max(int(time.time()), self._last_ts + 1)
            return self._last_ts

    # sending ---------------------------------------------------------------------------
    def send(self, req: Captured, session: requests.Session | None = None) -> requests.Response:
        sender = session or requests
        resp = sender.request(
            req.method,
            self.base + req.path,
            data=req.body or None,
            headers=req.headers,
            timeout=TIMEOUT,
        )
        self.check(req.method, req.path, resp.status_code, resp.content)
        return resp

    def check(self, method: str, path: str, status: int, content: bytes) -> None:
        with self._lock:
            self.seen.append((method, path, status))
        assert status < 500, (method, path, status, content[:300])
        betstack_family = path.startswith(("/pam", "/be/"))
        if betstack_family and status == 200:
            return  # `""` for a webhook action, a ticket or a list otherwise
        body = json.loads(content)
        if betstack_family:
            assert isinstance(body, dict) and isinstance(body.get("code"), int), body
            assert isinstance(body.get("message"), str), body
            assert set(body) <= {"code", "message", "details"}, body
        elif status >= 400:
            assert body["success"] is False, body
            assert isinstance(body["error"]["code"], str), body
            assert isinstance(body["error"]["message"], str), body
        else:
            assert body["success"] is True, body

    # Betstack --------------------------------------------------------------------------
    def pam_request(
        self, action: str, data: dict[str, Any], *, operator: str = "acme", ts: int | None = None
    ) -> Captured:
        body = betstack.compact_json({"action": action, "data": {"operator": operator, **data}})
        return self.raw_pam(body, operator=operator, ts=ts)

    def raw_pam(
        self,
        body: bytes,
        *,
        operator: str = "acme",
        ts: int | None = None,
        header_operator: bool = True,
    ) -> Captured:
        headers = betstack.signed_headers(
            SECRETS[operator],
            body,
            timestamp=ts or int(time.time()),
            operator=operator if header_operator else None,
        )
        headers["Content-Type"] = "application/json"
        return Captured("POST", "/pam", body, headers)

    def pam(
        self,
        action: str,
        data: dict[str, Any],
        *,
        operator: str = "acme",
    ) -> requests.Response:
        return self.send(self.pam_request(action, data, operator=operator))

    def be_request(self, method: str, path: str, *, operator: str = "acme") -> Captured:
        headers = betstack.signed_headers(
            SECRETS[operator], b"", timestamp=self.unique_ts(), operator=operator
        )
        return Captured(method, path, b"", headers)

    def be(self, method: str, path: str, *, operator: str = "acme") -> requests.Response:
        return self.send(self.be_request(method, path, operator=operator))

    # back office -----------------------------------------------------------------------
    def office(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        hdrs = {**self.admin, "Content-Type": "application/json", **(headers or {})}
        resp = requests.request(method, self.base + path, data=data, headers=hdrs, timeout=TIMEOUT)
        self.check(method, path, resp.status_code, resp.content)
        return resp

    def new_player(self, operator: str, *, external_id: str | None = None, deposit: int = 0) -> str:
        body: dict[str, Any] = {
            "operator": operator,
            "msisdn": "+50688887777",
            "lang": "es",
            "currency": "USD",
        }
        if external_id:
            body["externalId"] = external_id
        resp = self.office("POST", "/api/v1/players", body)
        assert resp.status_code == 201, resp.text
        pid = str(resp.json()["data"]["id"])
        if deposit:
            resp = self.office(
                "POST",
                f"/api/v1/players/{pid}/deposits",
                {"amount": deposit, "method": "cash", "idempotencyKey": f"seed-{uuid.uuid4()}"},
            )
            assert resp.status_code == 201, resp.text
        return pid

    def player_token(self, pid: str) -> str:
        resp = self.office("POST", f"/api/v1/players/{pid}/tokens", {})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["data"]["token"])

    def wallet(self, pid: str) -> tuple[Decimal, Decimal, Decimal]:
        """(balance, available, held) in units, as the back office reports them."""
        resp = self.office("GET", f"/api/v1/players/{pid}")
        assert resp.status_code == 200, resp.text
        data = json.loads(resp.content, parse_float=Decimal)["data"]
        return Decimal(data["balance"]), Decimal(data["available"]), Decimal(data["held"])


def ticket(ticket_id: str, player: str, **overrides: Any) -> dict[str, Any]:
    """A `ticket_create` data object (without `operator`) in Betstack's money model."""
    data: dict[str, Any] = {
        "ticket_id": ticket_id,
        "ticket_code": ticket_id[-6:].upper(),
        "player_id": player,
        "price": 500,
        "stake": 444,
        "wht_amount": 240,
        "wht": 10,
        "ext_amount": 56,
        "ext": 12.5,
        "ext_type": "inclusive",
        "gross_payout": 2842,
        "net_payout": 2602,
        "currency": "USD",
        "atag": "atag_value",
        "rtag": None,
        "ticket_type": "quickbet",
    }
    data.update(overrides)
    return data


def _money_rows() -> tuple[int, int]:
    with database.connection_context():
        return LedgerTxn.select().count(), Entry.select().count()


def _audit_rows_after(seq: int) -> list[AuditRecord]:
    with database.connection_context():
        return list(AuditRecord.select().where(AuditRecord.seq > seq).order_by(AuditRecord.seq))


def _audit_head() -> int:
    """The sequence number of the newest audit row."""
    with database.connection_context():
        return int(AuditRecord.select(fn.MAX(AuditRecord.seq)).scalar() or 0)


# --- the server ----------------------------------------------------------------------------------


@dataclass
class Site:
    server: live.LiveServer
    wire: Wire
    db_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("attacks")
    partners = tmp / "partners.toml"
    partners.write_text(PARTNERS)
    port = live.free_port()
    with live.database_url(tmp, "attacks") as url:
        env = live.server_env(
            url, partners, port, PAMGATE_JWT_SECRET=JWT_SECRET, PAMGATE_ENV="test"
        )
        live.pamgate(env, "migrate")
        admin = live.pamgate(
            env, "token", "--role", "ADMIN", "--sub", "attack-admin", "--ttl", "600"
        ).stdout.strip()
        db = bind(open_database(url, pool_size=4))
        try:
            with live.serve(env, tmp / "serve.log") as server:
                yield Site(server, Wire(server.base, {"Authorization": f"Bearer {admin}"}), url)
        finally:
            if hasattr(db, "close_all"):
                db.close_all()
            elif not db.is_closed():
                db.close()


@pytest.fixture(scope="module")
def wire(site: Site) -> Wire:
    return site.wire


# --- 1. spaces added inside a string -------------------------------------------------------------


def test_a_captured_create_replayed_with_spaces_inside_ticket_id_debits_once(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    captured = wire.pam_request("ticket_create", ticket("CAPTURED1", pid))
    first = wire.send(captured)
    assert (first.status_code, first.content) == (200, b"")
    for variant in (b'"CAPTURED 1"', b'"C APTURED1"', b'" CAPTURED1"', b'"CAPTURED1 "'):
        forged = Captured(
            "POST", "/pam", captured.body.replace(b'"CAPTURED1"', variant), captured.headers
        )
        resp = wire.send(forged)
        assert (resp.status_code, resp.json()) == (403, INVALID_SIGNATURE)
    retry = wire.send(captured)  # the network retry itself: the first answer, run again
    assert (retry.status_code, retry.content) == (200, b"")
    # copies that verify as the same signed message are that message: answered, not run
    pretty = json.dumps(json.loads(captured.body), indent=2).encode()
    upper = {**captured.headers, "signature": captured.headers["signature"].upper()}
    for body, headers in ((pretty, captured.headers), (captured.body, upper)):
        resp = wire.send(Captured("POST", "/pam", body, headers))
        assert (resp.status_code, resp.content) == (200, b"")
    assert wire.wallet(pid) == (Decimal("95"), Decimal("95"), Decimal("0"))
    resp = wire.be("GET", "/be/tickets/CAPTURED 1")
    assert (resp.status_code, resp.json()["code"]) == (400, 102)


def test_non_ascii_sent_raw_or_escaped_is_one_message_and_debits_once(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    captured = wire.pam_request("ticket_create", ticket("CAFÉ-1", pid, atag="ñandú"))
    assert b"\\u00c9" in captured.body  # Betstack escapes non-ASCII
    assert wire.send(captured).status_code == 200
    raw_utf8 = json.dumps(
        json.loads(captured.body), separators=(",", ":"), ensure_ascii=False
    ).encode()
    resp = wire.send(
        Captured("POST", "/pam", raw_utf8, {**captured.headers, "Content-Type": "application/json"})
    )
    assert (resp.status_code, resp.content) == (200, b"")
    assert wire.wallet(pid)[0] == Decimal("95")


def test_a_captured_create_fired_twenty_times_at_once_debits_once(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    captured = wire.pam_request("ticket_create", ticket("BURST1", pid))
    barrier = threading.Barrier(20)

    def fire(_: int) -> tuple[int, bytes]:
        barrier.wait(timeout=TIMEOUT)
        resp = wire.send(captured)
        return resp.status_code, resp.content

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(fire, range(20)))
    assert answers == [(200, b"")] * 20
    assert wire.wallet(pid) == (Decimal("95"), Decimal("95"), Decimal("0"))


def test_stale_or_future_timestamps_and_a_disagreeing_operator_header_are_refused(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    for skew in (-400, 400):
        req = wire.pam_request(
            "ticket_create", ticket(f"STALE{skew}", pid), ts=int(time.time()) + skew
        )
        resp = wire.send(req)
        assert (resp.status_code, resp.json()) == (403, {"code": 109, "message": "Stale timestamp"})
    req = wire.pam_request("ticket_create", ticket("WRONGHDR", pid))
    resp = wire.send(Captured("POST", "/pam", req.body, {**req.headers, "operator-name": "beta"}))
    assert (resp.status_code, resp.json()) == (403, INVALID_SIGNATURE)
    assert wire.wallet(pid)[0] == Decimal("100")


# --- 2. captured rollback and win, replayed after the ticket was settled lost --------------------


def test_captured_rollback_and_win_replayed_after_a_loss_credit_nothing(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    assert wire.pam("ticket_create", ticket("REPLAY1", pid)).status_code == 200
    win = wire.pam_request("ticket_win", {"ticket_id": "REPLAY1"})
    rollback = wire.pam_request("ticket_rollback", {"ticket_id": "REPLAY1"})
    for req in (win, rollback):
        resp = wire.send(req)
        assert (resp.status_code, resp.content) == (200, b"")
    assert wire.pam("ticket_lost", {"ticket_id": "REPLAY1"}).status_code == 200
    assert wire.wallet(pid)[0] == Decimal("95")
    moved = _money_rows()
    for req in (rollback, win, rollback, win):
        resp = wire.send(req)
        assert (resp.status_code, resp.content) == (200, b"")  # answered from the record
    assert wire.wallet(pid) == (Decimal("95"), Decimal("95"), Decimal("0"))
    assert _money_rows() == moved
    got = wire.be("GET", "/be/tickets/REPLAY1").json()
    assert (got["status"], got["result"]) == ("resulted", "lost")


# --- 3. a GET's headers lifted onto POST /paid ----------------------------------------------------


def test_get_signature_lifted_onto_paid_is_refused_and_the_hold_stays(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    assert wire.pam("ticket_reserve", ticket("HOLD1", pid)).status_code == 200
    read = wire.be_request("GET", "/be/tickets/HOLD1")
    assert wire.send(read).json()["status"] == "reserved"
    assert wire.send(read).status_code == 200  # reads may reuse a read's signature
    lifted = Captured("POST", "/be/tickets/HOLD1/paid", b"", read.headers)
    resp = wire.send(lifted)
    assert (resp.status_code, resp.json()) == (403, INVALID_SIGNATURE)
    assert wire.wallet(pid) == (Decimal("100"), Decimal("95"), Decimal("5"))
    assert wire.be("GET", "/be/tickets/HOLD1").json()["status"] == "reserved"
    paid = wire.be_request("POST", "/be/tickets/HOLD1/paid")  # the engine's own, fresh
    first = wire.send(paid)
    assert first.status_code == 200 and first.json()["status"] == "open"
    again = wire.send(paid)
    assert (again.status_code, again.content) == (200, first.content)
    assert wire.wallet(pid) == (Decimal("95"), Decimal("95"), Decimal("0"))


# --- 4. tenancy: beta acting on acme's player and tickets -----------------------------------------


def test_beta_cannot_reach_acmes_player_by_id_external_id_or_token(wire: Wire):
    pid = wire.new_player("acme", external_id="acme-ext-1", deposit=100)
    token = wire.player_token(pid)
    for n, ref in enumerate((pid, "acme-ext-1", token)):
        for action in ("ticket_create", "ticket_reserve"):
            resp = wire.pam(action, ticket(f"BETA-{action}-{n}", ref), operator="beta")
            assert (resp.status_code, resp.json()) == (403, USER_NOT_FOUND), (action, ref)
    resp = wire.pam("identify", {"token": token}, operator="beta")
    assert (resp.status_code, resp.json()) == (403, USER_NOT_FOUND)
    mine = wire.pam("identify", {"token": token})
    assert mine.status_code == 200 and mine.json()["balance"] == 10_000
    # a beta player with the same external id is beta's own, not acme's
    beta_pid = wire.new_player("beta", external_id="acme-ext-1", deposit=10)
    assert beta_pid != pid
    resp = wire.pam("ticket_create", ticket("BETA-OWN", "acme-ext-1"), operator="beta")
    assert resp.status_code == 200
    assert wire.wallet(beta_pid)[0] == Decimal("5")
    assert wire.wallet(pid) == (Decimal("100"), Decimal("100"), Decimal("0"))


def test_beta_cannot_settle_read_or_pay_acmes_tickets(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    assert wire.pam("ticket_create", ticket("ACME-T1", pid)).status_code == 200
    assert wire.pam("ticket_reserve", ticket("ACME-R1", pid)).status_code == 200
    for action in (
        "ticket_win",
        "ticket_void",
        "ticket_refund",
        "ticket_rollback",
        "ticket_lost",
        "ticket_closed",
        "ticket_update",
    ):
        resp = wire.pam(action, {"ticket_id": "ACME-T1", "price": 0, "stake": 0}, operator="beta")
        assert resp.status_code == 400 and resp.json()["code"] == 102, (action, resp.text)
    for path in ("/be/tickets/ACME-T1", "/be/tickets/ACME-R1"):
        resp = wire.be("GET", path, operator="beta")
        assert (resp.status_code, resp.json()) == (403, FORBIDDEN)
    resp = wire.be("POST", "/be/tickets/ACME-R1/paid", operator="beta")
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)
    listed = wire.be("GET", f"/be/tickets?user_id={pid}", operator="beta")
    assert (listed.status_code, listed.json()) == (200, [])
    assert wire.wallet(pid) == (Decimal("95"), Decimal("90"), Decimal("5"))
    assert wire.be("GET", "/be/tickets/ACME-T1").json()["status"] == "open"
    assert wire.be("GET", "/be/tickets/ACME-R1").json()["status"] == "reserved"


# --- 5. a void refunding more than was paid -------------------------------------------------------


def test_a_void_with_net_payout_10_to_the_15_is_108_and_moves_nothing(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    assert wire.pam("ticket_create", ticket("VOID1", pid)).status_code == 200
    moved = _money_rows()
    for amount in (10**15, 501):
        resp = wire.pam("ticket_void", {"ticket_id": "VOID1", "net_payout": amount})
        assert resp.status_code == 400 and resp.json()["code"] == 108, resp.text
    resp = wire.pam("ticket_void", {"ticket_id": "VOID1", "net_payout": 10**15 + 1})
    assert resp.status_code == 400 and resp.json()["code"] == 108
    assert _money_rows() == moved
    assert wire.wallet(pid)[0] == Decimal("95")
    assert wire.be("GET", "/be/tickets/VOID1").json()["status"] == "open"


# --- 6. PSP money never lands in the withdrawable wallet ------------------------------------------


def test_psp_jackpot_reserve_paid_update_to_zero_then_cash_out_is_refused(wire: Wire):
    pid = wire.new_player("acme")  # an empty wallet: the card paid the stake
    data = ticket("JACKPOT1", pid, psp="card", ticket_type="jackpot")
    assert wire.pam("ticket_reserve", data).status_code == 200
    assert wire.wallet(pid) == (Decimal("0"), Decimal("0"), Decimal("0"))
    paid = wire.be("POST", "/be/tickets/JACKPOT1/paid")
    assert paid.status_code == 200 and paid.json()["status"] == "open"
    zero = {
        **data,
        "price": 0,
        "stake": 0,
        "ext_amount": 0,
        "wht_amount": 0,
        "gross_payout": 0,
        "net_payout": 0,
    }
    assert wire.pam("ticket_update", zero).status_code == 200
    assert wire.wallet(pid) == (Decimal("0"), Decimal("0"), Decimal("0"))
    resp = wire.office(
        "POST",
        f"/api/v1/players/{pid}/withdrawals",
        {"amount": 5, "method": "cash", "idempotencyKey": "cash-out-jackpot1"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert wire.wallet(pid) == (Decimal("0"), Decimal("0"), Decimal("0"))
    # a PSP-paid refund goes back to the PSP too
    assert wire.pam("ticket_reserve", ticket("PSPREF1", pid, psp="mpesa")).status_code == 200
    assert wire.be("POST", "/be/tickets/PSPREF1/paid").status_code == 200
    assert wire.pam("ticket_refund", {"ticket_id": "PSPREF1"}).status_code == 200
    assert wire.wallet(pid) == (Decimal("0"), Decimal("0"), Decimal("0"))


# --- 7. a flood of garbage signatures -------------------------------------------------------------

FLOOD_GAMMA = 400  # garbage signatures for a configured operator
FLOOD_UNKNOWN = 50  # for an operator nobody configured
FLOOD_TOKENS = 50  # junk bearer tokens on the back office


def test_a_flood_of_500_garbage_signatures_writes_no_audit_row_and_healthz_stays_fast(
    site: Site, wire: Wire
):
    flood_started = SystemClock().now().replace(second=0, microsecond=0)
    audit_before = _audit_head()
    body = betstack.compact_json(
        {"action": "ticket_create", "data": {"operator": "gamma", **ticket("FLOOD", "nobody")}}
    )
    unknown = body.replace(b'"gamma"', b'"nobody"')

    def request(i: int) -> Captured:
        ts = str(int(time.time()))
        if i < FLOOD_GAMMA:
            headers = {
                "timestamp": ts,
                "signature": secrets.token_hex(32),
                "operator-name": "gamma",
                "Content-Type": "application/json",
            }
            return Captured("POST", "/pam", body, headers)
        if i < FLOOD_GAMMA + FLOOD_UNKNOWN:
            headers = {
                "timestamp": ts,
                "signature": secrets.token_hex(32),
                "Content-Type": "application/json",
            }
            return Captured("POST", "/pam", unknown, headers)
        return Captured(
            "GET",
            "/api/v1/players/x",
            b"",
            {"Authorization": f"Bearer junk.{secrets.token_hex(8)}.x"},
        )

    done = threading.Event()
    latencies: list[float] = []
    unhealthy: list[int] = []

    def probe() -> None:
        with requests.Session() as s:
            while not done.is_set() and len(latencies) < 2000:
                t0 = time.perf_counter()
                r = s.get(site.server.base + "/healthz", timeout=TIMEOUT)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    unhealthy.append(r.status_code)
                time.sleep(0.01)

    def flood(worker: int) -> list[int]:
        statuses = []
        with requests.Session() as s:
            for i in range(worker, FLOOD_GAMMA + FLOOD_UNKNOWN + FLOOD_TOKENS, 10):
                statuses.append(wire.send(request(i), s).status_code)
        return statuses

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        with ThreadPoolExecutor(10) as pool:
            statuses = [s for chunk in pool.map(flood, range(10)) for s in chunk]
    finally:
        done.set()
        prober.join(timeout=TIMEOUT)
    assert statuses.count(403) == FLOOD_GAMMA + FLOOD_UNKNOWN
    assert statuses.count(401) == FLOOD_TOKENS
    assert unhealthy == []
    assert latencies and max(latencies) < 1.0, max(latencies)
    assert sorted(latencies)[len(latencies) // 2] < 0.2

    # nothing written on the request path: at most summaries of minutes before the flood
    for row in _audit_rows_after(audit_before):
        assert json.loads(row.details).get("summary"), (row.action, row.result)
        assert str(row.target_id) < flood_started.isoformat(), row.target_id

    # every worker flushes its counts into the shared tally within a few seconds
    def tallied(partner: str, reason: str) -> int:
        with database.connection_context():
            return sum(
                r.count
                for r in RejectionTally.select().where(
                    (RejectionTally.partner == partner)
                    & (RejectionTally.reason == reason)
                    & (RejectionTally.minute >= flood_started)
                )
            )

    deadline = time.monotonic() + 15
    while tallied("gamma-engine", "bad_signature") < FLOOD_GAMMA and time.monotonic() < deadline:
        time.sleep(0.25)
    # no operator-name header: every partner's keys are tried (the body is not read before
    # it is verified), none matches, and nobody is named: "unknown", bad_signature
    while tallied("unknown", "bad_signature") < FLOOD_UNKNOWN and time.monotonic() < deadline:
        time.sleep(0.25)
    # (each worker flushes on its own clock: the token refusals may arrive a flush later)
    while tallied("backoffice", "invalid_token") < FLOOD_TOKENS and time.monotonic() < deadline:
        time.sleep(0.25)
    assert tallied("gamma-engine", "bad_signature") == FLOOD_GAMMA
    assert tallied("unknown", "bad_signature") >= FLOOD_UNKNOWN  # (other tests add theirs)
    assert tallied("backoffice", "invalid_token") >= FLOOD_TOKENS  # (other tests add theirs)
    assert _audit_rows_after(audit_before) == [] or all(
        json.loads(r.details).get("summary") for r in _audit_rows_after(audit_before)
    )

    # once the minutes are over they become one audit row per (partner, reason, minute)
    later = SystemClock().now().replace(microsecond=0) + rejections.CLOSE_AFTER * 2
    with database.connection_context():
        rejections.summarise(later)
    summaries = [
        r for r in _audit_rows_after(audit_before) if str(r.target_id) >= flood_started.isoformat()
    ]
    by_key: dict[tuple[str, str], list[int]] = {}
    for row in summaries:
        by_key.setdefault((str(row.actor_id), row.result), []).append(
            json.loads(row.details)["count"]
        )
    assert sum(by_key[("gamma-engine", "rejected:bad_signature")]) == FLOOD_GAMMA
    assert sum(by_key[("unknown", "rejected:bad_signature")]) >= FLOOD_UNKNOWN
    assert len(by_key[("gamma-engine", "rejected:bad_signature")]) <= 2  # one per minute


# --- 8. text no database can store, JSON nested 1,000 deep, NaN, odd claims -----------------------


def _signed_raw(wire: Wire, body: bytes, operator: str = "acme") -> requests.Response:
    return wire.send(wire.raw_pam(body, operator=operator))


def test_lone_surrogates_deep_nesting_and_nan_on_pam_are_108_and_move_nothing(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    token = wire.player_token(pid)
    base = betstack.compact_json(
        {"action": "ticket_create", "data": {"operator": "acme", **ticket("BAD-1", pid)}}
    )
    bodies = [
        base.replace(b'"BAD-1"', b'"BAD-1\\ud800"'),
        base.replace(b'"atag_value"', b'"\\udfff"'),
        base.replace(b'"atag":', b'"\\ud800":"x","atag":'),  # a key
        base[:-2] + b',"extra":' + b"[" * 1000 + b"]" * 1000 + b"}}",
        base[:-1] + b',"extra":' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}",
        base.replace(b'"price":500', b'"price":NaN'),
        base.replace(b'"ext":12.5', b'"ext":Infinity'),
        base.replace(b'"wht":10', b'"wht":-Infinity'),
        betstack.compact_json(
            {"action": "identify", "data": {"operator": "acme", "token": token + "\ud800"}}
        ),
        b"[" * 30_000 + b"]" * 30_000,
    ]
    moved = _money_rows()
    for body in bodies:
        resp = _signed_raw(wire, body)
        assert resp.status_code == 400 and resp.json()["code"] == 108, (body[:80], resp.text)
    # without the operator-name header the partner is found by its key (the body is not
    # read before it is verified): an authentic message that is not JSON pamgate accepts
    resp = wire.send(wire.raw_pam(b"[" * 30_000 + b"]" * 30_000, header_operator=False))
    assert resp.status_code == 400 and resp.json()["code"] == 108
    assert _money_rows() == moved
    assert wire.wallet(pid)[0] == Decimal("100")
    assert wire.be("GET", "/be/tickets/BAD-1").json()["code"] == 102


def test_lone_surrogates_deep_nesting_and_nan_on_back_office_writes_are_400(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    deep = b'{"name":' + b"[" * 1000 + b"]" * 1000 + b"}"
    cases: list[tuple[str, bytes]] = [
        ("/api/v1/bancas", b'{"name":"Banca \\ud800"}'),
        ("/api/v1/bancas", b'{"\\udc00":"x","name":"ok"}'),
        ("/api/v1/bancas", deep),
        ("/api/v1/bancas", b'{"name":"x","a":' + b'{"b":' * 1000 + b"1" + b"}" * 1001),
        (
            "/api/v1/players",
            b'{"operator":"acme","msisdn":"+50688887777","lang":"es",'
            b'"currency":"USD","externalId":"\\ud83d"}',
        ),
        (
            f"/api/v1/players/{pid}/deposits",
            b'{"amount":NaN,"method":"cash","idempotencyKey":"nan-deposit-1"}',
        ),
        (
            f"/api/v1/players/{pid}/deposits",
            b'{"amount":Infinity,"method":"cash","idempotencyKey":"inf-deposit-1"}',
        ),
        (
            f"/api/v1/players/{pid}/withdrawals",
            b'{"amount":1e400,"method":"cash","idempotencyKey":"big-withdrawal-1"}',
        ),
        (
            f"/api/v1/players/{pid}/withdrawals",
            b'{"amount":1,"method":"cash","idempotencyKey":"sur\\udbff-1"}',
        ),
        (f"/api/v1/players/{pid}/tokens", b"[" * 30_000 + b"]" * 30_000),
    ]
    moved = _money_rows()
    for path, raw in cases:
        resp = wire.office("POST", path, raw=raw)
        assert resp.status_code == 400, (path, raw[:60], resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    resp = wire.office("PATCH", f"/api/v1/players/{pid}", raw=b'{"blocked":NaN}')
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert _money_rows() == moved
    assert wire.wallet(pid)[0] == Decimal("100")


def test_validly_signed_tokens_with_odd_claims_are_401(wire: Wire):
    now = int(time.time())
    good = {"sub": "x", "role": "ADMIN", "permissions": [], "iat": now, "exp": now + 600}
    odd: list[dict[str, Any]] = [
        {"sub": 123},
        {"sub": ["a"]},
        {"sub": "a\ud800"},
        {"sub": "x" * 5_000},
        {"role": ["ADMIN"]},
        {"role": None},
        {"exp": "never"},
        {"exp": 2**70},
        {"exp": True},
        {"iat": {"a": 1}},
        {"permissions": "all"},
        {"permissions": [{"a": 1}]},
        {"bancaId": {"id": 1}},
        {"ventanaId": "v\x00"},
        {"jti": 5},
    ]
    for claims in odd:
        token = jwt.encode({**good, **claims}, JWT_SECRET, algorithm="HS256")
        resp = wire.office(
            "POST", "/api/v1/bancas", {"name": "Odd"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 401, (claims, resp.text)
        assert resp.json()["error"]["code"] == "UNAUTHORIZED"


# --- 9. NUL (and surrogates) in paths and queries -------------------------------------------------


def test_nul_in_paths_and_queries_is_400_in_the_protocols_shape(wire: Wire):
    pid = wire.new_player("acme")
    for path in (
        "/be/tickets/%00",
        "/be/tickets/T%00X",
        "/be/tickets?user_id=%00",
        "/be/tickets?status=open&skip_types=%00",
        "/be/tickets?%00=1",
    ):
        resp = wire.be("GET", path)
        assert resp.status_code == 400 and resp.json()["code"] == 108, (path, resp.text)
    resp = wire.be("POST", "/be/tickets/%00/paid")
    assert resp.status_code == 400 and resp.json()["code"] == 108
    for method, path in (
        ("GET", "/api/v1/players/%00"),
        ("GET", f"/api/v1/players/{pid}%00"),
        ("GET", "/api/v1/bancas?name=%00"),
        ("GET", "/api/v1/ventanas/%00"),
        ("POST", "/api/v1/players/%00/deposits"),
        ("PATCH", "/api/v1/players/%00"),
    ):
        resp = wire.office(method, path, raw=b'{"blocked":true}' if method == "PATCH" else None)
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    # a surrogate's UTF-8 (CESU) bytes and invalid UTF-8: refused or unknown, never a fault
    for path in ("/be/tickets/%ED%A0%80", "/be/tickets?user_id=%ED%B0%80", "/be/tickets/%FF"):
        resp = wire.be("GET", path)
        assert resp.status_code in (400, 403, 404) or resp.json() == [], (path, resp.text)
    for path in ("/api/v1/players/%ED%A0%80", "/api/v1/bancas?x=%ED%A0%80"):
        resp = wire.office("GET", path)
        assert resp.status_code in (200, 400, 404), (path, resp.text)


# --- 10. chunked bodies ---------------------------------------------------------------------------


def _chunked(wire: Wire, req: Captured, chunk: int = 4096) -> tuple[int, bytes]:
    """POST `req` with `Transfer-Encoding: chunked` over a raw http.client connection."""
    host, port = wire.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        pieces = (req.body[i : i + chunk] for i in range(0, len(req.body), chunk))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(
                req.method,
                req.path,
                body=pieces,
                headers={**req.headers, "Transfer-Encoding": "chunked"},
                encode_chunked=True,
            )
        resp = conn.getresponse()
        status, content = resp.status, resp.read()
    finally:
        conn.close()
    wire.check(req.method, req.path, status, content)
    return status, content


def test_a_signed_chunked_post_is_verified_over_its_body(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    status, content = _chunked(
        wire, wire.pam_request("ticket_create", ticket("CHUNK1", pid)), chunk=37
    )
    assert (status, content) == (200, b"")
    assert wire.wallet(pid)[0] == Decimal("95")
    banca = Captured(
        "POST",
        "/api/v1/bancas",
        b'{"name":"Chunked Banca"}',
        {**wire.admin, "Content-Type": "application/json"},
    )
    status, content = _chunked(wire, banca, chunk=5)
    assert status == 201 and json.loads(content)["data"]["name"] == "Chunked Banca"


def test_a_chunked_body_over_64_kib_is_413(wire: Wire):
    pid = wire.new_player("acme", deposit=100)
    body = betstack.compact_json(
        {
            "action": "ticket_create",
            "data": {"operator": "acme", **ticket("CHUNKBIG", pid), "pad": "x" * 70_000},
        }
    )
    status, content = _chunked(wire, wire.raw_pam(body))
    assert status == 413
    assert json.loads(content) == {"code": 108, "message": "Request body exceeds the size limit"}
    banca = Captured(
        "POST",
        "/api/v1/bancas",
        b'{"name":"' + b"x" * 70_000 + b'"}',
        {**wire.admin, "Content-Type": "application/json"},
    )
    status, content = _chunked(wire, banca)
    assert status == 413 and json.loads(content)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert wire.wallet(pid)[0] == Decimal("100")
    assert wire.be("GET", "/be/tickets/CHUNKBIG").json()["code"] == 102


# --- 11. concurrent creates of one external id ----------------------------------------------------


def test_twenty_concurrent_creates_of_one_external_id_are_one_201_and_nineteen_409s(wire: Wire):
    body = {
        "operator": "acme",
        "externalId": "RACE-LIVE",
        "msisdn": "+50688887777",
        "lang": "es",
        "currency": "USD",
    }
    barrier = threading.Barrier(20)

    def create(_: int) -> int:
        barrier.wait(timeout=TIMEOUT)
        return wire.office("POST", "/api/v1/players", body).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(create, range(20)))
    assert statuses == [201] + [409] * 19


# --- what the HTTP server itself cannot parse -------------------------------------------------
#
# A broken chunked body reaches the app (which reads it); a request gunicorn cannot parse at
# all never does, and gunicorn answers it itself.


def _raw_http(wire: Wire, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `data` as is on a fresh connection; the status, headers and body answered."""
    host, port = wire.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


MALFORMED_CHUNKS = {
    "bad-size": b"zz\r\nabc\r\n0\r\n\r\n",
    "no-terminator": b"3\r\nabcXX0\r\n\r\n",
}


@pytest.mark.parametrize("path", ["/pam", "/api/v1/bancas"])
@pytest.mark.parametrize("kind", sorted(MALFORMED_CHUNKS))
def test_a_malformed_chunked_body_is_400_not_500(wire: Wire, path: str, kind: str):
    """(Answered 500 `internal_error` until 37e7093.)"""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: pamgate\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: application/json\r\nX-Request-Id: malformed-{kind}\r\n"
        f"Authorization: {wire.admin['Authorization']}\r\nConnection: close\r\n\r\n"
    )
    status, _, body = _raw_http(wire, head.encode() + MALFORMED_CHUNKS[kind])
    wire.check("POST", path, status, body)
    assert status == 400, (status, body)
    answer = json.loads(body)
    assert (
        answer["code"] == 108 if path == "/pam" else answer["error"]["code"] == ("VALIDATION_ERROR")
    )


PARSE_ERRORS = {
    "uri-too-long": b"GET /be/tickets/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: p\r\n\r\n",
    "header-too-large": (
        b"GET /api/v1/bancas HTTP/1.1\r\nHost: p\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    ),
    "bad-content-length": (
        b"POST /api/v1/bancas HTTP/1.1\r\nHost: p\r\nContent-Length: abc\r\n\r\n"
    ),
}


@pytest.mark.parametrize("kind", sorted(PARSE_ERRORS))
def test_requests_the_http_server_cannot_parse_get_a_json_error(wire: Wire, kind: str):
    status, headers, body = _raw_http(wire, PARSE_ERRORS[kind])
    assert 400 <= status < 500
    assert headers.get("content-type", "").startswith("application/json"), body[:200]
    json.loads(body)


# --- after everything -----------------------------------------------------------------------------


def test_after_the_attacks_nothing_was_a_5xx_and_the_books_reconcile(site: Site, wire: Wire):
    assert len(wire.seen) > 600
    assert [s for s in wire.seen if s[2] >= 500] == []
    reconcile = live.pamgate(site.server.env, "reconcile", check=False)
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    verify = live.pamgate(site.server.env, "audit", "verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "0 problems" in verify.stdout
    log = site.server.log()
    assert "unhandled_exception" not in log and "Traceback" not in log, log[-3000:]
    for secret in (ACME_SECRET, BETA_SECRET, JWT_SECRET):
        assert secret not in log
