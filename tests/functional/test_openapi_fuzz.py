"""Fuzzing from the document: schemathesis generates requests for every operation of
`/openapi.json` (from its schemas and examples, valid and not), signed or authorised as a
real caller would (a Betstack signature with a fresh timestamp, an ADMIN token with every
permission), sent through the falcon TestClient on the test's database. Every answer must
be documented (status and body schema, `tests/openapi_check.py`), never a 5xx, and the books
must reconcile and the audit chain verify afterwards.

`make test` runs a few examples per operation with a fixed seed; `make fuzz` runs many more
(`PAMGATE_FUZZ_EXAMPLES`, random seed)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core import NOT_SET

from gateway.app import PROTOCOLS
from gateway.core import audit
from gateway.core.principal import ADMIN, Principal
from gateway.core.reconcile import reconcile
from gateway.http import own_api
from gateway.http.openapi import build_document
from tests import factories
from tests.openapi_check import ResponseChecker, checking_client

EXAMPLES = int(os.environ.get("PAMGATE_FUZZ_EXAMPLES", "8"))
LONG = "PAMGATE_FUZZ_EXAMPLES" in os.environ
DOCUMENT = build_document(PROTOCOLS, [own_api.API])
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = {
    f"{op.method.upper()} {op.path}": op
    for op in (r.ok() for r in SCHEMA.get_all_operations())  # type: ignore[union-attr]
}
PARTNER_PREFIXES = tuple(
    p for family in PROTOCOLS if family.caller == "partner" for p in family.prefixes
)
EVERY_PERMISSION = frozenset(
    {
        "payments_read",
        "payments_create",
        "payments_update",
        "payments_delete",
        "lottery_tickets_create",
    }
)


def _send(client, app, clock, case) -> Any:
    body = None if case.body is NOT_SET else case.body
    path = case.formatted_path
    clock.advance(seconds=1)  # every signature is new: the once-only rule never answers
    if path.startswith(PARTNER_PREFIXES):
        raw, headers = factories.signed(body, clock)
    else:
        raw = factories.dumps(body).encode() if body is not None else b""
        token = app.services.tokens.mint(
            Principal(user_id="fuzz-admin", role=ADMIN, permissions=EVERY_PERMISSION)
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    return client.simulate_request(
        case.method.upper(), path, body=raw, headers=headers, params=query or None
    )


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_fuzzed_requests_get_documented_answers(name, app, db, clock) -> None:
    operation = OPERATIONS[name]
    checker = ResponseChecker(app)
    client = checking_client(app, checker)
    server_errors: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not LONG,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data) -> None:
        case = data.draw(operation.as_strategy())
        result = _send(client, app, clock, case)
        if result.status_code >= 500:
            server_errors.append(f"{result.status_code} {case.formatted_path}: {result.text[:300]}")

    run()
    assert not server_errors, server_errors
    assert not checker.problems, "\n".join(checker.problems[:20])
    with db.atomic():
        report = reconcile()
        chain = audit.verify()
    assert report.ok, report.render()
    assert chain.ok, chain.problems
