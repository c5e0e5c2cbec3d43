"""Edge cases found in review (Betstack edge cases, state machine, bad input).

Each regression test names the bug it guards against; the others pin down behaviour that was
checked and found correct."""

from __future__ import annotations

import json

from gateway.core import reconcile
from gateway.store.models import Account, Entry, Hold, Ticket
from tests import factories as f


def _win_data(ticket_id: str) -> dict:
    return {"operator": f.OPERATOR, "ticket_id": ticket_id}


def test_rollback_of_refunded_reservation_must_not_reopen_an_unpaid_ticket(client, clock):
    """Regression (money created): `_rollback` (gateway/core/betengine/events.py) always moves
    the ticket back to OPEN. A `ticket_refund` of a RESERVED wallet ticket only released the
    hold (settlement with txn None, prev_status RESERVED); rolling it back marks it `.undone`
    and reopens the ticket as OPEN although the player never paid. A following `ticket_win` then
    credits the full payout for a bet that cost nothing."""
    pid = f.player(clock, balance=1_000)
    data = f.ticket_data("RB-R1", pid, psp="wallet")
    assert f.pam(client, clock, "ticket_reserve", data).status_code == 200
    assert f.pam(client, clock, "ticket_refund", _win_data("RB-R1")).status_code == 200
    assert f.wallet(clock, pid).available == 1_000
    f.pam(client, clock, "ticket_rollback", _win_data("RB-R1"))
    f.pam(client, clock, "ticket_win", _win_data("RB-R1"))
    bal = f.wallet(clock, pid)
    ticket = Ticket.get(Ticket.external_id == "RB-R1")
    # Either the ticket must not be open/won, or the player must have paid for it.
    assert ticket.status != "OPEN" or bal.balance + bal.held <= 1_000 - 500
    assert bal.balance <= 1_000 - 500 + 2602, (ticket.status, ticket.result, bal)


def test_update_of_zero_price_wallet_reservation_then_paid_must_charge_the_wallet(client, clock):
    """Regression (money created): a wallet reservation (`psp` empty/wallet) with price 0 gets no
    hold. `_on_update` only re-places a hold when `ticket.hold_id` is set, so an update of a
    jackpot reservation to price 500 places none; `mark_paid` then takes the
    `elif ticket.price > 0` branch and books the 500 to `psp:external:clearing` — the
    player's wallet is never debited or held (SPEC §3: psp empty/wallet holds `price`).
    Fix: in `_on_update`, for a RESERVED ticket whose psp is in WALLET_PSPS, release any old
    hold and place a new one for `new.price` whenever it is > 0 (regardless of hold_id)."""
    pid = f.player(clock, balance=1_000)
    data = f.ticket_data(
        "UPD-0", pid, psp="wallet", ticket_type="jackpot", price=0, stake=0, ext_amount=0
    )
    assert f.pam(client, clock, "ticket_reserve", data).status_code == 200
    upd = f.ticket_data("UPD-0", pid, psp="wallet", ticket_type="jackpot")
    assert f.pam(client, clock, "ticket_update", upd).status_code == 200
    after_update = f.wallet(clock, pid)
    resp = f.be(client, clock, "POST", "/be/tickets/UPD-0/paid")
    assert resp.status_code == 200
    assert after_update.available == 500, after_update
    assert f.wallet(clock, pid).balance == 500
    clearing = Account.get_or_none(Account.code == "psp:external:clearing:USD")
    assert clearing is None or not Entry.select().where(Entry.account == clearing.id).exists()


def test_paid_repeat_after_the_ticket_settled_still_answers_200(client, clock):
    """Regression (retry safety, SPEC §4 "A repeat on an already-paid ticket returns 200 with the
    same ticket"): `mark_paid` only treats a repeat as such when the ticket is still OPEN.
    Once the paid ticket was settled (lost → EVALUATED, won → PAID, closed …) a retried
    `/paid` answers 400 code 117, telling Betstack the payment failed.
    Fix: `if ticket.status != RESERVED: if _was_paid(ticket): return Done(200, …)`
    (whatever the current status)."""
    pid = f.player(clock, balance=1_000)
    assert (
        f.pam(client, clock, "ticket_reserve", f.ticket_data("PR-1", pid, psp="wallet")).status_code
        == 200
    )
    assert f.be(client, clock, "POST", "/be/tickets/PR-1/paid").status_code == 200
    assert f.pam(client, clock, "ticket_lost", _win_data("PR-1")).status_code == 200
    clock.advance(1)  # the engine's retry is a new message (a new timestamp)
    resp = f.be(client, clock, "POST", "/be/tickets/PR-1/paid")
    assert resp.status_code == 200, resp.text
    assert resp.json["status"] == "resulted"
    assert f.wallet(clock, pid).balance == 500


def test_amount_beyond_bigint_is_a_validation_error_not_500(client, clock):
    """Regression (500 to bad input): Betstack money fields are `Integer(strict, min=0)` with no
    upper bound. 10**19 cents overflows BIGINT: SQLite raises OverflowError binding it,
    PostgreSQL NumericValueOutOfRange at the ticket insert → 500 `internal_error`.
    Fix: `validate.Range(min=0, max=2**63 - 1)` (or a saner business cap, e.g. 10**15) in
    `schemas.cents()`; also bound sums in `Amounts.check` (price = stake + ext_amount)."""
    pid = f.player(clock, balance=1_000)
    big = 10**19
    data = f.ticket_data(
        "BIG-1",
        pid,
        price=big,
        stake=big,
        ext_amount=0,
        gross_payout=None,
        net_payout=0,
        wht_amount=0,
    )
    resp = f.pam(client, clock, "ticket_create", data)
    assert resp.status_code == 400, resp.text
    assert resp.json["code"] in (103, 108)


def test_long_rate_decimal_is_a_validation_error_not_500(client, clock):
    """Regression (500 to bad input, PostgreSQL only): `wht`/`ext` are `fields.Decimal` with no
    length limit but stored in `CharField(max_length=20)`; a rate such as
    `10.1234567890123456789` (22 chars) passes the schema and PostgreSQL refuses the
    insert (`value too long for type character varying(20)`) → 500. SQLite ignores
    VARCHAR lengths, so this passes there.
    Fix: bound the rates in the schema (e.g. `validate.Range(min=0, max=100)` plus a
    `places`/length check so `str(value)` fits 20 chars), or widen the column."""
    pid = f.player(clock, balance=1_000)
    body = {"action": "ticket_create", "data": f.ticket_data("RATE-1", pid)}
    raw = (
        json.dumps(body, separators=(",", ":"))
        .replace('"wht":10', '"wht":10.1234567890123456789')
        .encode()
    )
    from gateway.core.clock import unix
    from signing import betstack

    headers = betstack.signed_headers(
        f.SECRET, raw, timestamp=unix(clock.now()), operator=f.OPERATOR
    )
    headers["Content-Type"] = "application/json"
    resp = client.simulate_post("/pam", body=raw, headers=headers)
    assert resp.status_code in (200, 400), resp.text


def test_paid_with_long_identifier_is_not_500(client, clock):
    """Regression (500 to bad input, PostgreSQL only): `/be/tickets/{identifier}/paid` takes an
    unbounded identifier; the refusal is audited with `target_id=identifier` and
    `audit_record.target_id` is VARCHAR(120). PostgreSQL refuses the (deferred) insert at
    COMMIT of `record_rejection` → 500 instead of 400 code 102. The same applies to the
    signature-refusal audit (`target_id=req.path`, any long path under /pam, /be, /sms).
    Fix: truncate `target_id` (and other free-text audit columns) to the column width in
    `audit.append` (hash the truncated value), or validate identifier length (≤ 100) in
    the resource and answer 102/108."""
    pid = f.player(clock, balance=1_000)
    assert pid
    ident = "X" * 150
    resp = f.be(client, clock, "POST", f"/be/tickets/{ident}/paid")
    assert resp.status_code == 400, resp.text
    assert resp.json["code"] == 102


def test_rollback_of_refund_of_open_ticket_restores_the_debit(client, clock):
    """Checked, correct: refund of an OPEN ticket then rollback debits the refund again
    (the ticket is open and paid for)."""
    pid = f.player(clock, balance=1_000)
    assert f.pam(client, clock, "ticket_create", f.ticket_data("RB-O1", pid)).status_code == 200
    assert f.pam(client, clock, "ticket_refund", _win_data("RB-O1")).status_code == 200
    assert f.wallet(clock, pid).balance == 1_000
    assert f.pam(client, clock, "ticket_rollback", _win_data("RB-O1")).status_code == 200
    assert f.wallet(clock, pid).balance == 500
    assert Ticket.get(Ticket.external_id == "RB-O1").status == "OPEN"
    assert reconcile.reconcile().ok


def test_discard_after_win_rollback_refunds_the_stake_once(client, clock):
    """Checked, correct: create → win → rollback → discard gives back exactly the price."""
    pid = f.player(clock, balance=1_000)
    assert f.pam(client, clock, "ticket_create", f.ticket_data("DW-1", pid)).status_code == 200
    assert f.pam(client, clock, "ticket_win", _win_data("DW-1")).status_code == 200
    assert f.pam(client, clock, "ticket_rollback", _win_data("DW-1")).status_code == 200
    assert f.pam(client, clock, "ticket_discard", _win_data("DW-1")).status_code == 200
    assert f.wallet(clock, pid).balance == 1_000
    assert Hold.select().count() == 0
    assert reconcile.reconcile().ok


def test_repeated_rollback_does_not_swallow_the_next_generations_rollback(client, clock):
    """Regression (money lost/kept, idempotency): the idempotency key of a rollback is
    `ticket_rollback:{id}:{generation}` with the generation read *before* the rollback.
    A retried (or concurrent duplicate) rollback arrives after the first one bumped the
    generation to 1, finds nothing to undo, answers 200 — and stores that no-op result
    under `ticket_rollback:{id}:1`. When the ticket is re-settled (win at generation 1) and
    Betstack rolls that back, the key `ticket_rollback:{id}:1` replays the stored no-op:
    the second win is never reversed and the player keeps money the operator took back.
    Fix: a rollback with nothing to undo must not store an idempotency record (let `body`
    signal "don't complete"/raise a private no-op that `run` commits without `complete`),
    or key the rollback by the generation it *creates* and replay a no-op rollback from
    the previous generation's record."""
    pid = f.player(clock, balance=1_000)
    assert f.pam(client, clock, "ticket_create", f.ticket_data("RR-1", pid)).status_code == 200
    assert f.pam(client, clock, "ticket_win", _win_data("RR-1")).status_code == 200
    assert f.pam(client, clock, "ticket_rollback", _win_data("RR-1")).status_code == 200
    # Betstack retries the rollback (its first attempt timed out on its side), re-signed
    clock.advance(1)
    assert f.pam(client, clock, "ticket_rollback", _win_data("RR-1")).status_code == 200
    assert f.wallet(clock, pid).balance == 500
    # the ticket is settled again, then that settlement is rolled back
    clock.advance(1)
    assert f.pam(client, clock, "ticket_win", _win_data("RR-1")).status_code == 200
    assert f.wallet(clock, pid).balance == 500 + 2602
    assert f.pam(client, clock, "ticket_rollback", _win_data("RR-1")).status_code == 200
    ticket = Ticket.get(Ticket.external_id == "RR-1")
    assert (ticket.status, ticket.result) == ("OPEN", "pending")
    assert f.wallet(clock, pid).balance == 500


def test_ticket_list_with_huge_skip_is_not_500(client, clock):
    """Regression (500 to bad input): `GET /be/tickets` reads `skip` with `get_param_as_int(min=0)`
    and no upper bound; `skip=10**20` reaches OFFSET and overflows (SQLite OverflowError,
    PostgreSQL `bigint out of range`) → 500.
    Fix: `max_value=2**31 - 1` (or any sane cap) on `skip` in `TicketCollection.on_get`."""
    resp = f.be(client, clock, "GET", "/be/tickets?skip=100000000000000000000")
    assert resp.status_code in (200, 400), resp.text


def test_nul_character_in_a_string_field_is_not_500(client, clock):
    """Regression (500 to bad input, PostgreSQL only): Betstack string fields accept U+0000
    (`fields.String`); psycopg2 refuses NUL in a text parameter ("A string literal cannot
    contain NUL (0x00) characters", a ValueError) → 500 on PostgreSQL.
    Fix: reject `\\x00` in every Betstack string field (a shared validator in
    `schemas.TicketData`/`IdentifyData`, answering 108), or strip it at `_parse`."""
    pid = f.player(clock, balance=1_000)
    resp = f.pam(client, clock, "ticket_create", f.ticket_data("NUL-1", pid, atag="a\x00b"))
    assert resp.status_code in (200, 400), resp.text
