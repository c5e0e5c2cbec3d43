"""The operator verbs `pamgate reconcile`, `pamgate audit verify` and `pamgate prune`, run
in-process against the test database: what they print and the exit status a cron job or a
monitoring check acts on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.core import audit, ledger
from gateway.core.audit import Actor
from gateway.core.clock import SystemClock
from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, Leg
from gateway.store.database import bind, is_postgres, unit_of_work
from gateway.store.models import (
    Account,
    AuditRecord,
    IdempotencyRecord,
    RejectionTally,
    SignatureUse,
)

NOW = dt.datetime(2026, 11, 21, 12, 0, 0)


@pytest.fixture
def pamgate(
    db: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """`pamgate(*argv)` → (exit status, stdout), with DATABASE_URL naming the test database.
    The CLI binds the models to a database of its own; the test's is bound back after."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PAMGATE_LOG_FORMAT", "json")

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        try:
            status = main(list(argv))
        finally:
            bind(db)
        return status, capsys.readouterr().out

    return run


def _books(db: Any) -> tuple[Account, Account]:
    with unit_of_work(db):
        wallet = ledger.ensure_account(
            AccountSpec("player:ana:wallet:MXN", "player_wallet", "MXN", CREDIT, 0), NOW
        )
        cash = ledger.ensure_account(AccountSpec("house:cash:MXN", "house_cash", "MXN", DEBIT), NOW)
        ledger.post("wallet.deposit", [Leg(wallet, -2500), Leg(cash, 2500)], now=NOW)
        audit.append(Actor("user", "cashier-1"), "PLAYER_DEPOSIT", now=NOW, target_id="ana")
    return wallet, cash


def test_reconcile_exits_0_on_clean_books(db, pamgate) -> None:
    _books(db)
    status, out = pamgate("reconcile")
    assert status == 0
    assert out.splitlines()[0] == "pamgate reconciliation: OK"
    assert "accounts 2, transactions 1, entries 2" in out


def test_reconcile_exits_1_on_a_breach(db, pamgate) -> None:
    wallet, _ = _books(db)
    with unit_of_work(db):
        Account.update(balance=999_999).where(Account.id == wallet.id).execute()
    status, out = pamgate("reconcile")
    assert status == 1
    assert out.splitlines()[0] == "pamgate reconciliation: BREACH (1 failed)"
    assert "[BREACH] cached_balances" in out
    assert "caches 999999, its entries give 2500" in out


def test_reconcile_prints_json_on_request(db, pamgate) -> None:
    wallet, _ = _books(db)
    with unit_of_work(db):  # a rolled-back win: player debt, a warning only
        payouts = ledger.ensure_account(
            AccountSpec("operator:op:payouts:MXN", "house_payouts", "MXN", DEBIT), NOW
        )
        ledger.post(
            "bet.win.reversal",
            [Leg(wallet, 3000), Leg(payouts, -3000)],
            now=NOW,
            allow_overdraft=[wallet.id],
        )
    status, out = pamgate("reconcile", "--json")
    assert status == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert len(report["checks"]) == 12
    assert "daily_activity_matches_ledger" in {c["name"] for c in report["checks"]}
    assert report["warnings"][0].startswith("player debt: ")


def test_audit_verify_exits_0_on_an_intact_chain(db, pamgate) -> None:
    _books(db)
    status, out = pamgate("audit", "verify")
    assert status == 0
    assert out.splitlines() == [
        "audit chain: 1 rows checked, 0 problems",
        "  sealed through seq 0 (1 seals); 1 rows not sealed yet",
    ]
    assert pamgate("audit", "seal") == (0, "audit log: sealed 1 rows\n")
    status, out = pamgate("audit", "verify")
    assert (status, out.splitlines()[1]) == (0, "  sealed through seq 1 (2 seals)")


def test_audit_verify_exits_1_when_rows_were_removed(db, pamgate) -> None:
    _books(db)
    assert pamgate("audit", "seal")[0] == 0
    with unit_of_work(db):  # an attacker turns the guard off and deletes the sealed row
        if is_postgres(db):
            db.execute_sql("ALTER TABLE audit_record DISABLE TRIGGER audit_record_append_only")
        else:
            db.execute_sql("DROP TRIGGER audit_record_no_delete")
        AuditRecord.delete().execute()
        if is_postgres(db):
            db.execute_sql("ALTER TABLE audit_record ENABLE TRIGGER audit_record_append_only")
    status, out = pamgate("audit", "verify")
    assert status == 1
    assert "audit chain: 0 rows checked, 1 problems" in out
    assert "batch 1: 1 of its 1 rows were removed" in out


def test_prune_deletes_idempotency_records_past_retention(db, pamgate) -> None:
    now = SystemClock().now()
    with unit_of_work(db):
        for days, key in ((400, "ancient"), (121, "expired"), (119, "kept"), (0, "fresh")):
            IdempotencyRecord.create(
                scope="s",
                key=key,
                fingerprint="f",
                status_code=201,
                response_body="{}",
                created_at=now - dt.timedelta(days=days),
            )
    status, out = pamgate("prune")
    assert status == 0
    assert out.startswith("deleted 2 idempotency records created before ")
    assert "(retention 120 days)" in out
    assert sorted(r.key for r in IdempotencyRecord.select()) == ["fresh", "kept"]


def test_prune_forgets_signatures_past_their_window(db, pamgate) -> None:
    now = SystemClock().now()
    with unit_of_work(db):
        for minutes, sig in ((-11, "old"), (5, "live")):
            SignatureUse.create(
                partner="p",
                signature=sig,
                method="POST",
                request_hash="h",
                status_code=200,
                response="{}",
                created_at=now,
                expires_at=now + dt.timedelta(minutes=minutes),
            )
    status, out = pamgate("prune")
    assert status == 0
    assert "deleted 1 signature records past their window" in out
    assert [r.signature for r in SignatureUse.select()] == ["live"]


def test_sweep_summarises_refused_requests_of_minutes_that_are_over(db, pamgate) -> None:
    minute = SystemClock().now().replace(second=0, microsecond=0) - dt.timedelta(minutes=5)
    with unit_of_work(db):
        RejectionTally.create(partner="unknown", reason="bad_signature", minute=minute, count=3900)
    status, out = pamgate("sweep", "--once")
    assert status == 0
    assert "summarised 1 minute(s) of refused requests" in out
    row = AuditRecord.select().order_by(AuditRecord.seq.desc()).get()
    assert (row.action, row.result, row.target_id) == (
        "signature_check",
        "rejected:bad_signature",
        minute.isoformat() + "Z",
    )
    assert '"count":3900' in row.details
    assert RejectionTally.select().count() == 0


def test_sweep_once_prints_a_summary_even_when_nothing_was_due(db, pamgate) -> None:
    status, out = pamgate("sweep", "--once")
    assert status == 0
    assert out.strip() == (
        "sweep: expired 0 reservation(s); summarised 0 minute(s) of refused requests "
        "into the audit log"
    )


def test_version_names_the_installed_package(capsys) -> None:
    from importlib.metadata import version

    from gateway import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"pamgate {version('pamgate')}"


def test_verbs_refuse_a_database_that_is_not_migrated(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for argv in (["reconcile"], ["audit", "verify"], ["prune"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "schema is at version 0" in err
        assert "pamgate migrate" in err
