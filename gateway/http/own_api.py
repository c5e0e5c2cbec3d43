"""pamgate's own routes (health, metrics, keys, receipt check, this document) for the OpenAPI
document; the families declare theirs in `adapters/<family>/openapi.py`."""

from __future__ import annotations

from gateway.http.openapi import (
    BOOLEAN,
    INTEGER,
    STRING,
    ApiDoc,
    Operation,
    Response,
    array,
    obj,
)

_BACKOFFICE_ERROR = obj("success", "error", success={"const": False}, error=obj("code", "message"))
KEY = obj(
    "kid",
    "alg",
    "public_key",
    "active",
    kid=STRING,
    alg={"const": "Ed25519"},
    public_key={"type": "string", "description": "whpk_…"},
    active=BOOLEAN,
)

API = ApiDoc(
    tag="operations",
    description="Health, readiness, metrics, pamgate's public keys and this document.",
    error=_BACKOFFICE_ERROR,
    operations=(
        Operation(
            "GET",
            "/healthz",
            "The process answers (200 even while the database is down)",
            security=(),
            responses={200: Response("Up", obj("status", status={"const": "ok"}))},
        ),
        Operation(
            "GET",
            "/readyz",
            "The database answers and every migration is applied",
            security=(),
            responses={
                200: Response(
                    "Ready",
                    obj("status", status={"const": "ready"}, schema_version=INTEGER),
                ),
                503: Response(
                    "Not ready, and why",
                    obj(
                        "status",
                        "database",
                        status={"const": "unavailable"},
                        database=STRING,
                        schema_version=INTEGER,
                        expected_version=INTEGER,
                    ),
                ),
            },
        ),
        Operation(
            "GET",
            "/metrics",
            "Prometheus metrics (protect it: see the operations guide)",
            security=(),
            responses={
                200: Response("Text exposition format", {"type": "string"}, None, "text/plain")
            },
        ),
        Operation(
            "GET",
            "/.well-known/pamgate-keys",
            "pamgate's Ed25519 public keys (outbound webhooks, receipts)",
            security=(),
            responses={
                200: Response("Every key, active and retired", obj("keys", keys=array(KEY)))
            },
        ),
        Operation(
            "POST",
            "/api/v1/receipts/verify",
            "Check a lottery receipt (the receipt object of a purchase answer)",
            security=(),
            body={"type": "object"},
            responses={
                200: Response(
                    "The verdict",
                    obj("valid", valid=BOOLEAN, reason=STRING),
                    {"valid": False, "reason": "bad_signature"},
                ),
                400: Response("Not a receipt object", _BACKOFFICE_ERROR),
            },
        ),
        Operation(
            "GET",
            "/openapi.json",
            "This document (OpenAPI 3.1)",
            security=(),
            responses={200: Response("The document", {"type": "object"})},
        ),
    ),
)
