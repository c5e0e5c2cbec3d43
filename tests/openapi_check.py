"""Every response the tests receive through the falcon TestClient is checked against the
OpenAPI document (`GET /openapi.json`): its status must be documented for the route and
method, and its JSON body must match that response's schema. Routes or methods the
document does not have (404s, 405s, throwaway test families) are not checked here:
`tests/functional/test_openapi.py` proves the document covers every mounted route."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import falcon.testing
from jsonschema import Draft202012Validator

Problem = str


class ResponseChecker:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._document: dict[str, Any] | None = None
        self._validators: dict[tuple[str, str, str], Draft202012Validator | None] = {}
        self.problems: list[Problem] = []

    def document(self) -> dict[str, Any]:
        if self._document is None:
            body = falcon.testing.TestClient(self._app).simulate_get("/openapi.json")
            self._document = body.json
        return self._document

    def _validator(self, template: str, method: str, status: str) -> Draft202012Validator | None:
        key = (template, method, status)
        if key not in self._validators:
            response = self.document()["paths"][template][method]["responses"][status]
            media = response.get("content", {}).get("application/json", {})
            schema = media.get("schema")
            validator = None
            if schema is not None:
                full = {"components": self.document().get("components", {}), **schema}
                validator = Draft202012Validator(full)
            self._validators[key] = validator
        return self._validators[key]

    def check(self, method: str, path: str, result: falcon.testing.Result) -> None:
        found = self._app._router.find(path.split("?", 1)[0])
        if not found:
            return
        template = found[3]
        operation = self.document()["paths"].get(template, {}).get(method.lower())
        if operation is None:
            return
        status = str(result.status_code)
        if status not in operation["responses"]:
            self.problems.append(
                f"{method} {template}: status {status} is not documented "
                f"(body {result.text[:200]!r})"
            )
            return
        content_type = result.headers.get("content-type", "")
        if not content_type.startswith("application/json") or not result.text:
            return
        validator = self._validator(template, method.lower(), status)
        if validator is None:
            return
        errors = sorted(validator.iter_errors(json.loads(result.text)), key=str)
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path)
            self.problems.append(
                f"{method} {template} {status}: body does not match the document at "
                f"{where or '(root)'}: {first.message[:300]}"
            )


def checking_client(app: Any, checker: ResponseChecker) -> falcon.testing.TestClient:
    """A TestClient whose every response goes through `checker`."""
    client = falcon.testing.TestClient(app)
    simulate: Callable[..., falcon.testing.Result] = client.simulate_request

    def checked(method: str = "GET", path: str = "/", *args: Any, **kwargs: Any) -> Any:
        result = simulate(method, path, *args, **kwargs)
        checker.check(method, path, result)
        return result

    client.simulate_request = checked  # type: ignore[method-assign]
    return client
