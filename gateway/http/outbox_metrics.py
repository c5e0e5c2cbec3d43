"""The outbox's figures on `/metrics`, read from the database at scrape time (so they are the
same whichever worker answers, and count every dispatcher on every host):

- `pamgate_outbox_messages{state}`: messages pending, being sent, dead (sent ones are not
  counted: that table only grows);
- `pamgate_outbox_oldest_unsent_age_seconds`: age of the oldest message not yet sent;
- `pamgate_outbox_lag_p99_seconds`: creation → delivery, 99th percentile over 5 minutes;
- `pamgate_outbox_dead_letters`: the dead-letter depth;
- `pamgate_outbox_failed_attempts`: failed delivery attempts over 5 minutes.

A database that cannot answer leaves these out (the rest of `/metrics` still answers).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from gateway.core import outbox_admin
from gateway.core.clock import Clock
from gateway.logs import get_logger

log = get_logger("pamgate.metrics")


class OutboxCollector:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def describe(self) -> list[Any]:  # nothing to read at registration
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            figures = outbox_admin.figures(self._clock.now())
        except Exception as exc:  # the database is down or not migrated: leave these out
            log.warning("outbox_metrics_unavailable", error=type(exc).__name__)
            return
        depth = GaugeMetricFamily(
            "pamgate_outbox_messages",
            "Outbox messages by state (sent not counted)",
            labels=["state"],
        )
        for state, value in (
            ("pending", figures.pending),
            ("sending", figures.sending),
            ("dead", figures.dead),
        ):
            depth.add_metric([state], value)
        yield depth
        yield GaugeMetricFamily(
            "pamgate_outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox message not yet sent",
            value=figures.oldest_unsent_age_s,
        )
        if figures.lag_p99_s is not None:
            yield GaugeMetricFamily(
                "pamgate_outbox_lag_p99_seconds",
                "Outbox lag (creation to delivery), 99th percentile over the last 5 minutes",
                value=figures.lag_p99_s,
            )
        yield GaugeMetricFamily(
            "pamgate_outbox_dead_letters",
            "Outbox messages in the dead-letter state",
            value=figures.dead,
        )
        yield GaugeMetricFamily(
            "pamgate_outbox_failed_attempts",
            "Failed delivery attempts over the last 5 minutes",
            value=figures.failed_attempts,
        )
