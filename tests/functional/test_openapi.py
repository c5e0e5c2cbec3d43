"""`GET /openapi.json` documents every route, `GET /docs` renders it from pamgate's own
assets. (Every answer the tests receive is also checked against the document: see
`tests/openapi_check.py`, used by the `client` fixture.)"""

from __future__ import annotations

import re

import falcon.testing
import pytest

from gateway.app import create_app
from gateway.http.openapi import EXCLUDED, undocumented
from gateway.http.protocol import Protocol


def test_every_route_the_app_serves_is_in_the_document(client) -> None:
    document = client.simulate_get("/openapi.json").json
    assert document["openapi"].startswith("3.1")
    assert undocumented(client.app, document) == []


def test_a_route_mounted_without_a_declaration_is_reported(config, db, clock) -> None:
    class Thing:
        def on_get(self, req, resp) -> None:
            resp.media = {}

    def mount(app, services) -> None:
        app.add_route("/things/{id}", Thing())

    family = Protocol(
        name="things",
        prefixes=("/things",),
        caller="token",
        error_body=lambda status, code, message: {"error": message},
        from_core=lambda exc: exc,
        mount=mount,
    )
    app = create_app(config, db=db, clock=clock, protocols=[family])
    document = falcon.testing.TestClient(app).simulate_get("/openapi.json").json
    assert undocumented(app, document) == ["GET /things/{id} (not in the document)"]


def test_pages_are_left_out_on_purpose(client) -> None:
    document = client.simulate_get("/openapi.json").json
    assert EXCLUDED == ("/console", "/docs")
    assert not [p for p in document["paths"] if p.startswith(EXCLUDED)]


def test_security_schemes_and_error_shapes_per_family(client) -> None:
    document = client.simulate_get("/openapi.json").json
    schemes = document["components"]["securitySchemes"]
    assert {"betstackSignature", "standardWebhooks", "bearerToken", "accessTokenCookie"} <= set(
        schemes
    )
    pam = document["paths"]["/pam"]["post"]
    assert {"betstackSignature": []} in pam["security"]
    assert pam["responses"]["403"]["content"]["application/json"]["schema"]["required"] == [
        "code",
        "message",
    ]
    bancas = document["paths"]["/api/v1/bancas"]["post"]
    assert {"bearerToken": []} in bancas["security"]
    error = bancas["responses"]["401"]["content"]["application/json"]["schema"]
    assert error["properties"]["success"] == {"const": False}
    assert document["paths"]["/healthz"]["get"]["security"] == []
    # request bodies come from the marshmallow schemas the resources load
    body = bancas["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/backoffice.NewBanca"}
    assert document["components"]["schemas"]["backoffice.NewBanca"]["additionalProperties"] is False
    assert "ticket_create" in pam["requestBody"]["content"]["application/json"]["examples"]


def test_docs_page_and_its_assets_come_from_pamgate(client) -> None:
    page = client.simulate_get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        if source.startswith("/docs/assets/"):
            asset = client.simulate_get(source)
            assert asset.status_code == 200 and len(asset.content) > 100, source
    assert client.simulate_get("/docs/assets/..%2Fopenapi.py").status_code == 404
    assert client.simulate_get("/docs/assets/missing.js").status_code == 404


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_document_and_page_need_no_token(client, path: str) -> None:
    assert client.simulate_get(path).status_code == 200
