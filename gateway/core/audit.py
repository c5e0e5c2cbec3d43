"""The audit log: who did what, hash-chained so an edited or deleted row is detected.

Each row stores the SHA-256 of the previous row's hash and its own canonical content.
Appends lock the single `AuditHead` row (last seq and hash), so the chain has one order
even with many hosts; call `append` last in a command, to hold that lock briefly. Rows are
append-only in the database; `verify` walks the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from gateway.store import fastsql
from gateway.store.database import read_snapshot
from gateway.store.models import AuditHead, AuditRecord

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    type: str  # user | partner | system | anonymous
    id: str | None = None


SYSTEM = Actor("system", "pamgate")


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(record: AuditRecord | dict[str, Any]) -> dict[str, Any]:
    get = record.get if isinstance(record, dict) else lambda k: getattr(record, k)
    at = get("at")
    return {
        "seq": int(get("seq")),
        "at": at.isoformat() if isinstance(at, dt.datetime) else str(at),
        "actor_type": get("actor_type"),
        "actor_id": get("actor_id"),
        "action": get("action"),
        "target_type": get("target_type"),
        "target_id": get("target_id"),
        "result": get("result"),
        "request_id": get("request_id"),
        "details": get("details"),
    }


# The INSERT's columns and the widths free text is cut to come from the model, so the
# hand-written SQL cannot drift from the schema (`_fields`, the hashed content, is frozen).
_COLUMNS = tuple(AuditRecord._meta.sorted_fields)
_WIDTHS = {f.name: int(f.max_length) for f in _COLUMNS if getattr(f, "max_length", None)}


def _cut(text: str | None, column: str) -> str | None:
    return None if text is None else text[: _WIDTHS[column]]


def append(
    actor: Actor,
    action: str,
    *,
    now: dt.datetime,
    result: str = "ok",
    target_type: str | None = None,
    target_id: str | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one row to the chain (inside the caller's transaction); returns its seq."""
    lock = fastsql.for_update()
    head_seq, head_hash = fastsql.execute(
        f"SELECT seq, hash FROM audit_head WHERE id = 1{lock}"  # noqa: S608 - no input here
    ).fetchone()
    row: dict[str, Any] = {  # free text cut to its column, so no input can fail the insert
        "seq": head_seq + 1,
        "at": now.replace(microsecond=(now.microsecond // 1000) * 1000),
        "actor_type": _cut(actor.type, "actor_type"),
        "actor_id": _cut(actor.id, "actor_id"),
        "action": _cut(action, "action"),
        "target_type": _cut(target_type, "target_type"),
        "target_id": _cut(None if target_id is None else str(target_id), "target_id"),
        "result": _cut(result, "result"),
        "request_id": _cut(request_id, "request_id"),
        "details": json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str),
    }
    row["prev_hash"] = head_hash
    row["hash"] = _digest(head_hash, _fields(row))
    fastsql.insert_later(
        AuditRecord._meta.table_name, {f.column_name: row[f.name] for f in _COLUMNS}
    )
    fastsql.defer(
        "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (row["seq"], row["hash"])
    )
    return int(row["seq"])


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(batch: int = 5000) -> VerifyReport:
    """Walk the chain in order: recompute every hash, find gaps, compare with the head,
    all in one snapshot (appends may go on meanwhile)."""
    with read_snapshot():
        return _verify(batch)


def _verify(batch: int) -> VerifyReport:
    report = VerifyReport()
    expected_seq, prev = 1, GENESIS
    last_seq = 0
    while True:
        rows = list(
            AuditRecord.select()
            .where(AuditRecord.seq >= expected_seq)
            .order_by(AuditRecord.seq)
            .limit(batch)
        )
        if not rows:
            break
        for rec in rows:
            if rec.seq != expected_seq:
                report.problems.append(f"rows {expected_seq}..{rec.seq - 1} are missing")
            if rec.prev_hash != prev:
                report.problems.append(f"row {rec.seq}: previous-hash link is broken")
            if _digest(rec.prev_hash, _fields(rec)) != rec.hash:
                report.problems.append(f"row {rec.seq}: content does not match its hash")
            prev, expected_seq, last_seq = rec.hash, rec.seq + 1, rec.seq
            report.checked += 1
    head = AuditHead.get_or_none(AuditHead.id == 1)
    if head is None:
        report.problems.append("chain head is missing")
    elif head.seq != last_seq or head.hash != prev:
        report.problems.append(
            f"chain head says seq {head.seq}, rows end at {last_seq}: rows were removed"
        )
    return report
