"""Operational endpoints: liveness, readiness and metrics. No authentication.

None of them may answer 500 (SPEC 11): `/healthz` never touches the database, `/readyz`
turns any failure to reach or read it into a 503 that says why."""

from __future__ import annotations

import falcon
from peewee import Database

from gateway.http.metrics import Metrics
from gateway.logs import get_logger
from gateway.store.migrations import LATEST, applied_version

log = get_logger("pamgate.http")


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    def __init__(self, db: Database) -> None:
        self._db = db

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            version = applied_version(self._db)
        except Exception as exc:  # unreachable, refused, missing file: all mean "not ready"
            detail = str(exc).strip().split("\n")[0][:200]
            log.warning("readiness_check_failed", error=type(exc).__name__, detail=detail)
            resp.status = 503
            resp.media = {"status": "unavailable", "database": "unreachable"}
            return
        if version < LATEST:
            resp.status = 503
            resp.media = {
                "status": "unavailable",
                "database": "migrations pending",
                "schema_version": version,
                "expected_version": LATEST,
            }
            return
        resp.media = {"status": "ready", "schema_version": version}


class MetricsResource:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        data, content_type = self._metrics.render()
        resp.data = data
        resp.content_type = content_type
