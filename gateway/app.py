"""The composition root: `create_app` builds every collaborator and mounts every route.

Nothing connects, reads configuration or builds clients at import time; tests pass their
own database, clock, keys and HTTP session.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import falcon
import requests
import simplejson

from adapters.backoffice import resources as backoffice
from adapters.betengine import resources as betengine
from config.partners import PartnerDirectory
from config.settings import Config
from gateway.core import ledger
from gateway.core.clock import Clock, SystemClock
from gateway.core.rejections import Tally
from gateway.http import errors
from gateway.http.auth import Authenticator, TokenService
from gateway.http.health import Health, MetricsResource, Ready
from gateway.http.inputs import InputGuard
from gateway.http.keys import PublishedKeys, ReceiptCheck
from gateway.http.metrics import Metrics
from gateway.http.middleware import BodyLimit, DatabaseSession, RequestContext
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


def build_services(
    config: Config,
    *,
    db: Any = None,
    clock: Clock | None = None,
    keys: Keyring | None = None,
    http: requests.Session | None = None,
    metrics: Metrics | None = None,
) -> Services:
    database = bind(db if db is not None else open_database(
        config.database_url, pool_size=config.db_pool_size))
    clock = clock or SystemClock()
    keys = keys or Keyring.from_texts(list(config.signing_keys))
    tokens = TokenService(config.jwt_secret, clock, ttl_s=config.jwt_ttl_s)
    tally = Tally(clock, flush_every_s=config.rejection_flush_s)
    return Services(
        config=config,
        db=database,
        clock=clock,
        keys=keys,
        http=http or requests.Session(),
        metrics=metrics or Metrics(config.metrics_dir),
        tokens=tokens,
        auth=Authenticator(tokens, on_refused=lambda reason: tally.add("backoffice", reason)),
        partners=PartnerDirectory(config.partners),
        rejections=tally,
    )


class GatewayApp(falcon.App):
    """falcon's App plus `services`, so tools and tests reach the collaborators it built."""

    services: Services


def _json_handler() -> falcon.media.JSONHandler:
    """JSON with exact decimals: `Decimal` out as a number, never through float."""
    dumps = functools.partial(simplejson.dumps, use_decimal=True, ensure_ascii=False,
                              separators=(",", ":"))
    loads = functools.partial(simplejson.loads, use_decimal=True)
    return falcon.media.JSONHandler(dumps=dumps, loads=loads)


def _mount_betengine(app: falcon.App, s: Services) -> None:
    guard = PartnerGuard(s.partners, s.clock, s.metrics, s.rejections)
    args = (guard, s.clock, s.metrics, s.config.reserve_ttl_s)
    app.add_route("/pam", betengine.PamWebhook(*args))
    app.add_route("/be/tickets", betengine.TicketCollection(*args))
    app.add_route("/be/tickets/{identifier}", betengine.TicketItem(*args))
    app.add_route("/be/tickets/{identifier}/paid", betengine.PaidTicket(*args))


def _mount_backoffice(app: falcon.App, s: Services) -> None:
    """Back-office routes (SPEC 2, 6, 7, 7b, 7c, 10): bearer/cookie JWT, JSON envelope."""
    args = (s.auth, s.clock, s.metrics)
    app.add_route("/api/v1/bancas", backoffice.BancaCollection(*args))
    app.add_route("/api/v1/bancas/{banca_id}", backoffice.BancaItem(*args))
    app.add_route("/api/v1/ventanas", backoffice.VentanaCollection(*args))
    app.add_route("/api/v1/ventanas/{ventana_id}", backoffice.VentanaItem(*args))
    app.add_route("/api/v1/vendedores", backoffice.VendedorCollection(*args))
    app.add_route("/api/v1/vendedores/{vendedor_id}", backoffice.VendedorItem(*args))
    operators = tuple(sorted({p.operator for p in s.partners if p.operator}))
    app.add_route("/api/v1/players", backoffice.PlayerCollection(*args, operators=operators))
    app.add_route("/api/v1/players/{player_id}", backoffice.PlayerItem(*args))
    app.add_route("/api/v1/players/{player_id}/tokens", backoffice.PlayerTokens(*args))
    app.add_route("/api/v1/players/{player_id}/deposits", backoffice.PlayerDeposits(*args))
    app.add_route("/api/v1/players/{player_id}/withdrawals",
                  backoffice.PlayerWithdrawals(*args))
    app.add_route("/api/v1/reconciliation", backoffice.Reconciliation(*args))


def create_app(
    config: Config,
    *,
    db: Any = None,
    clock: Clock | None = None,
    keys: Keyring | None = None,
    http: requests.Session | None = None,
) -> GatewayApp:
    services = build_services(config, db=db, clock=clock, keys=keys, http=http)
    counter = services.metrics.ledger_transactions
    ledger.observe_commits(services.db, lambda kind: counter.labels(kind=kind).inc())
    app = GatewayApp(
        middleware=[
            RequestContext(services.metrics),
            BodyLimit(config.max_body_bytes),
            InputGuard(),
            DatabaseSession(services.db),
        ],
        cors_enable=False,
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.resp_options.default_media_type = falcon.MEDIA_JSON
    json_handler = _json_handler()
    app.req_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    errors.install(app)

    _mount_betengine(app, services)
    _mount_backoffice(app, services)
    app.add_route("/.well-known/pamgate-keys", PublishedKeys(services.keys))
    app.add_route("/api/v1/receipts/verify", ReceiptCheck(services.keys))
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Ready(services.db))
    app.add_route("/metrics", MetricsResource(services.metrics))

    app.services = services
    return app
