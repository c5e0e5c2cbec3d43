"""Rows expected to be new (`fastsql.insert_expected`: once-only signature records,
idempotency keys, new tickets) ride with the next statement of a signed request on
PostgreSQL instead of costing a round trip each. A repeat makes that attempt fail
(`Collision`), and `fastsql.optimistically` runs the request again, carefully: the answer,
the books and the audit trail are those of the careful run alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import falcon.testing
import peewee
import pytest

from gateway.core import reconcile
from gateway.store import fastsql
from gateway.store.database import database, is_postgres
from gateway.store.models import AuditRecord, IdempotencyRecord, LedgerTxn, SignatureUse, Ticket
from tests import factories as f
from tests.round_trips import record_round_trips


@pytest.fixture
def sent(db: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each round trip to PostgreSQL from now on, as the text it sent."""
    if not is_postgres(db):
        pytest.skip("PostgreSQL only: SQLite has no round trips to save")
    return record_round_trips(db, monkeypatch)


@pytest.fixture
def statements(db: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each statement sent from now on (PostgreSQL: one per round trip), on either database."""
    return record_round_trips(db, monkeypatch)


NOW = dt.datetime(2026, 11, 21, 12, 0, 0)


def _use(signature: str, method: str) -> dict[str, Any]:
    """A once-only record: a table whose rows are expected to be new."""
    return {
        "partner": "probe",
        "signature": signature,
        "method": method,
        "request_hash": "h",
        "status_code": 0,
        "response": "null",
        "created_at": NOW,
        "expires_at": NOW,
    }


def _methods() -> list[tuple[str, str]]:
    return [(u.signature, u.method) for u in SignatureUse.select().order_by(SignatureUse.id)]


def _create(client: Any, clock: Any, ticket_id: str, player_id: str) -> tuple[Any, bytes, dict]:
    raw, headers = f.signed(
        {"action": "ticket_create", "data": f.ticket_data(ticket_id, player_id)}, clock
    )
    return client.simulate_post("/pam", body=raw, headers=headers), raw, headers


def test_a_new_signed_ticket_takes_three_round_trips(app, db, clock, sent):
    pid = f.player(clock, balance=10_000)
    client = falcon.testing.TestClient(app)
    for warm in ("OPT-W1", "OPT-W2"):  # the hot statements get prepared on the connection
        assert _create(client, clock, warm, pid)[0].status_code == 200
    sent.clear()
    resp, _, _ = _create(client, clock, "OPT-1", pid)
    assert resp.status_code == 200
    trips = [t for t in sent if not t.startswith("PREPARE ")]  # after the answer, pooled
    assert len(trips) == 3, trips
    # the once-only record and the idempotency key travel with the player lookup ...
    first = trips[0]
    assert first.startswith("BEGIN;")
    assert first.count(";") == 3  # BEGIN; signature; idempotency key; player
    # ... the new ticket with the wallet's debit, and the rest with COMMIT
    assert trips[-1].endswith(";COMMIT")
    assert f.wallet(clock, pid).balance == 10_000 - 3 * 500
    assert reconcile.reconcile().ok


def test_a_replayed_create_is_answered_by_the_careful_run(app, db, clock, statements):
    """Both databases: on SQLite the attempt's queued claim meets the stored signature when
    its transaction begins (`test_sqlite_lazy_writes.py`)."""
    sent = statements
    pid = f.player(clock, balance=10_000)
    client = falcon.testing.TestClient(app)
    first, raw, headers = _create(client, clock, "OPT-R", pid)
    sent.clear()
    again = client.simulate_post("/pam", body=raw, headers=headers)
    assert (again.status_code, again.text) == (first.status_code, first.text) == (200, "")
    # the optimistic attempt met the stored signature and rolled back; the careful run
    # checked the claim at once and answered the stored response
    assert "ROLLBACK" in sent
    assert any("ON CONFLICT DO NOTHING" in t for t in sent[sent.index("ROLLBACK") :])
    assert Ticket.select().where(Ticket.external_id == "OPT-R").count() == 1
    assert LedgerTxn.select().where(LedgerTxn.kind == "bet.stake").count() == 1
    assert SignatureUse.select().count() == 1
    assert [a.result for a in AuditRecord.select().order_by(AuditRecord.seq)][-1] == "ok"
    assert f.wallet(clock, pid).balance == 9_500
    assert reconcile.reconcile().ok
    metrics = client.simulate_get("/metrics").text
    assert "pamgate_careful_reruns_total 1.0" in metrics  # the replay; not the first


def test_the_same_ticket_under_a_new_signature_is_decided_carefully(app, db, clock, sent):
    """Betstack re-signs a retry: the signature is new, the idempotency key is not."""
    pid = f.player(clock, balance=10_000)
    client = falcon.testing.TestClient(app)
    _create(client, clock, "OPT-S", pid)
    clock.advance(1)  # another timestamp: another signature over the same data
    again, _, _ = _create(client, clock, "OPT-S", pid)
    assert again.status_code == 200
    assert SignatureUse.select().count() == 2
    assert IdempotencyRecord.select().where(IdempotencyRecord.key.contains("OPT-S")).count() == 1
    assert LedgerTxn.select().where(LedgerTxn.kind == "bet.stake").count() == 1
    assert f.wallet(clock, pid).balance == 9_500


def test_a_collision_is_not_an_integrity_error_the_code_could_swallow(db, sent):
    with database.atomic():
        fastsql.insert_expected("signature_use", _use("s1", "FIRST"))
    seen: list[bool | None] = []
    swallowed: list[str] = []

    def attempt() -> None:
        with database.atomic():
            seen.append(fastsql.insert_expected("signature_use", _use("s1", "AGAIN")))
            try:  # code that handles a conflict of its own statement
                fastsql.execute("SELECT 1")
            except peewee.IntegrityError:
                swallowed.append("the repeat was taken for this statement's conflict")

    fastsql.optimistically(attempt)
    assert seen == [None, False]  # not known in the first attempt; the careful one knows
    assert swallowed == []
    assert _methods() == [("s1", "FIRST")]


def test_a_refusal_in_an_optimistic_attempt_is_left_to_the_careful_run(db, sent):
    with database.atomic():
        fastsql.insert_expected("signature_use", _use("s1", "FIRST"))
    refusals: list[bool | None] = []

    def attempt() -> None:
        with database.atomic():
            refusals.append(fastsql.insert_expected("signature_use", _use("s1", "AGAIN")))
            refusal = ValueError("refused before any round trip")  # e.g. a settled ticket
            fastsql.refuse_carefully(refusal)  # gives the attempt up: its insert is unchecked
            raise refusal

    with pytest.raises(ValueError, match="refused before any round trip"):
        fastsql.optimistically(attempt)
    assert refusals == [None, False]  # the refusal answered is the careful run's


def test_a_refusal_after_its_inserts_were_carried_stands(db, sent):
    refusals: list[bool | None] = []

    def attempt() -> None:
        with database.atomic():
            refusals.append(fastsql.insert_expected("signature_use", _use("s9", "NEW")))
            fastsql.execute("SELECT 1")  # the insert went with this, and met no row
            refusal = ValueError("refused after a round trip")  # e.g. insufficient funds
            fastsql.refuse_carefully(refusal)
            raise refusal

    with pytest.raises(ValueError, match="refused after a round trip"):
        fastsql.optimistically(attempt)
    assert refusals == [None]  # one attempt: no careful run for a request that is new


def test_a_ticket_refused_for_want_of_funds_is_run_once(app, db, clock, sent):
    pid = f.player(clock, balance=100)
    client = falcon.testing.TestClient(app)
    sent.clear()
    resp, _, _ = _create(client, clock, "OPT-POOR", pid)
    assert (resp.status_code, resp.json["code"]) == (400, 103)  # insufficient funds
    claims = [t for t in sent if "INTO signature_use" in t]
    assert len(claims) == 2  # the attempt's claim, then the refusal remembered: no rerun
    assert Ticket.select().where(Ticket.external_id == "OPT-POOR").count() == 0
    assert f.wallet(clock, pid).balance == 100


def test_outside_an_optimistic_request_an_expected_row_is_checked_at_once(db):
    """Outside `optimistically`: an ordinary insert that tells. Inside, it is not known yet
    (PostgreSQL: sent later; SQLite: run at once in a transaction not begun lazily, or
    queued in one that is, `test_sqlite_lazy_writes.py`)."""
    with database.atomic():
        assert fastsql.insert_expected("signature_use", _use("s1", "A")) is True
        assert fastsql.insert_expected("signature_use", _use("s1", "B")) is False
    calls: list[bool | None] = []

    def attempt() -> None:
        with database.atomic():
            calls.append(fastsql.insert_expected("signature_use", _use("s2", "C")))

    fastsql.optimistically(attempt)
    assert calls == [None]
    assert _methods() == [("s1", "A"), ("s2", "C")]


def test_a_lost_attempt_leaves_nothing_in_the_answer(app, db, clock, sent):
    """A request whose work makes no round trip learns of the repeat only at COMMIT, after
    it answered: the careful run answers from a clean response."""
    attempts: list[int] = []

    class Probe:
        def on_post(self, req: Any, resp: Any) -> None:
            def respond(partner: Any) -> None:
                attempts.append(1)
                resp.set_header("X-Attempt", str(len(attempts)))
                resp.media = {"attempt": len(attempts)}

            app.services.guard.handle(req, resp, respond, operator=req.get_header("operator-name"))

    app.add_route("/probe", Probe())
    client = falcon.testing.TestClient(app)
    raw, headers = f.signed({"probe": 1}, clock)
    first = client.simulate_post("/probe", body=raw, headers=headers)
    assert (first.status_code, first.json, first.headers["X-Attempt"]) == (200, {"attempt": 1}, "1")
    sent.clear()
    again = client.simulate_post("/probe", body=raw, headers=headers)
    assert len(attempts) == 2  # the repeat's optimistic attempt ran, then rolled back
    assert sent[0].endswith(";COMMIT") and sent[1] == "ROLLBACK"
    assert (again.status_code, again.json) == (200, {"attempt": 1})  # the stored answer
    assert "X-Attempt" not in again.headers


def test_a_signature_lifted_onto_a_payload_refused_at_once_is_still_reused(app, db, clock):
    """Refused before its claim was checked: the careful run decides, and says `reused`."""
    client = falcon.testing.TestClient(app)
    raw, headers = f.signed(None, clock)  # a body-less signature covers the timestamp only
    first = client.simulate_post("/be/tickets/NOPE-1/paid", body=raw, headers=headers)
    assert (first.status_code, first.json["code"]) == (400, 102)  # no such ticket
    lifted = client.simulate_post("/pam", body=raw, headers=headers)  # not even JSON
    assert (lifted.status_code, lifted.json["code"]) == (403, 109)
    assert SignatureUse.select().count() == 1
