"""`POST /sms/notifications`: signed like the bet engine's calls; `otp` and `ticket_status`
are queued in the outbox with their deduplication record; duplicates within 24 h queue
nothing; `bet_result` is 100, anything else 108; bad input writes nothing."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from gateway.core import outbox, sms_texts
from gateway.store.database import database, is_postgres
from gateway.store.models import OutboxMessage, SmsNotification
from tests import factories as f
from tests.concurrency import race

PATH = "/sms/notifications"


def _post(client, clock, body, **kw):
    raw, headers = f.signed(body, clock, **kw)
    return client.simulate_post(PATH, body=raw, headers=headers)


def _otp(code="482913", msisdn="+50688887777"):
    return {"type": "otp", "data": {"code": code, "msisdn": msisdn}}


def _received(resp):
    assert resp.status_code == 200, resp.text
    assert resp.json == {"message": "Notification received"}


def _messages():
    return [outbox.get(m.message_id) for m in OutboxMessage.select().order_by(OutboxMessage.id)]


def test_an_otp_is_queued_once_with_its_phone_and_language(client, clock):
    _received(_post(client, clock, _otp()))
    [message] = _messages()
    assert (message.kind, message.state, message.attempts) == ("sms", outbox.PENDING, 0)
    assert message.payload["to"] == "+50688887777"
    assert message.payload["type"] == "otp"
    assert message.payload["reference"] == message.message_id
    assert sms_texts.render(message.payload) == (
        "Tu código de verificación es 482913. No lo compartas con nadie."
    )


def test_an_otp_for_a_known_player_uses_the_players_language(client, clock):
    f.player(clock)  # msisdn 50688887777, lang es
    from gateway.store.models import Player

    Player.update(lang="en").execute()
    _received(_post(client, clock, _otp(msisdn="50688887777")))
    [message] = _messages()
    assert message.payload["to"] == "+50688887777"
    assert sms_texts.render(message.payload).startswith("Your verification code is 482913")


def test_the_same_notification_within_24_hours_is_accepted_and_queued_once(client, clock):
    _received(_post(client, clock, _otp()))
    clock.advance(3600)  # a new timestamp: a new signature, the same notification
    _received(_post(client, clock, _otp()))
    assert OutboxMessage.select().count() == 1
    clock.advance(23 * 3600 + 1)
    _received(_post(client, clock, _otp()))
    assert OutboxMessage.select().count() == 2
    assert SmsNotification.select().count() == 1


def test_a_different_code_is_a_new_message(client, clock):
    _received(_post(client, clock, _otp(code="111111")))
    _received(_post(client, clock, _otp(code="222222")))
    assert OutboxMessage.select().count() == 2


def test_an_integer_code_is_accepted(client, clock):
    _received(_post(client, clock, _otp(code=4829)))
    assert _messages()[0].payload["vars"] == {"code": "4829"}


def test_ticket_status_texts_the_tickets_player_in_their_language(client, clock):
    pid = f.player(clock, balance=10_000)
    resp = f.pam(client, clock, "ticket_create", f.ticket_data("T-77", pid))
    assert resp.status_code == 200, resp.text
    body = {
        "type": "ticket_status",
        "data": {"ticket_id": "T-77", "status": "resulted", "result": "won"},
    }
    _received(_post(client, clock, body))
    [message] = _messages()
    assert message.payload["to"] == "+50688887777"
    assert message.payload["reference"] == "T-77"
    assert sms_texts.render(message.payload) == "¡Felicidades! Tu boleto T-77 ganó 26.02 USD."
    from gateway.store.models import Player

    Player.update(lang="en").execute()
    clock.advance(1)
    lost = {
        "type": "ticket_status",
        "data": {"ticket_id": "T-77", "status": "resulted", "result": "lost"},
    }
    _received(_post(client, clock, lost))
    assert sms_texts.render(_messages()[1].payload) == "Your ticket T-77 did not win this time."


def test_ticket_status_of_an_unknown_ticket_is_102_and_queues_nothing(client, clock):
    body = {
        "type": "ticket_status",
        "data": {"ticket_id": "nope", "status": "open", "result": "pending"},
    }
    resp = _post(client, clock, body)
    assert resp.status_code == 400
    assert resp.json == {"code": 102, "message": "Ticket with `nope` identifier is not found"}
    assert OutboxMessage.select().count() == 0


def test_bet_result_is_not_implemented(client, clock):
    resp = _post(client, clock, {"type": "bet_result", "data": {}})
    assert resp.status_code == 400
    assert resp.json == {"code": 100, "message": "bet_result feature not implemented yet"}


@pytest.mark.parametrize(
    "body",
    [
        {"type": "fax", "data": {}},
        {"data": {}},
        {"type": "otp", "data": {"code": "12", "msisdn": "+50688887777"}},
        {"type": "otp", "data": {"code": "123456", "msisdn": "08888777"}},
        {"type": "otp", "data": {"code": True, "msisdn": "+50688887777"}},
        {"type": "otp", "data": {"code": "12\u0000345", "msisdn": "+50688887777"}},
        {"type": "otp", "data": {"code": "123456", "msisdn": "+5068888\ud8007777"}},
        {"type": "ticket_status", "data": {"ticket_id": "T", "status": "closed", "result": "won"}},
        {"type": "otp", "data": []},
        ["otp"],
    ],
)
def test_bad_notifications_are_108_and_write_nothing(client, clock, body):
    resp = _post(client, clock, body)
    assert resp.status_code == 400, resp.text
    assert resp.json["code"] == 108
    assert OutboxMessage.select().count() == 0


def test_deep_nesting_and_broken_json_are_108(client, clock):
    raw = b'{"type":"otp","data":' + b"[" * 5000 + b"]" * 5000 + b"}"
    from gateway.core.clock import unix
    from signing import betstack

    headers = betstack.signed_headers(
        f.SECRET, raw, timestamp=unix(clock.now()), operator=f.OPERATOR
    )
    resp = client.simulate_post(PATH, body=raw, headers=headers)
    assert (resp.status_code, resp.json["code"]) == (400, 108)
    assert OutboxMessage.select().count() == 0


def test_a_bad_signature_is_109_and_queues_nothing(client, clock):
    resp = _post(client, clock, _otp(), secret="wrong")
    assert resp.status_code == 403
    assert resp.json == {"code": 109, "message": "Invalid signature"}
    resp = _post(client, clock, _otp(), skew=-3600)
    assert resp.json == {"code": 109, "message": "Stale timestamp"}
    assert OutboxMessage.select().count() == 0


def test_a_replayed_request_answers_the_same_and_queues_nothing(client, clock):
    raw, headers = f.signed(_otp(), clock)
    _received(client.simulate_post(PATH, body=raw, headers=headers))
    _received(client.simulate_post(PATH, body=raw, headers=headers))
    assert OutboxMessage.select().count() == 1


def test_no_code_or_phone_in_the_logs(client, clock):
    with capture_logs() as logs:
        _received(_post(client, clock, _otp(code="739164", msisdn="+50670001234")))
        _post(client, clock, _otp(code="739164", msisdn="+50670001234"), secret="wrong")
    text = repr(logs)
    assert "739164" not in text
    assert "70001234" not in text


def test_concurrent_duplicates_queue_one_message(client, clock, app):
    if not is_postgres(database):
        pytest.skip("PostgreSQL only: concurrent transactions")
    import falcon.testing

    def arm(i: int):
        raw, headers = f.signed(_otp(), clock, skew=i)  # distinct signatures, same content
        test_client = falcon.testing.TestClient(app)
        return lambda: test_client.simulate_post(PATH, body=raw, headers=headers).status_code

    assert race(8, arm) == [200] * 8
    assert OutboxMessage.select().count() == 1
