"""`/metrics` publishes the outbox's figures from the database: depth by state, the oldest
unsent message's age, lag p99 and the dead-letter depth."""

from __future__ import annotations

import re

import pytest

from gateway.core import outbox
from gateway.store.database import database, is_postgres, unit_of_work


def _value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_outbox_figures_on_metrics(client, clock):
    start = clock.now()
    with unit_of_work(database):
        ids = [
            outbox.emit("sms", {"to": "+50688887777", "n": i}, start).message_id for i in range(3)
        ]
    clock.advance(10)
    claimed = {m.message_id: m for m in outbox.claim_due(clock.now(), limit=2)}
    first, second = ids[0], ids[1]
    outbox.record(
        [
            outbox.Attempt(claimed[first], "webhook", "sent", clock.now(), clock.now()),
            outbox.Attempt(claimed[second], "webhook", "refused", clock.now(), clock.now()),
        ],
        clock.now(),
    )
    clock.advance(20)
    text = client.simulate_get("/metrics").text
    assert _value(text, 'pamgate_outbox_messages{state="pending"}') == 1
    assert _value(text, 'pamgate_outbox_messages{state="dead"}') == 1
    assert _value(text, "pamgate_outbox_dead_letters") == 1
    assert _value(text, "pamgate_outbox_oldest_unsent_age_seconds") == 30
    assert _value(text, "pamgate_outbox_lag_p99_seconds") == 10
    assert _value(text, "pamgate_outbox_failed_attempts") == 1
    assert "+50688887777" not in text


def test_metrics_answer_without_the_outbox_figures_when_the_database_is_gone(client, db, tmp_path):
    if is_postgres(db):
        pytest.skip("drops tables: only on the test's own SQLite file")
    for table in ("outbox_attempt", "outbox_message"):
        db.execute_sql(f"DROP TABLE {table}")
    resp = client.simulate_get("/metrics")
    assert resp.status_code == 200
    assert "pamgate_outbox_messages" not in resp.text
    assert "pamgate_http_requests_total" in resp.text
