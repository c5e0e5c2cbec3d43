"""Operational endpoints: liveness, readiness and metrics. No authentication."""

from __future__ import annotations

import falcon
from peewee import Database, PeeweeException

from gateway.http.metrics import Metrics
from gateway.store.migrations import LATEST, applied_version


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    def __init__(self, db: Database) -> None:
        self._db = db

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            version = applied_version(self._db)
        except PeeweeException:
            resp.status = 503
            resp.media = {"status": "unavailable", "database": "unreachable"}
            return
        if version < LATEST:
            resp.status = 503
            resp.media = {"status": "unavailable", "database": "migrations pending",
                          "schema_version": version, "expected_version": LATEST}
            return
        resp.media = {"status": "ready", "schema_version": version}


class MetricsResource:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        data, content_type = self._metrics.render()
        resp.data = data
        resp.content_type = content_type
