"""A protocol family is one declaration: a throwaway family (a signed `ping` under its own
prefix, with its own error shape) plugs in without touching the shared HTTP code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon
import falcon.testing
import pytest

from gateway.app import create_app
from gateway.core.errors import CoreError, Forbidden
from gateway.http.errors import ProtocolError
from gateway.http.protocol import Protocol, Protocols
from tests import factories as f


def _error_body(status: int, code: str, message: str) -> Mapping[str, Any]:
    return {"err": {"status": status, "what": code.lower()}}


def _from_core(exc: CoreError) -> ProtocolError:
    return ProtocolError(409, {"err": {"status": 409, "what": exc.code}})


class _Ping:
    def __init__(self, services: Any) -> None:
        self._guard = services.guard

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        def respond(partner: Any) -> None:
            resp.media = {"pong": partner.operator}

        self._guard.handle(req, resp, respond, operator=req.get_header("operator-name"))


class _Refuses:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise Forbidden("not yours")  # a core error the resource did not translate


def _mount(app: falcon.App, services: Any) -> None:
    app.add_route("/x/ping", _Ping(services))
    app.add_route("/x/refuses", _Refuses())


PING = Protocol(
    name="ping",
    prefixes=("/x",),
    caller="partner",
    error_body=_error_body,
    from_core=_from_core,
    mount=_mount,
)


@pytest.fixture
def client(config, db, clock) -> falcon.testing.TestClient:  # type: ignore[no-untyped-def]
    return falcon.testing.TestClient(create_app(config, db=db, clock=clock, protocols=[PING]))


def test_a_signed_ping_of_the_new_family_answers(client, clock):
    raw, headers = f.signed({"ping": 1}, clock)
    resp = client.simulate_post("/x/ping", body=raw, headers=headers)
    assert (resp.status_code, resp.json) == (200, {"pong": "acme"})


def test_the_new_family_renders_every_error_in_its_own_shape(client, clock):
    raw, headers = f.signed({"ping": 1}, clock, secret="WRONG")
    resp = client.simulate_post("/x/ping", body=raw, headers=headers)
    assert (resp.status_code, resp.json) == (403, {"err": {"status": 403, "what": "forbidden"}})
    assert client.simulate_get("/x/nowhere").json == {"err": {"status": 404, "what": "not_found"}}
    assert client.simulate_get("/x/refuses").json == {"err": {"status": 409, "what": "forbidden"}}
    assert client.simulate_post("/x/ping", body=b"x" * 70_000).json == {
        "err": {"status": 413, "what": "payload_too_large"}
    }
    assert client.simulate_get("/x/%00").json == {
        "err": {"status": 400, "what": "validation_error"}
    }


def test_the_other_families_keep_their_shapes(client):
    resp = client.simulate_get("/pam")
    assert (resp.status_code, resp.json) == (405, {"code": 108, "message": "Method not allowed"})
    assert client.simulate_get("/api/v1/nowhere").json == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Not found"},
    }


def test_two_families_may_not_claim_one_prefix():
    from gateway.app import PROTOCOLS

    with pytest.raises(ValueError, match="same route prefix"):
        Protocols([PING, PING, *PROTOCOLS])
