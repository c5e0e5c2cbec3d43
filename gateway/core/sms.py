"""Inbound SMS notifications (SPEC 5): a one-time code or a ticket's status, queued in the
outbox in the same transaction as their deduplication record.

The same notification (same operator, type and content) accepted again within 24 hours is
answered as accepted and queues nothing: the first message stands. Older than that, it is a
new message. Concurrent duplicates are decided by the unique index and the row lock of
`sms_notification`, never in memory.

What the outbox holds (`kind` "sms"): `{"to", "lang", "template", "vars", "type",
"reference"}`; the dispatcher renders the text (`gateway.core.sms_texts`) when it sends.
Nothing here logs or audits a phone number or a code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass

from gateway.core import betengine, money, outbox, sms_texts, tickets
from gateway.core.commands import Context, Done, Outcome, run
from gateway.core.errors import Invalid
from gateway.core.results import result
from gateway.store import fastsql
from gateway.store.database import locked
from gateway.store.models import Player, SmsNotification

KIND = "sms"
DEDUP_WINDOW = dt.timedelta(hours=24)
MSISDN = re.compile(r"\+?[1-9][0-9]{7,14}")
_TABLE = SmsNotification._meta.table_name


@dataclass(frozen=True)
class Otp:
    operator: str
    code: str
    msisdn: str


@dataclass(frozen=True)
class TicketStatus:
    operator: str
    ticket_id: str
    status: str  # open | resulted
    result: str  # pending | won | lost | void


@result
@dataclass(frozen=True)
class Queued:
    """The notification's outbox message; `duplicate` when it had been accepted already."""

    message_id: str
    duplicate: bool


def e164(msisdn: str) -> str:
    """`+` and digits; `Invalid` (field `msisdn`) for anything else."""
    text = msisdn.strip()
    if not MSISDN.fullmatch(text):
        raise Invalid("msisdn must be an international phone number", field="msisdn")
    return text if text.startswith("+") else "+" + text


def _digest(kind: str, content: dict[str, str]) -> str:
    text = json.dumps({"type": kind, **content}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _claim(operator: str, digest: str, now: dt.datetime) -> str | None:
    """A new message id when this notification is new (or last seen over 24 h ago), else
    None (a duplicate: the id of the first is returned by `_first`)."""
    message_id = str(uuid.uuid4())
    while True:
        inserted = fastsql.execute(
            f"INSERT INTO {_TABLE} (operator, digest, message_id, received_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (operator, digest) DO NOTHING",
            (operator, digest, message_id, now),
        ).rowcount
        if inserted == 1:
            return message_id
        row = locked(
            SmsNotification.select().where(
                (SmsNotification.operator == operator) & (SmsNotification.digest == digest)
            )
        ).first()
        if row is not None:
            break
        # pruned (`prune`) between the insert and the lock: insert again
    if row.received_at > now - DEDUP_WINDOW:
        return None
    row.message_id, row.received_at = message_id, now
    row.save()
    return message_id


def prune(now: dt.datetime) -> int:
    """Delete deduplication records past their 24 hours (a notification seen again after
    that is a new message whether its record is there or not)."""
    return int(
        SmsNotification.delete().where(SmsNotification.received_at <= now - DEDUP_WINDOW).execute()
    )


def _first(operator: str, digest: str) -> str:
    row = SmsNotification.get(
        (SmsNotification.operator == operator) & (SmsNotification.digest == digest)
    )
    return str(row.message_id)


def _queue(
    ctx: Context,
    operator: str,
    kind: str,
    content: dict[str, str],
    message: dict[str, object],
    target_id: str | None,
) -> Outcome:
    digest = _digest(kind, content)

    def body() -> Done:
        message_id = _claim(operator, digest, ctx.now)
        if message_id is None:
            return Done(Queued(_first(operator, digest), duplicate=True), details={"type": kind})
        payload = {**message, "type": kind}
        payload.setdefault("reference", message_id)
        outbox.emit(KIND, payload, ctx.now, message_id=message_id, request_id=ctx.request_id)
        return Done(
            Queued(message_id, duplicate=False),
            created=True,
            target_id=message_id,
            details={"type": kind},
        )

    return run(ctx, "SMS_NOTIFICATION", body, target_type="outbox_message", target_id=target_id)


def notify_otp(ctx: Context, cmd: Otp) -> Outcome:
    """Queue a one-time code for `msisdn` (in the language of the operator's player with that
    number, Spanish when none)."""
    to = e164(cmd.msisdn)
    player = (
        Player.select(Player.lang)
        .where(
            (Player.operator == cmd.operator)
            & (Player.msisdn.in_([to, to[1:]]))  # stored with or without the +
        )
        .first()
    )
    message = {
        "to": to,
        "lang": player.lang if player is not None else sms_texts.DEFAULT_LANG,
        "template": "otp",
        "vars": {"code": cmd.code},
    }
    return _queue(ctx, cmd.operator, "otp", {"code": cmd.code, "to": to}, message, None)


def notify_ticket_status(ctx: Context, cmd: TicketStatus) -> Outcome:
    """Queue a ticket's status for its player (phone and language from the player);
    `TicketNotFound` for an unknown ticket, `Forbidden` for another operator's."""
    ticket = tickets.find(betengine.CHANNEL, cmd.operator, cmd.ticket_id)
    player = Player.get_or_none(Player.id == ticket.player_id) if ticket.player_id else None
    if player is None:
        raise Invalid("the ticket has no player to notify", field="ticket_id")
    template = sms_texts.template_for("ticket_status", cmd.status, cmd.result)
    amount = money.to_units(ticket.net_payout, ticket.currency)
    message = {
        "to": e164(player.msisdn),
        "lang": player.lang,
        "template": template,
        "vars": {
            "ticket": ticket.code or ticket.external_id,
            "amount": f"{amount} {ticket.currency}",
        },
        "reference": ticket.external_id,
    }
    content = {"ticket_id": ticket.external_id, "status": cmd.status, "result": cmd.result}
    return _queue(ctx, cmd.operator, "ticket_status", content, message, ticket.id)
