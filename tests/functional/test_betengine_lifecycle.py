"""A Betstack ticket's whole life through `POST /pam` and `/be/tickets`, checking the wallet
after every step as the player would see it through `identify`."""

from __future__ import annotations

from tests import factories as f


def _balance(client, clock, token):
    resp = f.pam(client, clock, "identify", {"operator": f.OPERATOR, "token": token})
    assert resp.status_code == 200, resp.text
    return resp.json["balance"]


def test_reserve_paid_win_rollback_lost_closed(client, clock):
    pid = f.player(clock, balance=10_000)
    tok = f.token(clock, pid)
    assert _balance(client, clock, tok) == 10_000

    resp = f.pam(client, clock, "ticket_reserve", f.ticket_data("T-1", pid, psp="wallet"))
    assert (resp.status_code, resp.text) == (200, "")
    assert _balance(client, clock, tok) == 9_500  # held
    assert f.wallet(clock, pid).balance == 10_000  # balance unchanged by a hold

    clock.advance(1)
    resp = f.be(client, clock, "POST", "/be/tickets/T-1/paid")
    assert resp.status_code == 200, resp.text
    assert resp.json["status"] == "open"
    assert _balance(client, clock, tok) == 9_500
    assert f.wallet(clock, pid).balance == 9_500

    clock.advance(1)  # every step is a new message from the engine
    resp = f.pam(client, clock, "ticket_win", {"operator": f.OPERATOR, "ticket_id": "T-1"})
    assert (resp.status_code, resp.text) == (200, "")
    assert _balance(client, clock, tok) == 9_500 + 2602

    resp = f.pam(client, clock, "ticket_rollback", {"operator": f.OPERATOR, "ticket_id": "T-1"})
    assert resp.status_code == 200
    assert _balance(client, clock, tok) == 9_500
    got = f.be(client, clock, "GET", "/be/tickets/T-1").json
    assert (got["status"], got["result"]) == ("open", "pending")

    resp = f.pam(client, clock, "ticket_lost", {"operator": f.OPERATOR, "ticket_id": "T-1"})
    assert resp.status_code == 200
    assert _balance(client, clock, tok) == 9_500
    got = f.be(client, clock, "GET", "/be/tickets/T-1").json
    assert (got["status"], got["result"]) == ("resulted", "lost")

    resp = f.pam(client, clock, "ticket_closed", {"operator": f.OPERATOR, "ticket_id": "T-1"})
    assert resp.status_code == 200
    clock.advance(1)  # every step is a new message from the engine
    resp = f.pam(client, clock, "ticket_win", {"operator": f.OPERATOR, "ticket_id": "T-1"})
    assert resp.status_code == 400
    assert resp.json == {"code": 110, "message": "Ticket closed"}
    assert _balance(client, clock, tok) == 9_500
