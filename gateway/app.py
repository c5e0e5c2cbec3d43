"""The composition root: `create_app` builds every collaborator and mounts every route.

Protocol families are declared by their adapter packages (`adapters/<family>/protocol.py`);
`PROTOCOLS` lists them, one line each, and everything per family (routes, error shapes,
who may call) is built from that list.

Nothing connects, reads configuration or builds clients at import time; tests pass their
own database, clock, keys and HTTP session.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import falcon
import requests
import simplejson

from adapters import backoffice, betengine, console, lottery, payments, sms
from config.partners import PartnerDirectory
from config.settings import Config
from gateway.core import events, ledger, statements
from gateway.core.clock import Clock, SystemClock
from gateway.core.rejections import Tally
from gateway.http import errors, openapi
from gateway.http.auth import Authenticator, TokenService
from gateway.http.health import Health, MetricsResource, Ready
from gateway.http.inputs import InputGuard
from gateway.http.keys import PublishedKeys, ReceiptCheck
from gateway.http.metrics import Metrics
from gateway.http.middleware import BodyLimit, DatabaseSession, RequestContext
from gateway.http.outbox_metrics import OutboxCollector
from gateway.http.protocol import Protocol, Protocols
from gateway.http.signatures import PartnerGuard
from gateway.store.database import bind, open_database
from signing.keys import Keyring


@dataclass
class Services:
    """What resources are built from; kept on the app as `app.services`."""

    config: Config
    db: Any
    clock: Clock
    keys: Keyring
    http: requests.Session
    metrics: Metrics
    tokens: TokenService
    auth: Authenticator
    partners: PartnerDirectory
    rejections: Tally
    protocols: Protocols
    guard: PartnerGuard


def build_services(
    config: Config,
    *,
    db: Any = None,
    clock: Clock | None = None,
    keys: Keyring | None = None,
    http: requests.Session | None = None,
    metrics: Metrics | None = None,
    protocols: Sequence[Protocol] = (),
) -> Services:
    database = bind(
        db if db is not None else open_database(config.database_url, pool_size=config.db_pool_size)
    )
    clock = clock or SystemClock()
    keys = keys or Keyring.from_texts(list(config.signing_keys))
    tokens = TokenService(config.jwt_secret, clock, ttl_s=config.jwt_ttl_s)
    tally = Tally(clock, flush_every_s=config.rejection_flush_s)
    metrics = metrics or Metrics(config.metrics_dir)
    partners = PartnerDirectory(config.partners)
    families = Protocols([*PROTOCOLS, *protocols])
    events.configure(enabled=bool(config.events_url))  # core events only with an endpoint
    statements.configure(config.timezone)
    return Services(
        config=config,
        db=database,
        clock=clock,
        keys=keys,
        http=http or requests.Session(),
        metrics=metrics,
        tokens=tokens,
        auth=Authenticator(
            tokens, families, on_refused=lambda reason: tally.add("backoffice", reason)
        ),
        partners=partners,
        rejections=tally,
        protocols=families,
        guard=PartnerGuard(partners, clock, metrics, tally, families),
    )


# The protocol families this service speaks: one line each.
PROTOCOLS: tuple[Protocol, ...] = (
    betengine.PROTOCOL,
    backoffice.PROTOCOL,
    lottery.PROTOCOL,
    sms.PROTOCOL,
    payments.PROTOCOL,
    console.PROTOCOL,
)


class GatewayApp(falcon.App):
    """falcon's App plus `services`, so tools and tests reach the collaborators it built."""

    services: Services


def _json_handler() -> falcon.media.JSONHandler:
    """JSON with exact decimals: `Decimal` out as a number, never through float."""
    dumps = functools.partial(
        simplejson.dumps, use_decimal=True, ensure_ascii=False, separators=(",", ":")
    )
    loads = functools.partial(simplejson.loads, use_decimal=True)
    return falcon.media.JSONHandler(dumps=dumps, loads=loads)


def create_app(
    config: Config,
    *,
    db: Any = None,
    clock: Clock | None = None,
    keys: Keyring | None = None,
    http: requests.Session | None = None,
    protocols: Sequence[Protocol] = (),
) -> GatewayApp:
    """`protocols`: families beyond `PROTOCOLS` (tests add a throwaway one)."""
    services = build_services(config, db=db, clock=clock, keys=keys, http=http, protocols=protocols)
    services.metrics.add_collector(OutboxCollector(services.clock))
    counter = services.metrics.ledger_transactions
    ledger.observe_commits(services.db, lambda kind: counter.labels(kind=kind).inc())
    app = GatewayApp(
        middleware=[
            RequestContext(services.metrics),
            BodyLimit(config.max_body_bytes),
            InputGuard(services.protocols),
            DatabaseSession(services.db),
        ],
        cors_enable=False,
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.resp_options.default_media_type = falcon.MEDIA_JSON
    json_handler = _json_handler()
    app.req_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    errors.install(app, services.protocols)
    for family in services.protocols:
        family.mount(app, services)
    app.add_route("/.well-known/pamgate-keys", PublishedKeys(services.keys))
    app.add_route("/api/v1/receipts/verify", ReceiptCheck(services.keys))
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Ready(services.db))
    app.add_route("/metrics", MetricsResource(services.metrics))
    openapi.mount(app, services.protocols)

    app.services = services
    return app
