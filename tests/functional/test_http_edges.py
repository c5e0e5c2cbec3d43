"""HTTP edges a client can hit without doing anything wrong in its payload: chunked bodies,
a body that never arrives, and the operational endpoints while the database is down
(SPEC 0 and 11). The same behaviour through the real gunicorn: test_slow_clients.py."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import falcon.testing
import pytest
from gunicorn.http.errors import InvalidChunkSize

from gateway.app import create_app
from gateway.core.clock import FixedClock, unix
from signing import betstack
from tests import factories as f


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    stream: Any,
) -> tuple[int, dict[str, str], bytes]:
    """Call the WSGI app the way gunicorn does for a `Transfer-Encoding: chunked` request:
    no `CONTENT_LENGTH`, and `wsgi.input` yielding the de-chunked body up to its end."""
    environ = falcon.testing.create_environ(method=method, path=path, headers=headers)
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = stream
    start = falcon.testing.StartResponseMock()
    body = b"".join(app(environ, start))
    return int(start.status.split()[0]), {k.lower(): v for k, v in start.headers}, body


def _chunked(app: Any, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    return _call(app, "POST", "/pam", {**headers, "Transfer-Encoding": "chunked"}, io.BytesIO(raw))


def test_a_signed_chunked_create_is_verified_over_its_body_and_books_the_ticket(app, clock):
    pid = f.player(clock, balance=10_000)
    raw, headers = f.signed({"action": "ticket_create", "data": f.ticket_data("CH-1", pid)}, clock)
    status, _, body = _chunked(app, raw, headers)
    assert (status, body) == (200, b"")
    assert f.wallet(clock, pid).balance == 10_000 - 500


def test_a_chunked_body_over_64_kib_is_refused_with_413_before_authentication(app, clock):
    raw = b'{"action":"ticket_create","pad":"' + b"x" * 70_000 + b'"}'
    status, _, body = _chunked(app, raw, {"Content-Type": "application/json"})
    assert status == 413
    assert json.loads(body) == {"code": 108, "message": "Request body exceeds the size limit"}


def test_a_chunked_body_of_exactly_64_kib_is_read_whole(app, clock):
    """At the limit the body is accepted and its bytes are what the signature covers."""
    envelope = {"action": "ticket_create", "data": f.ticket_data("CH-2", "nobody")}
    compact = betstack.compact_json(envelope)
    raw = compact[:-1] + b',"pad":"' + b"x" * (65_536 - len(compact) - 9) + b'"}'
    assert len(raw) == 65_536
    headers = betstack.signed_headers(f.SECRET, raw, timestamp=unix(clock.now()), operator="acme")
    status, _, body = _chunked(app, raw, {**headers, "Content-Type": "application/json"})
    assert status != 413
    assert json.loads(body)["code"] != 109  # the signature matched the whole body


class _BrokenChunks(io.RawIOBase):
    """`wsgi.input` of a chunked body whose framing is broken (gunicorn raises)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise InvalidChunkSize(b"zz")


def test_a_malformed_chunked_body_is_400_in_the_protocols_shape_not_500(app):
    status, _, body = _call(
        app,
        "POST",
        "/pam",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        _BrokenChunks(),
    )
    assert (status, json.loads(body)) == (400, {"code": 108, "message": "Malformed request body"})


class _StalledBody(io.RawIOBase):
    """`wsgi.input` of a client that declared a body and stopped sending: the server's
    socket read times out."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise TimeoutError("timed out")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/pam", {"code": 108, "message": "Request body not received in time"}),
        (
            "/api/v1/players",
            {
                "success": False,
                "error": {
                    "code": "REQUEST_TIMEOUT",
                    "message": "Request body not received in time",
                },
            },
        ),
    ],
)
def test_a_body_that_stops_arriving_is_answered_408_in_the_protocols_shape(app, path, expected):
    environ = falcon.testing.create_environ(
        method="POST",
        path=path,
        headers={"Content-Type": "application/json", "Content-Length": "100"},
    )
    environ["wsgi.input"] = _StalledBody()
    start = falcon.testing.StartResponseMock()
    body = json.loads(b"".join(app(environ, start)))
    assert start.status.startswith("408")
    if path == "/pam":
        assert body == expected
    else:  # the back-office code name is errors.py's; the status and message are ours
        assert body["success"] is False
        assert body["error"]["message"] == expected["error"]["message"]


@pytest.fixture(params=["postgresql", "sqlite"])
def database_down(request, tmp_path, config):  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/pamgate"
    else:
        url = f"sqlite:///{tmp_path / 'no' / 'such' / 'directory' / 'pamgate.db'}"
    app = create_app(config.replace(database_url=url), clock=FixedClock())
    yield falcon.testing.TestClient(app)
    db = app.services.db
    if hasattr(db, "close_all"):
        db.close_all()


def test_healthz_answers_200_while_the_database_is_down(database_down):
    resp = database_down.simulate_get("/healthz")
    assert (resp.status_code, resp.json) == (200, {"status": "ok"})
    assert resp.headers["X-Request-Id"]


def test_readyz_answers_503_with_the_reason_while_the_database_is_down(database_down):
    resp = database_down.simulate_get("/readyz")
    assert resp.status_code == 503
    assert resp.json == {"status": "unavailable", "database": "unreachable"}


def test_metrics_and_published_keys_answer_while_the_database_is_down(database_down):
    assert database_down.simulate_get("/metrics").status_code == 200
    assert database_down.simulate_get("/.well-known/pamgate-keys").status_code == 200


def test_readyz_answers_503_with_the_reason_while_migrations_are_pending(config, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    client = falcon.testing.TestClient(
        create_app(config.replace(database_url=url), clock=FixedClock())
    )
    resp = client.simulate_get("/readyz")
    assert resp.status_code == 503
    assert resp.json["database"] == "migrations pending"
    assert client.simulate_get("/healthz").status_code == 200
