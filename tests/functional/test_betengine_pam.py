"""`POST /pam`: every action and every error code of SPEC section 3."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from gateway.store.models import AuditRecord, Ticket
from tests import factories as f

OP = f.OPERATOR


@pytest.fixture
def funded(clock):
    pid = f.player(clock, balance=10_000)
    return pid, f.token(clock, pid)


def _ok(resp):
    assert (resp.status_code, resp.text) == (200, ""), resp.text


def _err(resp, status, code):
    assert resp.status_code == status, resp.text
    assert resp.json["code"] == code, resp.json
    return resp.json


def test_ping_needs_no_signature(client):
    resp = client.simulate_post("/pam", body=b'{"action":"ping","data":{}}')
    assert resp.status_code == 200
    assert resp.json == {"status": "ok"}


def test_identify_returns_player_and_available_balance(client, clock, funded):
    pid, tok = funded
    resp = f.pam(client, clock, "identify", {"operator": OP, "token": tok})
    assert resp.status_code == 200
    assert resp.json == {
        "player_id": pid,
        "lang": "es",
        "balance": 10_000,
        "currency": "USD",
        "feature_flags": {},
    }


def test_identify_with_bad_or_expired_token_is_101(client, clock, funded):
    _, tok = funded
    _err(f.pam(client, clock, "identify", {"operator": OP, "token": "nope"}), 403, 101)
    clock.advance(25 * 3600)
    _err(f.pam(client, clock, "identify", {"operator": OP, "token": tok}), 403, 101)


def test_ticket_create_debits_price_and_books_excise(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("C-1", pid)))
    assert f.wallet(clock, pid).balance == 9_500
    ticket = f.be(client, clock, "GET", "/be/tickets/C-1").json
    assert ticket["status"] == "open" and ticket["price"] == 500 and ticket["ext"] == 12.5


def test_ticket_create_accepts_the_older_money_model(client, clock, funded):
    pid, _ = funded
    data = {
        "operator": OP,
        "ticket_id": "OLD-1",
        "player_id": pid,
        "currency": "USD",
        "stake": 300,
        "tax": 20,
        "payout": 900,
    }
    _ok(f.pam(client, clock, "ticket_create", data))
    assert f.wallet(clock, pid).balance == 9_700
    _ok(f.pam(client, clock, "ticket_win", {"operator": OP, "ticket_id": "OLD-1"}))
    assert f.wallet(clock, pid).balance == 9_700 + 900


def test_ticket_create_short_of_funds_is_103_and_writes_nothing(client, clock, funded):
    pid, _ = funded
    _err(
        f.pam(
            client, clock, "ticket_create", f.ticket_data("C-2", pid, price=20_056, stake=20_000)
        ),
        400,
        103,
    )
    assert f.wallet(clock, pid).balance == 10_000
    assert Ticket.select().count() == 0


def test_unknown_action_is_100(client, clock, funded):
    body = _err(f.pam(client, clock, "ticket_teleport", {"operator": OP}), 400, 100)
    assert body["message"] == "ticket_teleport feature not implemented yet"


def test_create_for_unknown_player_is_101(client, clock):
    _err(f.pam(client, clock, "ticket_create", f.ticket_data("C-3", "ghost")), 403, 101)


def test_win_on_unknown_ticket_is_102(client, clock):
    body = _err(f.pam(client, clock, "ticket_win", {"operator": OP, "ticket_id": "NOPE"}), 400, 102)
    assert body["message"] == "Ticket with `NOPE` identifier is not found"


def test_repeat_create_is_answered_once_and_moves_money_once(client, clock, funded):
    pid, _ = funded
    for _ in range(3):
        _ok(f.pam(client, clock, "ticket_create", f.ticket_data("C-4", pid)))
    assert f.wallet(clock, pid).balance == 9_500


def test_create_again_with_other_amounts_is_104(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("C-5", pid)))
    _err(
        f.pam(client, clock, "ticket_create", f.ticket_data("C-5", pid, price=600, stake=544)),
        400,
        104,
    )
    assert f.wallet(clock, pid).balance == 9_500


def test_currency_other_than_the_players_is_105(client, clock, funded):
    pid, _ = funded
    _err(f.pam(client, clock, "ticket_create", f.ticket_data("C-6", pid, currency="EUR")), 400, 105)


def test_blocked_player_is_106(client, clock, funded):
    from gateway.core import players

    pid, tok = funded
    players.set_blocked(f.ctx(clock), f.ADMIN_USER, pid, True)
    _err(f.pam(client, clock, "identify", {"operator": OP, "token": tok}), 400, 106)
    _err(f.pam(client, clock, "ticket_create", f.ticket_data("C-7", pid)), 400, 106)


def test_update_of_a_non_jackpot_ticket_is_107(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("C-8", pid)))
    _err(
        f.pam(client, clock, "ticket_update", f.ticket_data("C-8", pid, price=700, stake=644)),
        400,
        107,
    )


def test_jackpot_update_adjusts_the_debit_by_the_difference(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("J-1", pid, ticket_type="jackpot")))
    _ok(
        f.pam(
            client,
            clock,
            "ticket_update",
            f.ticket_data("J-1", pid, ticket_type="jackpot", price=800, stake=744),
        )
    )
    assert f.wallet(clock, pid).balance == 9_200
    _err(
        f.pam(
            client,
            clock,
            "ticket_update",
            f.ticket_data("J-1", pid, ticket_type="jackpot", price=900, stake=844),
        ),
        400,
        104,
    )


def test_jackpot_update_short_of_funds_is_103(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("J-2", pid, ticket_type="jackpot")))
    _err(
        f.pam(
            client,
            clock,
            "ticket_update",
            f.ticket_data("J-2", pid, ticket_type="jackpot", price=50_056, stake=50_000),
        ),
        400,
        103,
    )
    assert f.wallet(clock, pid).balance == 9_500


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"price": -1}, "price"),
        ({"price": "500"}, "price"),
        ({"currency": "US"}, "currency"),
        ({"net_payout": 3000}, "net_payout"),
        ({"ticket_code": 7}, "ticket_code"),
    ],
)
def test_invalid_payloads_are_108_with_details(client, clock, funded, override, field):
    pid, _ = funded
    body = _err(
        f.pam(client, clock, "ticket_create", f.ticket_data("C-9", pid, **override)), 400, 108
    )
    assert body["message"] == "Invalid request"
    assert field in body["details"]


def test_price_must_equal_stake_plus_excise(client, clock, funded):
    pid, _ = funded
    _err(f.pam(client, clock, "ticket_create", f.ticket_data("C-10", pid, stake=400)), 400, 108)


def test_unknown_fields_are_ignored_and_kept(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("C-11", pid, shiny_new_field=1)))
    assert json.loads(Ticket.get(Ticket.external_id == "C-11").raw)["shiny_new_field"] == 1


def test_actions_on_a_closed_ticket_are_110(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("C-12", pid)))
    _ok(f.pam(client, clock, "ticket_lost", {"operator": OP, "ticket_id": "C-12"}))
    _ok(f.pam(client, clock, "ticket_closed", {"operator": OP, "ticket_id": "C-12"}))
    _ok(f.pam(client, clock, "ticket_closed", {"operator": OP, "ticket_id": "C-12"}))  # repeat
    _err(f.pam(client, clock, "ticket_refund", {"operator": OP, "ticket_id": "C-12"}), 400, 110)


def test_paid_on_a_ticket_that_is_not_reserved_is_117(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("C-13", pid)))
    body = _err(f.be(client, clock, "POST", "/be/tickets/C-13/paid"), 400, 117)
    assert body["message"] == "Ticket has to have `reserved` status in order to do this action"


def test_win_credits_net_payout_and_books_withholding(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("W-1", pid)))
    _ok(f.pam(client, clock, "ticket_win", {"operator": OP, "ticket_id": "W-1"}))
    _ok(f.pam(client, clock, "ticket_win", {"operator": OP, "ticket_id": "W-1"}))  # repeat
    assert f.wallet(clock, pid).balance == 9_500 + 2602
    from gateway.core import accounts, ledger

    wht = ledger.balance_of(accounts.withholding_tax("USD", clock.now()))
    assert wht.balance == 240


def test_win_repeated_with_other_amounts_is_104(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("W-2", pid)))
    _ok(f.pam(client, clock, "ticket_win", f.ticket_data("W-2", pid)))
    _err(
        f.pam(
            client,
            clock,
            "ticket_win",
            f.ticket_data("W-2", pid, net_payout=2000, gross_payout=2240),
        ),
        400,
        104,
    )


def test_lost_moves_no_money(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("L-1", pid)))
    _ok(f.pam(client, clock, "ticket_lost", {"operator": OP, "ticket_id": "L-1"}))
    assert f.wallet(clock, pid).balance == 9_500
    assert f.be(client, clock, "GET", "/be/tickets/L-1").json["result"] == "lost"


def test_void_refunds_what_the_player_paid(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("V-1", pid)))
    _ok(f.pam(client, clock, "ticket_void", {"operator": OP, "ticket_id": "V-1"}))
    assert f.wallet(clock, pid).balance == 10_000
    got = f.be(client, clock, "GET", "/be/tickets/V-1").json
    assert (got["status"], got["result"]) == ("resulted", "void")


def test_void_with_net_payout_refunds_that_amount(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("V-2", pid)))
    _ok(
        f.pam(client, clock, "ticket_void", {"operator": OP, "ticket_id": "V-2", "net_payout": 444})
    )
    assert f.wallet(clock, pid).balance == 9_944


def test_refund_credits_back_and_cancels(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("R-1", pid)))
    _ok(f.pam(client, clock, "ticket_refund", {"operator": OP, "ticket_id": "R-1"}))
    _ok(f.pam(client, clock, "ticket_refund", {"operator": OP, "ticket_id": "R-1"}))
    assert f.wallet(clock, pid).balance == 10_000
    assert f.be(client, clock, "GET", "/be/tickets/R-1").json["status"] == "cancelled"


def test_discard_of_an_open_ticket_undoes_the_debit(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("D-1", pid)))
    _ok(f.pam(client, clock, "ticket_discard", {"operator": OP, "ticket_id": "D-1"}))
    assert f.wallet(clock, pid).balance == 10_000


def test_discard_of_a_reservation_releases_the_hold(client, clock, funded):
    pid, _tok = funded
    _ok(f.pam(client, clock, "ticket_reserve", f.ticket_data("D-2", pid)))
    assert f.wallet(clock, pid).available == 9_500
    _ok(f.pam(client, clock, "ticket_discard", {"operator": OP, "ticket_id": "D-2"}))
    assert f.wallet(clock, pid).available == 10_000


def test_discard_of_unknown_ticket_leaves_a_tombstone(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_discard", {"operator": OP, "ticket_id": "D-3"}))
    _err(f.pam(client, clock, "ticket_create", f.ticket_data("D-3", pid)), 400, 104)
    assert f.wallet(clock, pid).balance == 10_000


def test_rollback_of_a_win_can_leave_player_debt(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("B-1", pid)))
    _ok(f.pam(client, clock, "ticket_win", {"operator": OP, "ticket_id": "B-1"}))
    from gateway.core import players

    players.move_cash(
        f.ctx(clock),
        f.ADMIN_USER,
        players.CashMovement(
            player_id=pid, amount=12_000, method="cash", idempotency_key="take-it-all"
        ),
        deposit=False,
    )
    _ok(f.pam(client, clock, "ticket_rollback", {"operator": OP, "ticket_id": "B-1"}))
    assert f.wallet(clock, pid).balance == 9_500 + 2602 - 12_000 - 2602
    from gateway.core import reconcile

    report = reconcile.reconcile()
    assert report.ok
    assert report.warnings


def test_rollback_with_nothing_to_undo_is_200(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("B-2", pid)))
    _ok(f.pam(client, clock, "ticket_rollback", {"operator": OP, "ticket_id": "B-2"}))
    assert f.wallet(clock, pid).balance == 9_500


def test_win_after_rollback_is_a_new_generation(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("B-3", pid)))
    _ok(f.pam(client, clock, "ticket_win", {"operator": OP, "ticket_id": "B-3"}))
    _ok(f.pam(client, clock, "ticket_rollback", {"operator": OP, "ticket_id": "B-3"}))
    clock.advance(1)  # a new message: the same bytes again would be answered, not run
    _ok(f.pam(client, clock, "ticket_win", {"operator": OP, "ticket_id": "B-3"}))
    assert f.wallet(clock, pid).balance == 9_500 + 2602


def test_reservation_expires_and_releases_the_hold(client, clock, funded):
    from gateway.core import betengine

    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_reserve", f.ticket_data("E-1", pid)))
    clock.advance(1801)
    assert betengine.expire_reservations(clock.now()) == 1
    assert f.wallet(clock, pid).available == 10_000
    assert f.be(client, clock, "GET", "/be/tickets/E-1").json["status"] == "expired"
    clock.advance(1)  # a body-less POST may not reuse the GET's signature of this second
    _err(f.be(client, clock, "POST", "/be/tickets/E-1/paid"), 400, 117)


def test_paid_after_the_deadline_expires_then_refuses(client, clock, funded):
    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_reserve", f.ticket_data("E-2", pid)))
    clock.advance(1801)
    _err(f.be(client, clock, "POST", "/be/tickets/E-2/paid"), 400, 117)
    assert f.wallet(clock, pid).available == 10_000


def test_reserve_with_external_psp_books_clearing_on_paid(client, clock, funded):
    from gateway.core import accounts, ledger

    pid, _ = funded
    _ok(f.pam(client, clock, "ticket_reserve", f.ticket_data("P-1", pid, psp="mpesa")))
    assert f.wallet(clock, pid).available == 10_000
    resp = f.be(client, clock, "POST", "/be/tickets/P-1/paid")
    assert resp.json["status"] == "open" and resp.json["psp"] == "mpesa"
    assert f.wallet(clock, pid).balance == 10_000
    clearing = ledger.balance_of(accounts.psp_clearing("mpesa", "USD", clock.now()))
    assert clearing.balance == 500
    again = f.be(client, clock, "POST", "/be/tickets/P-1/paid")
    assert again.status_code == 200 and again.json == resp.json | {"updated": again.json["updated"]}


def test_another_operators_operator_field_is_refused(client, clock, funded):
    pid, _ = funded
    resp = f.pam(client, clock, "ticket_create", f.ticket_data("X-1", pid, operator="other"))
    assert resp.status_code == 403 and resp.json["code"] == 109


def test_refusals_are_audited_and_successes_too(client, clock, funded):
    pid, _ = funded
    f.pam(client, clock, "ticket_create", f.ticket_data("A-1", pid, currency="EUR"))
    _ok(f.pam(client, clock, "ticket_create", f.ticket_data("A-1", pid)))
    results = [r.result for r in AuditRecord.select().where(AuditRecord.target_id == "A-1")]
    assert results == ["rejected:currency_mismatch", "ok"]


def test_logs_carry_partner_and_no_secrets(client, clock, funded):
    _pid, tok = funded
    with capture_logs() as logs:
        f.pam(client, clock, "identify", {"operator": OP, "token": tok})
    line = next(e for e in logs if e["event"] == "http_request")
    assert line["partner"] == "betstack-demo"
    assert tok not in json.dumps(logs, default=str)
