"""Prometheus metrics, one registry per app (so tests and several apps never collide).

With several gunicorn workers, set `PROMETHEUS_MULTIPROC_DIR` (gunicorn.conf.py does) and
`/metrics` aggregates every worker through prometheus_client's multiprocess collector.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        # In multiprocess mode samples go to files; the registry here is only for naming.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "pamgate_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pamgate_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.signature_failures = Counter(
            "pamgate_signature_failures_total",
            "Refused partner signatures",
            ["partner", "reason"],
            registry=self.registry,
        )
        self.idempotent_replays = Counter(
            "pamgate_idempotent_replays_total",
            "Requests answered from the idempotency store",
            ["protocol"],
            registry=self.registry,
        )
        self.careful_reruns = Counter(
            "pamgate_careful_reruns_total",
            "Signed requests run again carefully: their optimistic first attempt met a repeat",
            registry=self.registry,
        )
        self.ledger_transactions = Counter(
            "pamgate_ledger_transactions_total",
            "Ledger transactions committed",
            ["kind"],
            registry=self.registry,
        )

        self._collectors: list[Any] = []

    def add_collector(self, collector: Any) -> None:
        """A collector read at each scrape in every mode (figures taken from the database)."""
        self._collectors.append(collector)
        if not self.multiprocess_dir:
            self.registry.register(collector)

    def render(self) -> tuple[bytes, str]:
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            prom_multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
            for collector in self._collectors:
                registry.register(collector)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
