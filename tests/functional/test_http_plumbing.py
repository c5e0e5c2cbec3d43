"""The HTTP plumbing every endpoint shares: request ids, size limit, error shapes, health."""

from __future__ import annotations

import uuid

from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.store.database import open_database


def test_healthz_answers_ok(client):
    resp = client.simulate_get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client):
    resp = client.simulate_get("/readyz")
    assert resp.status_code == 200
    assert resp.json["status"] == "ready"


def test_readyz_is_503_until_migrations_are_applied(tmp_path, config):
    import falcon.testing

    empty = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(config.replace(database_url=f"sqlite:///{tmp_path / 'empty.db'}"), db=empty)
    resp = falcon.testing.TestClient(app).simulate_get("/readyz")
    assert resp.status_code == 503
    assert resp.json["database"] == "migrations pending"


def test_every_response_carries_a_new_request_id(client):
    first = client.simulate_get("/healthz").headers["X-Request-Id"]
    second = client.simulate_get("/healthz").headers["X-Request-Id"]
    assert str(uuid.UUID(first)) == first
    assert first != second


def test_a_valid_incoming_request_id_is_echoed_and_logged(client):
    with capture_logs() as logs:
        resp = client.simulate_get("/healthz", headers={"X-Request-Id": "req-12345678"})
    assert resp.headers["X-Request-Id"] == "req-12345678"
    access = [e for e in logs if e["event"] == "http_request"]
    assert access and access[0]["status"] == 200 and access[0]["route"] == "/healthz"


def test_an_invalid_incoming_request_id_is_replaced(client):
    resp = client.simulate_get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert resp.headers["X-Request-Id"] != "bad id with spaces"
    uuid.UUID(resp.headers["X-Request-Id"])


def test_unknown_route_is_json_404_in_backoffice_shape(client):
    resp = client.simulate_get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.json == {"success": False, "error": {"code": "NOT_FOUND", "message": "Not found"}}
    assert resp.headers["X-Request-Id"]


def test_unknown_route_under_betstack_prefix_answers_in_betstack_shape(client):
    resp = client.simulate_get("/be/nothing-here")
    assert resp.status_code == 404
    assert resp.json["code"] == 108


def test_wrong_method_is_json_405(client):
    resp = client.simulate_post("/healthz", body=b"{}")
    assert resp.status_code == 405
    assert resp.json["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_body_over_64_kib_is_413_before_anything_else(client):
    resp = client.simulate_post(
        "/pam", body=b"x" * (64 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert resp.json["code"] == 108


def test_body_over_limit_in_backoffice_shape(client):
    resp = client.simulate_post("/api/v1/players", body=b"{" + b" " * (70 * 1024) + b"}")
    assert resp.status_code == 413
    assert resp.json["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_unexpected_fault_is_500_without_stack_trace(app):
    import falcon.testing

    class Boom:
        def on_get(self, req, resp):
            raise RuntimeError("secret internals")

    app.add_route("/api/v1/boom", Boom())
    with capture_logs() as logs:
        resp = falcon.testing.TestClient(app).simulate_get("/api/v1/boom")
    assert resp.status_code == 500
    assert resp.json == {
        "success": False,
        "error": {"code": "internal_error", "message": "Internal server error"},
    }
    assert "secret internals" not in resp.text
    assert any(e["event"] == "unhandled_exception" for e in logs)


def test_metrics_are_prometheus_text(client):
    client.simulate_get("/healthz")
    resp = client.simulate_get("/metrics")
    assert resp.status_code == 200
    assert 'pamgate_http_requests_total{method="GET",route="/healthz",status="200"}' in resp.text


def test_committed_ledger_transactions_are_counted_by_kind(client, clock):
    from tests import factories as f

    pid = f.player(clock, balance=1_000)
    assert f.pam(client, clock, "ticket_create", f.ticket_data("M-1", pid)).status_code == 200
    refused = f.pam(
        client, clock, "ticket_create", f.ticket_data("M-2", pid, price=5_056, stake=5_000)
    )
    assert refused.status_code == 400
    text = client.simulate_get("/metrics").text
    assert 'pamgate_ledger_transactions_total{kind="bet.stake"} 1.0' in text
    assert 'pamgate_ledger_transactions_total{kind="wallet.deposit"} 1.0' in text


def test_an_unreachable_database_is_503_with_retry_after_in_each_familys_shape(config, clock):
    """Nothing listens where the database should be: a signed partner request and a
    back-office call both answer 503 `Retry-After: 1` in their own error shape (a retry
    under the same key is safe), never 500, and say nothing of the connection."""
    from gateway.core.principal import ADMIN, Principal
    from tests import factories as f
    from tests.openapi_check import ResponseChecker, checking_client

    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    db = open_database(url, connect_timeout=1)
    app = create_app(config.replace(database_url=url), db=db, clock=clock)
    checker = ResponseChecker(app)
    client = checking_client(app, checker)
    with capture_logs() as logs:
        partner = f.pam(client, clock, "ticket_create", f.ticket_data("DOWN-1", "p-1"))
        token = app.services.tokens.mint(Principal(user_id="admin", role=ADMIN))
        office = client.simulate_get("/api/v1/bancas", headers={"Authorization": f"Bearer {token}"})
    assert partner.status_code == 503 and office.status_code == 503
    assert partner.headers["Retry-After"] == "1" and office.headers["Retry-After"] == "1"
    assert office.json["success"] is False
    assert office.json["error"]["code"] == "SERVICE_UNAVAILABLE"
    for resp in (partner, office):
        assert "127.0.0.1" not in resp.text and "connection" not in resp.text.lower()
    assert [e["event"] for e in logs].count("database_unavailable") == 2
    assert not any(e["event"] == "unhandled_exception" for e in logs)
    assert not checker.problems, checker.problems
