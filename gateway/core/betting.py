"""Bet-engine tickets: the commands a bet engine (Betstack) sends, on the one ticket model.

Each command locks the ticket row first (ordering concurrent callbacks of one ticket), then
claims its idempotency key `(operator, action, ticket, settlement generation)`, then moves
money through the ledger and the ticket through the state machine. A repeat returns the
stored result and moves nothing; the same action with other amounts is `DuplicateTicket`.
Results are `{}` (the adapter answers 200 with an empty body).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from peewee import IntegrityError

from gateway.core import accounts, audit, ledger, tickets
from gateway.core.audit import Actor
from gateway.core.commands import Context, Done, IdemKey, Outcome, after_refusal, run
from gateway.core.errors import (
    CurrencyMismatch,
    DuplicateTicket,
    Forbidden,
    Invalid,
    InvalidTransition,
    NotReserved,
    PlayerBlocked,
    TicketClosed,
    TicketNotFound,
)
from gateway.core.idempotency import fingerprint
from gateway.core.players import resolve_player
from gateway.store import fastsql
from gateway.store.database import database, locked, unit_of_work
from gateway.store.models import Hold, Settlement, Ticket

CHANNEL = "betengine"
WALLET_PSPS = ("", "wallet")
SETTLING = ("ticket_win", "ticket_lost", "ticket_void", "ticket_refund")


@dataclass(frozen=True)
class Amounts:
    price: int
    stake: int
    gross_payout: int = 0
    net_payout: int = 0
    wht_amount: int = 0
    ext_amount: int = 0
    wht: str | None = None
    ext: str | None = None
    ext_type: str | None = None

    def fields(self) -> dict[str, Any]:
        """The amounts as a plain dict (cheaper than `dataclasses.asdict`'s deep copy)."""
        return dict(self.__dict__)

    def check(self) -> None:
        money = (self.price, self.stake, self.gross_payout, self.net_payout, self.wht_amount,
                 self.ext_amount)
        if any(v < 0 for v in money):
            raise Invalid("amounts must not be negative", field="price")
        if self.net_payout > self.gross_payout:
            raise Invalid("net_payout must not exceed gross_payout", field="net_payout")
        if self.price != self.stake + self.ext_amount:
            raise Invalid("price must equal stake + ext_amount", field="price")
        if self.gross_payout and self.gross_payout != self.net_payout + self.wht_amount:
            raise Invalid("gross_payout must equal net_payout + wht_amount", field="gross_payout")


@dataclass(frozen=True)
class PlaceTicket:
    """`ticket_create` (reserve=False) or `ticket_reserve` (reserve=True)."""

    operator: str
    ticket_id: str
    player_ref: str
    currency: str
    amounts: Amounts
    reserve: bool = False
    code: str | None = None
    type: str | None = None
    psp: str | None = None
    atag: str | None = None
    rtag: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketEvent:
    """Any later action on an existing ticket."""

    operator: str
    action: str  # ticket_update | ticket_win | ... | ticket_closed
    ticket_id: str
    amounts: Amounts | None = None  # ticket_update: the new amounts
    refund: int | None = None  # ticket_void: net_payout of the message, when > 0
    currency: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def money_fingerprint(self) -> str:
        return fingerprint({"amounts": self.amounts.fields() if self.amounts else None,
                            "refund": self.refund, "currency": self.currency})


def _without_token(raw: dict[str, Any], player: Any) -> dict[str, Any]:
    """The partner's message as kept on the ticket; a player token used as `player_id` is
    replaced by the player id (tokens are stored only as hashes)."""
    ref = raw.get("player_id")
    if ref is None or ref in (player.id, player.external_id):
        return raw
    return {**raw, "player_id": player.id}


def _scope(operator: str) -> str:
    return f"betstack:{operator}"


def _lock_ticket(operator: str, ticket_id: str) -> Ticket | None:
    return locked(
        Ticket.select().where(
            (Ticket.channel == CHANNEL) & (Ticket.operator == operator)
            & (Ticket.external_id == ticket_id)
        )
    ).first()


def _save(ticket: Ticket, now: dt.datetime) -> None:
    ticket.updated_at = now
    ticket.save()


_FK_COLUMNS = ("player_id", "banca_id", "ventana_id", "vendedor_id", "hold_id")


def _settle(ticket: Ticket, action: str, txn: Any, prev_status: str, prev_result: str,
            now: dt.datetime) -> None:
    fastsql.insert_later("settlement", {
        "ticket_id": ticket.id, "generation": ticket.generation, "action": action,
        "txn_id": txn.id if txn is not None else None, "reversed_by_id": None,
        "prev_status": prev_status, "prev_result": prev_result, "created_at": now,
    })


def _stake_legs(ticket: Ticket, sign: int, now: dt.datetime) -> list[ledger.Leg]:
    """Credit (sign=-1) or debit back (sign=+1) the stake and excise of a ticket."""
    return [
        ledger.Leg(accounts.stakes(ticket.operator, ticket.currency, now), sign * ticket.stake),
        ledger.Leg(accounts.excise_tax(ticket.currency, now), sign * ticket.ext_amount),
    ]


def _wallet(ticket: Ticket, now: dt.datetime) -> Any:
    return accounts.player_wallet(ticket.player_id, ticket.currency, now)


def _payer(ticket: Ticket, now: dt.datetime) -> Any:
    """The account the stake came from, where refunds and adjustments go back: the wallet,
    or the clearing account of the PSP that paid (never the player's withdrawable wallet)."""
    if (ticket.psp or "") in WALLET_PSPS:
        return _wallet(ticket, now)
    return accounts.psp_clearing(ticket.psp, ticket.currency, now)


# --- ticket_create / ticket_reserve ----------------------------------------------------


def place(ctx: Context, cmd: PlaceTicket, *, reserve_ttl_s: int) -> Outcome:
    action = "ticket_reserve" if cmd.reserve else "ticket_create"
    cmd.amounts.check()
    fp = fingerprint({"player": cmd.player_ref, "currency": cmd.currency, "type": cmd.type,
                      "psp": cmd.psp or "", "amounts": cmd.amounts.fields()})
    idem = IdemKey(_scope(cmd.operator), f"{action}:{cmd.ticket_id}:0", fp)

    def body() -> Done:
        player = resolve_player(cmd.operator, cmd.player_ref, ctx.now)
        if player.blocked:
            raise PlayerBlocked("player blocked")
        if player.currency != cmd.currency:
            raise CurrencyMismatch("currency mismatch")
        a = cmd.amounts
        row = {
            "id": str(uuid.uuid4()), "channel": CHANNEL, "operator": cmd.operator,
            "external_id": cmd.ticket_id, "code": cmd.code, "player_id": player.id,
            "banca_id": None, "ventana_id": None, "vendedor_id": None, "type": cmd.type,
            "currency": cmd.currency,
            "status": tickets.RESERVED if cmd.reserve else tickets.OPEN,
            "result": tickets.PENDING, "price": a.price, "stake": a.stake,
            "gross_payout": a.gross_payout, "net_payout": a.net_payout,
            "wht_amount": a.wht_amount, "wht": a.wht, "ext_amount": a.ext_amount, "ext": a.ext,
            "ext_type": a.ext_type, "psp": cmd.psp or "", "atag": cmd.atag, "rtag": cmd.rtag,
            "payout": 0, "paid_amount": 0, "generation": 0, "hold_id": None,
            "expires_at": (ctx.now + dt.timedelta(seconds=reserve_ttl_s)) if cmd.reserve
            else None,
            "tombstone": False, "fingerprint": fp,
            "raw": json.dumps(_without_token(cmd.raw, player), separators=(",", ":"),
                              default=str),
            "created_at": ctx.now, "updated_at": ctx.now,
        }
        if not fastsql.insert_ignore("ticket", row):
            raise DuplicateTicket("duplicate ticket with different data")
        ticket = Ticket(**{k.removesuffix("_id") if k in _FK_COLUMNS else k: v
                           for k, v in row.items()})
        wallet = accounts.player_wallet(player.id, player.currency, ctx.now)
        if cmd.reserve:
            if (cmd.psp or "") in WALLET_PSPS and ticket.price > 0:
                hold = ledger.place_hold(wallet, ticket.price, now=ctx.now,
                                         expires_at=ticket.expires_at, reference=ticket.id)
                fastsql.defer("UPDATE ticket SET hold_id = %s WHERE id = %s",
                                (hold.id, ticket.id))
        elif ticket.price > 0:
            txn = ledger.post("bet.stake", [ledger.Leg(wallet, ticket.price),
                                            *_stake_legs(ticket, -1, ctx.now)],
                              now=ctx.now, reference=ticket.id, actor=ctx.actor.id,
                              request_id=ctx.request_id)
            _settle(ticket, "ticket_create", txn, tickets.OPEN, tickets.PENDING, ctx.now)
        return Done(200, {}, details={"ticket_uuid": ticket.id})

    return run(ctx, action, body, target_type="ticket", target_id=cmd.ticket_id, idem=idem)


# --- paid (reserved → open) --------------------------------------------------------------


def _find(operator: str, identifier: str, *, lock: bool = False) -> Ticket:
    """A ticket by id or code; another operator's ticket is Forbidden (403), none is 102."""
    query = Ticket.select().where(
        (Ticket.channel == CHANNEL) & (Ticket.tombstone == False)  # noqa: E712
        & ((Ticket.external_id == identifier) | (Ticket.code == identifier))
    ).order_by(Ticket.created_at.desc())
    rows = list(locked(query) if lock else query)
    if not rows:
        raise TicketNotFound(f"Ticket with `{identifier}` identifier is not found",
                             identifier=identifier)
    own = [t for t in rows if t.operator == operator]
    if not own:
        raise Forbidden("ticket belongs to another operator")
    return own[0]


def mark_paid(ctx: Context, operator: str, identifier: str) -> Ticket:
    """`POST /be/tickets/{identifier}/paid`: post the hold or book the PSP payment."""
    state: dict[str, Ticket] = {}

    def body() -> Done:
        ticket = _find(operator, identifier, lock=True)
        state["ticket"] = ticket
        if ticket.status == tickets.RESERVED and ticket.expires_at is not None \
                and ticket.expires_at <= ctx.now:
            # overdue: refused, and expired (released) even though this request rolls back
            after_refusal(lambda: _expire_if_due(operator, identifier, ctx.now))
            raise NotReserved("Ticket has to have `reserved` status in order to do this action")
        if ticket.status != tickets.RESERVED:
            if _was_paid(ticket):  # a repeat, whatever happened to the ticket since
                return Done(200, {"repeat": True})
            raise NotReserved("Ticket has to have `reserved` status in order to do this action")
        if ticket.hold_id:
            hold = Hold.get_by_id(ticket.hold_id)
            txn = ledger.post_hold(hold, ticket.price, _stake_legs(ticket, -1, ctx.now),
                                   kind="bet.stake", now=ctx.now, reference=ticket.id,
                                   actor=ctx.actor.id, request_id=ctx.request_id)
        elif ticket.price > 0:
            clearing = accounts.psp_clearing(ticket.psp or "external", ticket.currency, ctx.now)
            txn = ledger.post("bet.stake.psp", [ledger.Leg(clearing, ticket.price),
                                                *_stake_legs(ticket, -1, ctx.now)],
                              now=ctx.now, reference=ticket.id, actor=ctx.actor.id,
                              request_id=ctx.request_id)
        else:
            txn = None
        tickets.move(ticket, tickets.OPEN)
        ticket.expires_at = None
        _save(ticket, ctx.now)
        _settle(ticket, "paid", txn, tickets.RESERVED, tickets.PENDING, ctx.now)
        return Done(200, {}, details={"ticket_uuid": ticket.id})

    run(ctx, "ticket_paid", body, target_type="ticket", target_id=identifier)
    return Ticket.get_by_id(state["ticket"].id)


def _expire_if_due(operator: str, identifier: str, now: dt.datetime) -> None:
    """Expire this reservation if it is past its deadline (`paid` found it overdue)."""
    with unit_of_work(database):
        ticket = locked(Ticket.select().where(
            (Ticket.channel == CHANNEL) & (Ticket.operator == operator)
            & (Ticket.status == tickets.RESERVED) & (Ticket.expires_at <= now)
            & ((Ticket.external_id == identifier) | (Ticket.code == identifier))
        )).first()
        if ticket is not None:
            _expire(ticket, now)


def _was_paid(ticket: Ticket) -> bool:
    return Settlement.select().where(
        (Settlement.ticket == ticket.id) & (Settlement.action == "paid")
    ).exists()


# --- expiry ------------------------------------------------------------------------------


def _expire(ticket: Ticket, now: dt.datetime) -> None:
    """RESERVED → EXPIRED, its wallet hold released as expired, audited (system actor)."""
    _release(ticket, now, expired=True)
    tickets.move(ticket, tickets.EXPIRED)
    _save(ticket, now)
    audit.append(Actor("system", "expiry"), "ticket_expire", now=now,
                 target_type="ticket", target_id=ticket.external_id)


def expire_reservations(now: dt.datetime, *, limit: int = 200) -> int:
    """Expire reservations past their deadline; safe to run on many hosts at once."""
    with unit_of_work(database):
        due = list(locked(
            Ticket.select().where(
                (Ticket.status == tickets.RESERVED) & (Ticket.expires_at <= now)
            ).order_by(Ticket.expires_at).limit(limit),
            skip_locked=True,
        ))
        for ticket in due:
            _expire(ticket, now)
    return len(due)


# --- events on existing tickets ------------------------------------------------------------


def handle(ctx: Context, event: TicketEvent) -> Outcome:
    """Every action after create/reserve. Unknown ticket → TicketNotFound (Betstack retries),
    except `ticket_discard`, which leaves a tombstone."""
    if event.amounts is not None:
        event.amounts.check()
    handler = _HANDLERS.get(event.action)
    if handler is None:
        raise Invalid(f"unknown action {event.action}")
    state: dict[str, Any] = {}

    def lock() -> None:
        ticket = _lock_ticket(event.operator, event.ticket_id)
        if ticket is None and event.action == "ticket_discard":
            ticket = _tombstone(ctx, event)
        if ticket is None or (ticket.tombstone and event.action != "ticket_discard"):
            # a tombstone only answers discards; for everything else the ticket is unknown
            raise TicketNotFound(f"Ticket with `{event.ticket_id}` identifier is not found",
                                 ticket=event.ticket_id)
        state["ticket"] = ticket
        state["generation"] = ticket.generation

    def body() -> Done:
        ticket: Ticket = state["ticket"]
        if ticket.status == tickets.CLOSED:
            raise TicketClosed("ticket closed")
        if event.currency and event.currency != ticket.currency and not ticket.tombstone:
            raise CurrencyMismatch("currency mismatch")
        changed = handler(ctx, ticket, event)
        return Done(200, {}, details={"ticket_uuid": ticket.id,
                                      "generation": state["generation"]},
                    remember=changed is not False)

    def key() -> IdemKey:
        # the key names the settlement generation, known once the ticket row is locked
        return IdemKey(_scope(event.operator),
                       f"{event.action}:{event.ticket_id}:{state['generation']}",
                       event.money_fingerprint())

    return run(ctx, event.action, body, target_type="ticket", target_id=event.ticket_id,
               idem=key, before_claim=lock)


def _tombstone(ctx: Context, event: TicketEvent) -> Ticket:
    ticket = Ticket(
        id=str(uuid.uuid4()), channel=CHANNEL, operator=event.operator,
        external_id=event.ticket_id, currency=event.currency or "", status=tickets.CANCELLED,
        result=tickets.PENDING, tombstone=True,
        raw=json.dumps(event.raw, separators=(",", ":"), default=str),
        created_at=ctx.now, updated_at=ctx.now,
    )
    try:
        with database.atomic():
            ticket.save(force_insert=True)
    except IntegrityError:  # the ticket was created meanwhile: discard that one
        found = _lock_ticket(event.operator, event.ticket_id)
        assert found is not None
        return found
    return ticket


def _require(ticket: Ticket, *statuses: str) -> None:
    if ticket.status not in statuses:
        raise InvalidTransition(f"ticket is {ticket.status}", ticket=ticket.id)


def _on_update(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    if (ticket.type or "").lower() != "jackpot":
        raise InvalidTransition("only jackpot tickets can be updated")
    _require(ticket, tickets.OPEN, tickets.RESERVED)
    new = event.amounts
    if new is None:
        raise Invalid("ticket_update needs the new amounts")
    d_price, d_stake, d_ext = (new.price - ticket.price, new.stake - ticket.stake,
                               new.ext_amount - ticket.ext_amount)
    if ticket.status == tickets.RESERVED and (ticket.psp or "") in WALLET_PSPS:
        if ticket.hold_id:
            _release(ticket, ctx.now)
        if new.price > 0:
            hold = ledger.place_hold(_wallet(ticket, ctx.now), new.price, now=ctx.now,
                                     expires_at=ticket.expires_at, reference=ticket.id)
            ticket.hold = hold.id
        else:
            ticket.hold = None
    elif ticket.status == tickets.OPEN and (d_price or d_stake or d_ext):
        txn = ledger.post("bet.stake.adjust", [
            ledger.Leg(_payer(ticket, ctx.now), d_price),
            ledger.Leg(accounts.stakes(ticket.operator, ticket.currency, ctx.now), -d_stake),
            ledger.Leg(accounts.excise_tax(ticket.currency, ctx.now), -d_ext),
        ], now=ctx.now, reference=ticket.id, actor=ctx.actor.id, request_id=ctx.request_id)
        _settle(ticket, "ticket_update", txn, ticket.status, ticket.result, ctx.now)
    for name, value in new.fields().items():
        setattr(ticket, name, value)
    _save(ticket, ctx.now)


def _on_win(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    _require(ticket, tickets.OPEN)
    prev_status, prev_result = ticket.status, ticket.result
    net, wht = ticket.net_payout, ticket.wht_amount
    txn = None
    if net or wht:
        txn = ledger.post("bet.win", [
            ledger.Leg(accounts.payouts(ticket.operator, ticket.currency, ctx.now), net + wht),
            ledger.Leg(_wallet(ticket, ctx.now), -net),
            ledger.Leg(accounts.withholding_tax(ticket.currency, ctx.now), -wht),
        ], now=ctx.now, reference=ticket.id, actor=ctx.actor.id, request_id=ctx.request_id)
    ticket.result = tickets.WON
    ticket.payout = net
    ticket.paid_amount = net
    tickets.move(ticket, tickets.PAID)  # paid at once to the wallet (method `system`)
    _save(ticket, ctx.now)
    _settle(ticket, "ticket_win", txn, prev_status, prev_result, ctx.now)


def _on_lost(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    _require(ticket, tickets.OPEN)
    prev_status, prev_result = ticket.status, ticket.result
    ticket.result = tickets.LOST
    tickets.move(ticket, tickets.EVALUATED)
    _save(ticket, ctx.now)
    _settle(ticket, "ticket_lost", None, prev_status, prev_result, ctx.now)


def _refund_txn(ctx: Context, ticket: Ticket, amount: int, kind: str) -> Any:
    if amount <= 0:
        return None
    if amount == ticket.price:
        counter = _stake_legs(ticket, +1, ctx.now)
    else:  # a partner-chosen refund amount comes out of stakes as a whole
        counter = [ledger.Leg(accounts.stakes(ticket.operator, ticket.currency, ctx.now), amount)]
    return ledger.post(kind, [ledger.Leg(_payer(ticket, ctx.now), -amount), *counter],
                       now=ctx.now, reference=ticket.id, actor=ctx.actor.id,
                       request_id=ctx.request_id)


def _on_void(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    _require(ticket, tickets.OPEN)
    prev_status, prev_result = ticket.status, ticket.result
    amount = event.refund if event.refund and event.refund > 0 else ticket.price
    if amount > ticket.price:  # a void refunds at most what was paid
        raise Invalid("net_payout must not exceed what the player paid", field="net_payout")
    txn = _refund_txn(ctx, ticket, amount, "bet.void")
    ticket.result = tickets.VOID
    tickets.move(ticket, tickets.EVALUATED)
    _save(ticket, ctx.now)
    _settle(ticket, "ticket_void", txn, prev_status, prev_result, ctx.now)


def _on_refund(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    prev_status, prev_result = ticket.status, ticket.result
    if ticket.status == tickets.RESERVED:
        _release(ticket, ctx.now)
        txn = None
    else:
        if not (ticket.status == tickets.OPEN
                or (ticket.status == tickets.EVALUATED and ticket.result == tickets.LOST)):
            raise InvalidTransition(f"ticket is {ticket.status}/{ticket.result}")
        txn = _refund_txn(ctx, ticket, ticket.price, "bet.refund")
    tickets.move(ticket, tickets.CANCELLED)
    _save(ticket, ctx.now)
    _settle(ticket, "ticket_refund", txn, prev_status, prev_result, ctx.now)


def _release(ticket: Ticket, now: dt.datetime, *, expired: bool = False) -> None:
    if ticket.hold_id:
        hold = Hold.get_by_id(ticket.hold_id)
        if hold.status == "open":
            ledger.release_hold(hold, now=now, expired=expired)


def _on_discard(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    if ticket.tombstone or ticket.status == tickets.EXPIRED:
        return  # nothing held any more: answer 200 so the bet engine stops retrying
    if ticket.status == tickets.RESERVED:
        _release(ticket, ctx.now)
    elif ticket.status == tickets.OPEN:
        for settlement in Settlement.select().where(
            (Settlement.ticket == ticket.id) & Settlement.txn.is_null(False)
            & Settlement.reversed_by.is_null(True)
        ).order_by(Settlement.id.desc()):
            reversal = ledger.reverse(settlement.txn, now=ctx.now, actor=ctx.actor.id,
                                      request_id=ctx.request_id)
            Settlement.update(reversed_by=reversal.id).where(
                Settlement.id == settlement.id).execute()
    else:
        raise InvalidTransition(f"ticket is {ticket.status}")
    tickets.move(ticket, tickets.CANCELLED)
    _save(ticket, ctx.now)


def _on_rollback(ctx: Context, ticket: Ticket, event: TicketEvent) -> bool:
    """Undo the last settlement of this generation; False when there is nothing to undo
    (answered 200, and not remembered: a later real rollback in this generation must run).
    A refunded *reservation* never took money, so there is nothing to reopen."""
    last = (Settlement.select()
            .where((Settlement.ticket == ticket.id) & Settlement.action.in_(SETTLING)
                   & (Settlement.generation == ticket.generation)
                   & Settlement.reversed_by.is_null(True))
            .order_by(Settlement.id.desc()).first())
    if last is None or last.prev_status == tickets.RESERVED:
        return False
    reversal = None
    if last.txn_id is not None:
        wallet = _wallet(ticket, ctx.now)
        reversal = ledger.reverse(last.txn, now=ctx.now, actor=ctx.actor.id,
                                  request_id=ctx.request_id, allow_overdraft=[wallet.id])
    marker = reversal.id if reversal is not None else None
    Settlement.update(reversed_by=marker).where(Settlement.id == last.id).execute()
    if marker is None:  # a lost ticket moved no money: mark it undone by generation bump
        Settlement.update(action=f"{last.action}.undone").where(
            Settlement.id == last.id).execute()
    tickets.move(ticket, tickets.OPEN)
    ticket.result = tickets.PENDING
    ticket.payout = 0
    ticket.paid_amount = 0
    ticket.generation += 1
    _save(ticket, ctx.now)
    return True


def _on_closed(ctx: Context, ticket: Ticket, event: TicketEvent) -> None:
    if ticket.status == tickets.RESERVED:
        raise InvalidTransition("a reserved ticket cannot be closed")
    tickets.move(ticket, tickets.CLOSED)
    _save(ticket, ctx.now)


_HANDLERS = {
    "ticket_update": _on_update,
    "ticket_win": _on_win,
    "ticket_lost": _on_lost,
    "ticket_void": _on_void,
    "ticket_refund": _on_refund,
    "ticket_discard": _on_discard,
    "ticket_rollback": _on_rollback,
    "ticket_closed": _on_closed,
}


# --- reading ---------------------------------------------------------------------------------


def get_ticket(operator: str, identifier: str) -> Ticket:
    return _find(operator, identifier)


def list_tickets(operator: str, *, limit: int, skip: int, user_id: str | None = None,
                 status: list[str] | None = None, skip_types: list[str] | None = None
                 ) -> list[Ticket]:
    query = Ticket.select().where(
        (Ticket.channel == CHANNEL) & (Ticket.operator == operator)
        & (Ticket.tombstone == False)  # noqa: E712
    )
    if user_id:
        query = query.where(Ticket.player == user_id)
    if status:
        query = query.where(Ticket.status.in_(status))
    if skip_types:
        query = query.where(Ticket.type.is_null() | Ticket.type.not_in(skip_types))
    return list(query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(limit).offset(skip))
