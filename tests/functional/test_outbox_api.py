"""The outbox for operators (ADMIN): list by state without the message text (phones masked
to their last 3 digits), re-send a dead letter (audited, harmless when repeated), and the
bulk replay of the dead letters."""

from __future__ import annotations

from typing import Any

from gateway.core import outbox, outbox_admin
from gateway.core.principal import ADMIN, VENTANA, Principal
from gateway.store.database import database, unit_of_work
from gateway.store.models import AuditRecord
from tests import factories as f


def _bearer(app: Any, role: str = ADMIN, **kw: Any) -> dict[str, str]:
    principal = Principal(user_id="admin-1", role=role, **kw)
    return {"Authorization": f"Bearer {app.services.tokens.mint(principal)}"}


def _sms(clock, n: int = 1) -> list[str]:
    with unit_of_work(database):
        return [
            outbox.emit(
                "sms",
                {
                    "to": "+5068888777" + str(i % 10),
                    "type": "otp",
                    "template": "otp",
                    "lang": "es",
                    "vars": {"code": "918273"},
                },
                clock.now(),
            ).message_id
            for i in range(n)
        ]


def _dead(clock, n: int = 1) -> list[str]:
    ids = _sms(clock, n)
    for message in outbox.claim_due(clock.now(), limit=n):
        outbox.mark_failed(message.message_id, "HTTP 400: refused", None, clock.now())
    return ids


def test_admin_lists_dead_letters_without_text_or_full_phone(client, app, clock):
    [dead] = _dead(clock)
    _sms(clock)
    resp = client.simulate_get("/api/v1/outbox?state=dead", headers=_bearer(app))
    assert resp.status_code == 200, resp.text
    assert resp.json["success"] is True
    [item] = resp.json["data"]
    assert item == {
        "id": dead,
        "kind": "sms",
        "type": "otp",
        "to": "********770",
        "state": "dead",
        "attempts": 1,
        "nextAttemptAt": item["nextAttemptAt"],
        "lastError": "HTTP 400: refused",
        "createdAt": "2026-11-21T12:00:00.000Z",
        "updatedAt": "2026-11-21T12:00:00.000Z",
        "requestId": None,  # queued outside any request
        "traceparent": None,
    }
    assert "918273" not in resp.text
    pending = client.simulate_get("/api/v1/outbox?state=pending", headers=_bearer(app))
    assert len(pending.json["data"]) == 1


def test_the_list_pages_newest_first(client, app, clock):
    ids = _sms(clock, 5)
    first = client.simulate_get("/api/v1/outbox?state=pending&limit=2", headers=_bearer(app))
    assert [m["id"] for m in first.json["data"]] == ids[::-1][:2]
    cursor = first.json["meta"]["nextBefore"]
    second = client.simulate_get(
        f"/api/v1/outbox?state=pending&limit=2&before={cursor}", headers=_bearer(app)
    )
    assert [m["id"] for m in second.json["data"]] == ids[::-1][2:4]


def test_bad_queries_are_400(client, app):
    for query in ("state=lost", "limit=0", "limit=abc", "before=-1", "state=%00"):
        resp = client.simulate_get(f"/api/v1/outbox?{query}", headers=_bearer(app))
        assert resp.status_code == 400, (query, resp.text)
        assert resp.json["success"] is False


def test_only_admin_may_see_or_retry(client, app, clock):
    [dead] = _dead(clock)
    assert client.simulate_get("/api/v1/outbox?state=dead").status_code == 401
    banca, ventana = f.banca_and_ventana(clock)
    window = _bearer(app, VENTANA, banca_id=banca, ventana_id=ventana)
    assert client.simulate_get("/api/v1/outbox?state=dead", headers=window).status_code == 403
    resp = client.simulate_post(f"/api/v1/outbox/{dead}/retry", headers=window)
    assert resp.status_code == 403
    assert outbox.get(dead).state == outbox.DEAD


def test_retry_sends_a_dead_letter_again_and_is_harmless_when_repeated(client, app, clock):
    [dead] = _dead(clock)
    clock.advance(60)
    resp = client.simulate_post(f"/api/v1/outbox/{dead}/retry", headers=_bearer(app))
    assert resp.status_code == 200, resp.text
    assert resp.json["data"]["state"] == "pending"
    assert resp.json["data"]["nextAttemptAt"] == "2026-11-21T12:01:00.000Z"
    again = client.simulate_post(f"/api/v1/outbox/{dead}/retry", headers=_bearer(app))
    assert again.status_code == 200
    assert again.json["data"] == resp.json["data"]
    [claimed] = outbox.claim_due(clock.now())
    assert (claimed.message_id, claimed.tries_since_retry) == (dead, 1)
    actions = [r.action for r in AuditRecord.select().order_by(AuditRecord.seq)]
    assert actions.count("OUTBOX_RETRY") == 2


def test_retry_of_a_sent_message_is_409_and_of_an_unknown_one_404(client, app, clock):
    [sent] = _sms(clock)
    outbox.claim_due(clock.now())
    outbox.mark_sent(sent, clock.now())
    resp = client.simulate_post(f"/api/v1/outbox/{sent}/retry", headers=_bearer(app))
    assert resp.status_code == 409
    assert outbox.get(sent).state == outbox.SENT
    resp = client.simulate_post("/api/v1/outbox/nope/retry", headers=_bearer(app))
    assert resp.status_code == 404


def test_replay_sends_every_dead_letter_again_and_dry_run_only_counts(db, clock):
    ids = _dead(clock, 3)
    assert outbox_admin.replay(clock.now(), dry_run=True) == 3
    assert outbox_admin.count(outbox.DEAD) == 3
    assert outbox_admin.replay(clock.now()) == 3
    assert {outbox.get(i).state for i in ids} == {outbox.PENDING}
    assert outbox_admin.replay(clock.now()) == 0
