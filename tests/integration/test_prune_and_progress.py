"""`pamgate prune` deletes sent outbox messages past their retention with their attempt log
and SMS deduplication records past their 24 hours (pending, sending and dead messages stay);
long verbs show progress on a terminal (a real pty) and write nothing extra otherwise;
`pamgate lottery results` records a draw from the command line."""

from __future__ import annotations

import datetime as dt
import io
import os
import pty
import selectors
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from gateway.core import outbox
from gateway.core.clock import SystemClock
from gateway.core.lottery import draws
from gateway.progress import Progress
from gateway.store.database import unit_of_work
from gateway.store.models import LotteryDraw, OutboxAttempt, OutboxMessage, SmsNotification, Ticket
from tests import factories as f
from tests.integration.test_cli import pamgate  # noqa: F401 - the in-process CLI fixture
from tests.integration.test_ticket_payments import DRAWN, PRIZES, SIX, _sell

ROOT = Path(__file__).resolve().parents[2]


def _message(db: Any, state: str, age: dt.timedelta, attempts: int, now: dt.datetime) -> str:
    message_id = str(uuid.uuid4())
    when = now - age
    with unit_of_work(db):
        OutboxMessage.create(
            message_id=message_id,
            kind="sms",
            payload="{}",
            state=state,
            attempts=attempts,
            next_attempt_at=when,
            created_at=when,
            updated_at=when,
        )
        for n in range(attempts):
            OutboxAttempt.create(
                message_id=message_id,
                attempt=n + 1,
                provider="webhook",
                outcome="sent" if state == outbox.SENT and n == attempts - 1 else "failed",
                latency_ms=5,
                started_at=when,
                finished_at=when,
            )
    return message_id


def test_prune_deletes_old_sent_messages_their_attempts_and_stale_dedup(db, pamgate) -> None:  # noqa: F811
    now = SystemClock().now()
    days = dt.timedelta(days=1)
    old_sent = _message(db, outbox.SENT, 31 * days, 2, now)
    recent_sent = _message(db, outbox.SENT, 29 * days, 1, now)
    old_dead = _message(db, outbox.DEAD, 90 * days, 3, now)
    old_pending = _message(db, outbox.PENDING, 90 * days, 1, now)
    with unit_of_work(db):
        for hours, digest in ((25, "stale"), (23, "fresh")):
            SmsNotification.create(
                operator="acme",
                digest=digest,
                message_id=str(uuid.uuid4()),
                received_at=now - dt.timedelta(hours=hours),
            )
    status, out = pamgate("prune")
    assert status == 0
    assert "deleted 1 sent outbox messages older than " in out
    assert "(retention 30 days) and their 2 delivery attempts" in out
    assert "deleted 1 SMS deduplication records past their 24 hours" in out
    left = {m.message_id for m in OutboxMessage.select()}
    assert left == {recent_sent, old_dead, old_pending}
    assert old_sent not in {a.message_id for a in OutboxAttempt.select()}
    assert OutboxAttempt.select().count() == 1 + 3 + 1
    assert [r.digest for r in SmsNotification.select()] == ["fresh"]


def test_prune_in_batches_reports_every_message(db) -> None:
    from gateway.core import outbox_admin

    now = SystemClock().now()
    for _ in range(7):
        _message(db, outbox.SENT, dt.timedelta(days=40), 1, now)
    seen: list[tuple[int, int | None]] = []
    pruned = outbox_admin.prune(
        now - dt.timedelta(days=30), batch=3, progress=lambda d, t: seen.append((d, t))
    )
    assert (pruned.messages, pruned.attempts) == (7, 7)
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert OutboxMessage.select().count() == 0


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_done_rate_and_time_left_only_on_a_terminal() -> None:
    ticks = iter([0.0, 1.0, 2.0, 4.0])
    quiet = io.StringIO()
    with Progress("reconcile", unit="checks", stream=quiet, clock=lambda: 0.0) as p:
        p.update(5, 10)
    assert quiet.getvalue() == ""  # not a terminal: nothing at all

    tty = _Tty()
    with Progress("prune", unit="rows", stream=tty, clock=lambda: next(ticks)) as p:
        p.update(50, 100)  # at 1 s: 50 rows/s, 1 s left
        p.update(100)  # at 2 s
    lines = tty.getvalue().split("\r\x1b[K")
    assert lines[1] == "prune: 50/100 rows (50%), 50 rows/s, 1 s left"
    assert lines[-1] == "prune: 100 rows, done in 4 s\n"


def _pty_run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run `pamgate ARGV` with stderr on a pseudo-terminal; (status, stdout, the terminal)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    seen = b""
    # a selector, not select(): the whole suite may hold descriptors above select()'s 1024
    selector = selectors.DefaultSelector()
    try:
        selector.register(master, selectors.EVENT_READ)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed its end
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        out, _ = proc.communicate(timeout=60)
    finally:
        selector.close()
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
        proc.wait(timeout=60)
    return proc.returncode, out.decode(), seen.decode(errors="replace")


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAMGATE_")}
    env.update(DATABASE_URL=db_url, PAMGATE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    return env


def test_long_verbs_show_progress_on_a_terminal_and_stay_quiet_otherwise(db, db_url) -> None:
    now = SystemClock().now()
    for _ in range(5):
        _message(db, outbox.SENT, dt.timedelta(days=40), 1, now)
    status, out, terminal = _pty_run(["prune"], _env(db_url))
    assert status == 0, terminal
    assert "deleted 5 sent outbox messages" in out
    assert "prune: sent outbox messages: 5 messages, done in" in terminal
    assert "\x1b[K" in terminal  # redrawn in place

    status, out, terminal = _pty_run(["reconcile"], _env(db_url))
    assert status == 0, out + terminal
    assert "reconcile: " in terminal and "checks, done in" in terminal

    status, out, terminal = _pty_run(["audit", "verify"], _env(db_url))
    assert status == 0, out + terminal
    assert "audit verify: done in" in terminal

    # not a terminal: stderr holds no progress, stdout only the result
    quiet = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "reconcile"],
        cwd=ROOT,
        env=_env(db_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    assert "\r" not in quiet.stdout and "checks, done" not in quiet.stdout


def test_lottery_results_from_the_command_line(db, clock, pamgate) -> None:  # noqa: F811
    banca, ventana = f.banca_and_ventana(clock)
    draws.create(
        f.ctx(clock),
        f.ADMIN_USER,
        draws.NewDraw(
            payee_id=banca,
            draw_number="100",
            draw_date=dt.date(2026, 11, 22),
            closes_at=clock.now() + dt.timedelta(days=1),
            base_price=1500,
            rematch=1000,
            second_rematch=500,
            minimum_number_of_boards=1,
            maximum_number_of_boards=6,
            prizes=PRIZES,
            timezone="America/Mexico_City",
        ),
    )
    winner = _sell(clock, banca, ventana, None, "w", SIX)
    _sell(clock, banca, ventana, None, "l", "1,2,4,5,6,7")
    status, out = pamgate("lottery", "results", "100", *map(str, DRAWN))
    assert status == 0
    assert out.strip() == (
        "draw 100: numbers 3 11 19 27 35 43; 2 tickets evaluated, 1 winners, prizes 50000.00 MXN"
    )
    assert LotteryDraw.get(LotteryDraw.draw_number == "100").status == draws.RESULTED
    assert Ticket.get_by_id(winner).payout == 5_000_000
    status, out = pamgate("lottery", "results", "100", *map(str, DRAWN))
    assert status == 1  # recorded already


def test_a_dedup_record_pruned_under_a_notification_is_inserted_again(
    db, clock, monkeypatch
) -> None:
    """The notification's insert finds last day's record, then `prune` (another connection)
    deletes it before the notification locks it: the notification inserts again and is
    queued, instead of failing. PostgreSQL only (SQLite serialises the two writers)."""
    import threading

    import pytest

    from gateway.core import sms
    from gateway.core.audit import Actor
    from gateway.core.commands import Context
    from gateway.store.database import database, is_postgres

    if not is_postgres(database):
        pytest.skip("PostgreSQL only: concurrent transactions")
    ctx = Context(actor=Actor("partner", "t"), now=clock.now())
    first = sms.notify_otp(ctx, sms.Otp("acme", "4321", "+50688887777")).result.message_id
    clock.advance(25 * 3600)
    real_locked = sms.locked
    pruned: list[int] = []

    def prune_in_between(query, **kw):  # type: ignore[no-untyped-def]
        if not pruned:

            def other_connection() -> None:
                with unit_of_work(database):
                    pruned.append(sms.prune(clock.now()))
                database.close()

            thread = threading.Thread(target=other_connection)
            thread.start()
            thread.join(timeout=30)
        return real_locked(query, **kw)

    monkeypatch.setattr(sms, "locked", prune_in_between)
    ctx = Context(actor=Actor("partner", "t"), now=clock.now())
    queued = sms.notify_otp(ctx, sms.Otp("acme", "4321", "+50688887777")).result
    assert pruned == [1]
    assert not queued.duplicate and queued.message_id != first
    assert SmsNotification.get().message_id == queued.message_id
    assert OutboxMessage.select().count() == 2


def test_replay_and_a_draws_evaluation_report_their_progress(db, clock) -> None:
    from gateway.core import outbox_admin

    now = SystemClock().now()
    for _ in range(3):
        _message(db, outbox.DEAD, dt.timedelta(days=1), 1, now)
    seen: list[tuple[int, int | None]] = []
    assert outbox_admin.replay(now, progress=lambda d, t: seen.append((d, t))) == 3
    assert seen == [(3, 3)]

    banca, ventana = f.banca_and_ventana(clock)
    draws.create(
        f.ctx(clock),
        f.ADMIN_USER,
        draws.NewDraw(
            payee_id=banca,
            draw_number="100",
            draw_date=dt.date(2026, 11, 22),
            closes_at=clock.now() + dt.timedelta(days=1),
            base_price=1500,
            rematch=1000,
            second_rematch=500,
            minimum_number_of_boards=1,
            maximum_number_of_boards=6,
            prizes=PRIZES,
            timezone="America/Mexico_City",
        ),
    )
    for ref in ("a", "b", "c"):
        _sell(clock, banca, ventana, None, ref, SIX)
    evaluated: list[tuple[int, int | None]] = []
    draws.record_results(
        f.ctx(clock), f.ADMIN_USER, "100", DRAWN, progress=lambda d, t: evaluated.append((d, t))
    )
    assert evaluated == [(3, 3)]


def test_nothing_to_do_draws_only_the_final_line() -> None:
    tty = _Tty()
    with Progress("prune", unit="rows", stream=tty, clock=lambda: 0.0) as p:
        p.update(0, 0)
    assert tty.getvalue() == "\r\x1b[Kprune: done in 0 s\n"
