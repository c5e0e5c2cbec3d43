"""The OpenAPI 3.1 document of every route (`GET /openapi.json`) and the page that renders
it (`GET /docs`, Swagger UI served from this package: no CDN).

Nothing here knows a family's routes. Each protocol family declares its operations in its
adapter package (`adapters/<family>/openapi.py`: path, method, request schema — the
marshmallow schema its resource loads —, responses with their schemas and examples) and
hands them over as `Protocol.api`; the routes pamgate serves itself (health, keys, this
document) are declared below. The document is built from those declarations with apispec;
every operation also gets its family's generic errors (its error body shape, from the
family's `ApiDoc.error`) and its callers' security scheme. A route mounted without a
declaration is caught by a test that compares the document with falcon's router; routes
that are pages, not API, are listed in `EXCLUDED`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources as package_files
from typing import Any

import falcon
import simplejson
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls

# Path prefixes that are HTML pages for people, not API: left out of the document on purpose.
EXCLUDED: tuple[str, ...] = ("/console", "/docs")

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "betstackSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "signature",
        "description": (
            "Betstack HMAC: lowercase hex of HMAC-SHA256 keyed with the operator's secret over "
            "`{timestamp}{body}` (the body exactly as sent, compact JSON; `{timestamp}` alone "
            "when there is no body). Also sends `timestamp` (Unix seconds, within the "
            "partner's window) and, on `/be/…` and `/sms/…`, `operator-name`. Each signature "
            'is accepted once. Refusals: 403 `{"code": 109}`.'
        ),
    },
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": (
            "Standard Webhooks, for partners configured with it: `webhook-id`, "
            "`webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256>` with a "
            "`whsec_` secret or `v1a,<base64 Ed25519>` with a `whpk_` key) over "
            "`{id}.{timestamp}.{body}`."
        ),
    },
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A back-office access token (`POST /api/v1/auth/login`, `pamgate token`).",
    },
    "accessTokenCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "accessToken",
        "description": "The same token as the `accessToken` cookie set by login.",
    },
}
_CALLER_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "partner": [{"betstackSignature": []}, {"standardWebhooks": []}],
    "token": [{"bearerToken": []}, {"accessTokenCookie": []}],
    "none": [],
}
# generic answers any operation of a family may give, beside those it declares
_GENERIC_BY_CALLER: dict[str, tuple[int, ...]] = {
    "partner": (400, 403, 413, 500, 503),
    "token": (400, 401, 403, 413, 500, 503),
    "none": (400, 413, 500, 503),
}
_GENERIC_TEXT = {
    400: "A malformed request (body, query or path), in the family's error shape",
    401: "Missing, invalid or expired token",
    403: "The caller is refused (signature, token or permission)",
    413: "The body is over the size limit",
    500: "An unexpected fault (code `internal_error`, no details)",
    503: "The database is busy or unreachable: nothing was done, retry after `Retry-After` "
    "seconds (with the same idempotency key)",
}


@dataclass(frozen=True)
class Response:
    """One answer of an operation. `schema`: a marshmallow schema class or a JSON Schema
    dict; None for no body."""

    description: str
    schema: Any = None
    example: Any = None
    media_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    method: str  # GET, POST, …
    path: str  # as mounted, with `{name}` parameters
    summary: str
    responses: Mapping[int, Response]
    body: Any = None  # marshmallow schema class or JSON Schema dict
    body_examples: Mapping[str, Any] = field(default_factory=dict)  # name -> example body
    query: Any = None  # marshmallow schema class, or {name: JSON Schema}: query parameters
    description: str = ""
    security: tuple[str, ...] | None = None  # None: the family's callers; (): open
    headers: tuple[tuple[str, str], ...] = ()  # (name, description) of required headers


@dataclass(frozen=True)
class ApiDoc:
    """What a family contributes to the document."""

    tag: str
    description: str
    error: Mapping[str, Any]  # JSON Schema of the family's error body
    operations: tuple[Operation, ...]
    # marshmallow schemas referred to by `$ref` (`#/components/schemas/<family>.<Class>`)
    components: tuple[Any, ...] = ()


def _schema_name(schema: Any) -> str:
    cls: Any = resolve_schema_cls(schema)
    family = cls.__module__.split(".")
    prefix = family[1] if family[0] == "adapters" and len(family) > 1 else family[-1]
    return f"{prefix}.{cls.__name__}"


def _content(schema: Any, example: Any, media_type: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if schema is not None:
        entry["schema"] = schema
    if example is not None:
        entry["example"] = example
    return {media_type: entry}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _path_names(op.path):
        params.append({"in": "path", "name": name, "required": True, "schema": {"type": "string"}})
    if isinstance(op.query, Mapping):
        for name, schema in op.query.items():
            params.append({"in": "query", "name": name, "required": False, "schema": schema})
    elif op.query is not None:
        params.append({"in": "query", "schema": op.query})
    for name, text in op.headers:
        params.append(
            {
                "in": "header",
                "name": name,
                "required": True,
                "description": text,
                "schema": {"type": "string"},
            }
        )
    return params


def _path_names(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def build_document(protocols: Iterable[Any], extra: Iterable[ApiDoc] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the families (`Protocol`s with an `api`) and `extra`."""
    spec = APISpec(
        title="pamgate",
        version=_version(),
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={
            "description": (
                "Signed money gateway: bet-engine and SMS webhooks (Betstack signatures, "
                "amounts in integer cents), the back office (bearer or cookie tokens, amounts "
                "in currency units), lottery sales and pamgate's own keys and health."
            )
        },
    )
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    families = [p for p in protocols if getattr(p, "api", None) is not None]
    docs: list[tuple[ApiDoc, Any]] = [(p.api, p) for p in families]
    docs += [(doc, None) for doc in extra]
    by_prefix = _FamilyFinder(families)
    for doc, _ in docs:
        spec.tag({"name": doc.tag, "description": doc.description})
        for schema in doc.components:
            name = _schema_name(schema)
            if name not in spec.components.schemas:
                spec.components.schema(name, schema=schema)
    paths: dict[str, dict[str, Any]] = {}
    for doc, _ in docs:
        for op in doc.operations:
            family = by_prefix.for_path(op.path)
            paths.setdefault(op.path, {})[op.method.lower()] = _operation(doc, op, family)
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


def _operation(doc: ApiDoc, op: Operation, family: Any) -> dict[str, Any]:
    """`family`: the Protocol the path belongs to (its error shape and callers), if any."""
    caller = family.caller if family is not None else "none"
    if op.security == ():
        caller = "none"
    error = family.api.error if family is not None else doc.error
    responses: dict[str, Any] = {}
    for status, answer in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": answer.description}
        if answer.schema is not None or answer.example is not None:
            entry["content"] = _content(answer.schema, answer.example, answer.media_type)
        responses[str(status)] = entry
    for status in _GENERIC_BY_CALLER[caller]:
        responses.setdefault(
            str(status),
            {
                "description": _GENERIC_TEXT[status],
                "content": _content(error, None, "application/json"),
            },
        )
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [doc.tag],
        "operationId": f"{op.method.lower()}{op.path}".replace("/", "_")
        .replace("{", "")
        .replace("}", ""),
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if op.security is None:
        out["security"] = _CALLER_SECURITY[caller]
    else:
        out["security"] = [{name: []} for name in op.security]  # () : open to anyone
    params = _parameters(op)
    if params:
        out["parameters"] = params
    if op.body is not None:
        media: dict[str, Any] = {"schema": op.body}
        if op.body_examples:
            media["examples"] = {name: {"value": v} for name, v in op.body_examples.items()}
        out["requestBody"] = {"required": True, "content": {"application/json": media}}
    return out


class _FamilyFinder:
    """The family a path belongs to, by longest prefix (as `Protocols.for_path`)."""

    def __init__(self, families: list[Any]) -> None:
        self._default = next((p for p in families if "" in p.prefixes), None)
        routes = [(prefix, p) for p in families for prefix in p.prefixes if prefix]
        self._routes = sorted(routes, key=lambda item: len(item[0]), reverse=True)

    def for_path(self, path: str) -> Any:
        for prefix, protocol in self._routes:
            if path == prefix or path.startswith(prefix + "/"):
                return protocol
        return self._default


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pamgate")
    except PackageNotFoundError:  # pragma: no cover - a checkout never installed
        return "0"


# --- the resources ----------------------------------------------------------------------------

_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs.js": "application/javascript; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pamgate API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"><noscript>This page needs JavaScript; the document itself is
<a href="/openapi.json">/openapi.json</a>.</noscript></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs.js"></script>
</body>
</html>
"""
_PAGE_SECURITY = {
    # the page and its assets come from this server only; the document is fetched from here
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self' data:"
    ),
    "X-Content-Type-Options": "nosniff",
}


class OpenApiDocument:
    """`GET /openapi.json`, built on its first request (apps built by tests never pay)."""

    def __init__(self, protocols: Iterable[Any]) -> None:
        self._protocols = tuple(protocols)
        self._body: bytes | None = None

    def document(self) -> dict[str, Any]:
        from gateway.http.own_api import API

        return build_document(self._protocols, [API])

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._body is None:
            self._body = simplejson.dumps(
                self.document(), use_decimal=True, separators=(",", ":")
            ).encode()
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body


class DocsPage:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.set_headers(_PAGE_SECURITY)
        resp.text = _PAGE


class DocsAsset:
    """The renderer's files, shipped in this package (`gateway/http/static/docs/`)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        if name not in _ASSETS:
            raise falcon.HTTPNotFound()
        resp.content_type = _ASSETS[name]
        resp.set_headers(_PAGE_SECURITY)
        resp.cache_control = ["public", "max-age=3600"]
        resp.data = (
            package_files.files("gateway.http").joinpath("static", "docs", name).read_bytes()
        )


def undocumented(app: falcon.App, document: Mapping[str, Any]) -> list[str]:
    """`METHOD /path` of every route the app serves that the document lacks, and of every
    documented operation the app does not serve; routes under `EXCLUDED` are pages."""
    from falcon import inspect

    served = set()
    for route in inspect.inspect_routes(app):
        if any(route.path == p or route.path.startswith(p + "/") for p in EXCLUDED):
            continue
        for info in route.methods:
            if not info.internal:
                served.add((info.method.upper(), route.path))
    documented = {
        (method.upper(), path)
        for path, operations in document.get("paths", {}).items()
        for method in operations
        if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    }
    missing = [f"{m} {p} (not in the document)" for m, p in sorted(served - documented)]
    stale = [f"{m} {p} (documented, not served)" for m, p in sorted(documented - served)]
    return missing + stale


def mount(app: falcon.App, protocols: Iterable[Any]) -> None:
    app.add_route("/openapi.json", OpenApiDocument(protocols))
    app.add_route("/docs", DocsPage())
    app.add_route("/docs/assets/{name}", DocsAsset())


# --- small JSON Schema builders for the families' declarations ---------------------------------


def obj(*required: str, **properties: Any) -> dict[str, Any]:
    """An object with these properties (more may appear: clients ignore what they do not
    know); `required` names those always present."""
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [dict(schema), {"type": "null"}]}


def array(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(items)}


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
NUMBER: dict[str, Any] = {"type": "number"}
TIMESTAMP: dict[str, Any] = {"type": "string", "description": "ISO 8601, UTC, with Z"}
ANY_OBJECT: dict[str, Any] = {"type": "object"}
