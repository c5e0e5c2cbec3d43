"""The core reads and session functions the operator console added: ticket search by id or
code, one ticket's summary, the approvals list, console sessions and logout."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway.core import payouts, users
from gateway.core.audit import Actor
from gateway.core.commands import Context
from gateway.core.errors import Forbidden
from gateway.core.principal import ADMIN, Principal
from gateway.store.models import Ticket
from tests import factories as f
from tests.integration.test_ticket_payments import Shop, cashier, make_shop, pay_cmd, seller_of


@pytest.fixture
def shop(db: Any, clock: Any) -> Shop:
    return make_shop(clock)


def test_find_tickets_by_id_or_code_sees_only_the_callers_tickets(shop, clock):
    big = shop.winners["big"]
    found = payouts.find_tickets(cashier(shop), f"  {big.upper()} ")
    assert [t.id for t in found] == [big]
    assert found[0].status == "EVALUATED" and found[0].result == "won"
    assert found[0].remaining == found[0].payout > 0
    Ticket.update(code="ABC123").where(Ticket.id == big).execute()
    assert [t.id for t in payouts.find_tickets(cashier(shop), "abc123")] == [big]
    assert payouts.find_tickets(cashier(shop), "nothing") == []
    assert payouts.find_tickets(cashier(shop), "") == []
    with pytest.raises(Forbidden):
        payouts.find_tickets(cashier(shop, other=True), big)
    with pytest.raises(Forbidden):
        payouts.find_tickets(seller_of(shop, other=True), big)
    assert payouts.ticket_summary(seller_of(shop), big).id == big
    with pytest.raises(Forbidden):
        payouts.ticket_summary(cashier(shop, other=True), big)


def test_pending_approvals_lists_waiting_payments_for_admin_only(shop, clock):
    big = shop.winners["big"]
    payouts.pay(
        f.ctx(clock, "cashier-1"),
        cashier(shop),
        pay_cmd(big, 2_000_000, "pay-approval-1"),
        approval_threshold=1_000_000,
    )
    admin = Principal(user_id="admin-9", role=ADMIN)
    waiting = payouts.pending_approvals(admin)
    assert [(p.ticket_id, p.amount, p.pending_approval) for p in waiting] == [
        (big, 2_000_000, True)
    ]
    with pytest.raises(Forbidden):
        payouts.pending_approvals(cashier(shop))
    payouts.approve(f.ctx(clock, "admin-9"), admin, waiting[0].id)
    assert payouts.pending_approvals(admin) == []


def test_a_console_session_lives_until_logout_or_its_age(shop, clock):
    ctx = Context(actor=Actor("system"), now=clock.now())
    users.add_user(ctx, users.NewUser("cajero", "password-123", "VENTANA", ventana_id=shop.ventana))
    session = users.login(ctx, "cajero", "password-123")
    found = users.session_user(session.refresh_token, clock.now())
    assert found.username == "cajero" and found.principal.ventana_id == shop.ventana
    with pytest.raises(users.InvalidRefreshToken):
        users.session_user(
            session.refresh_token, clock.now() + users.CONSOLE_SESSION_TTL + dt.timedelta(1)
        )
    with pytest.raises(users.InvalidRefreshToken):
        users.session_user("not-a-token", clock.now())
    users.logout(ctx, session.refresh_token)
    with pytest.raises(users.InvalidRefreshToken):
        users.session_user(session.refresh_token, clock.now())
    # the family is revoked: the API's refresh refuses the same token too
    with pytest.raises(users.InvalidRefreshToken):
        users.refresh(ctx, session.refresh_token)
    users.logout(ctx, "unknown-token")  # nothing to end, no error
