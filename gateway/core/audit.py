"""The audit log: who did what, tamper-evident, with no lock every transaction must take.

Each row carries the SHA-256 of its own canonical content (`hash`) and is written with the
transaction it describes, with no shared row to lock: appends on many hosts never queue
behind one another. A moment later the sealer (`seal`, run by every server and by
`pamgate audit seal`) closes the rows written since the last seal into a batch: an
`AuditSeal` row holding the batch's range of `seq`, its row count and the Merkle root
(RFC 6962 tree) of its rows' `(seq, hash)`, and the seal's own hash chained to the previous
seal's, like a certificate-transparency log's signed tree heads.

`verify` detects, for every sealed row: an edited row (its content no longer matches its
hash), an edited row whose hash was recomputed, a deleted, inserted or reordered row (the
batch's count or root no longer match), and a removed, edited or forged seal (the seals'
chain). Rows newer than the last seal are checked against their own hash only; the sealer
runs every second, so that window is short. Rows written before the seals existed form one
hash chain (each row's `prev_hash` is the previous row's hash); seal 0 holds its last hash.

Ordering. On PostgreSQL `seq` comes from a sequence, so a row with a lower `seq` may commit
after one with a higher `seq`. Appending transactions take a *shared* advisory lock (they
never wait for each other); the sealer takes it *exclusively* for an instant to learn a
frontier below which every row has committed or rolled back, and seals only up to it.
Several sealers (one per worker, on many hosts) take turns on a second advisory lock.
On SQLite writers are serialised, so the sealer's own write transaction is the frontier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from peewee import OperationalError

from gateway.store import fastsql
from gateway.store.database import database, is_postgres, read_snapshot, unit_of_work
from gateway.store.models import AuditRecord, AuditSeal
from gateway.store.schema_0012 import seal_hash

GENESIS = "0" * 64
SEALED = ""  # `prev_hash` of rows sealed in batches (rows of the old chain name their parent)

# Advisory lock keys (PostgreSQL): appenders share APPEND_LOCK, the sealer's barrier takes it
# exclusively; sealers take turns on SEALER_LOCK.
APPEND_LOCK = 0x70616D6761756431  # "pamgaud1"
SEALER_LOCK = 0x70616D6761756432  # "pamgaud2"
SEAL_MAX_ROWS = 10_000  # rows per batch (the sealer loops for more)
BARRIER_TIMEOUT = "100ms"  # how long appenders may queue behind the sealer's barrier


@dataclass(frozen=True)
class Actor:
    type: str  # user | partner | system | anonymous
    id: str | None = None


SYSTEM = Actor("system", "pamgate")


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(record: AuditRecord | dict[str, Any], *, with_seq: bool = True) -> dict[str, Any]:
    """The hashed content of a row. Rows of the old chain hash their `seq` too; sealed rows
    get their `seq` from the database, and the seal's Merkle leaves bind it instead."""
    get = record.get if isinstance(record, dict) else lambda k: getattr(record, k)
    at = get("at")
    fields = {
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
    if with_seq:
        fields["seq"] = int(get("seq"))
    return fields


def row_hash(record: AuditRecord | dict[str, Any]) -> str:
    """The hash a sealed-batch row must carry (its content, without `seq`)."""
    return _digest(SEALED, _fields(record, with_seq=False))


# The INSERT's columns and the widths free text is cut to come from the model, so the
# hand-written SQL cannot drift from the schema (`_fields`, the hashed content, is frozen).
_COLUMNS = tuple(f for f in AuditRecord._meta.sorted_fields if f.name != "seq")
_WIDTHS = {f.name: int(f.max_length) for f in _COLUMNS if getattr(f, "max_length", None)}
_NAMES = ", ".join(f.column_name for f in _COLUMNS)
_VALUES = fastsql.placeholders(len(_COLUMNS))
_NEXT_SEQ = {  # SQLite writers are serialised: the next number is the highest plus one
    True: "nextval('audit_record_seq')",
    False: "(SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_record)",
}


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
) -> None:
    """Append one row (inside the caller's transaction, whose commit writes it). Costs no
    round trip on PostgreSQL: the statements ride with the transaction's next one."""
    row: dict[str, Any] = {  # free text cut to its column, so no input can fail the insert
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
    row["prev_hash"] = SEALED
    row["hash"] = row_hash(row)
    postgres = is_postgres(database)
    if postgres:  # held to commit; see the module docstring (ordering)
        fastsql.defer("SELECT pg_advisory_xact_lock_shared(%s)", (APPEND_LOCK,))
    fastsql.defer(
        f"INSERT INTO audit_record (seq, {_NAMES}) "  # noqa: S608 - names from the model
        f"VALUES ({_NEXT_SEQ[postgres]}, {_VALUES})",
        [row[f.name] for f in _COLUMNS],
    )


# --- seals ---------------------------------------------------------------------------------


def _leaf(seq: int, hash_: str) -> bytes:
    return hashlib.sha256(b"\x00" + seq.to_bytes(8, "big") + bytes.fromhex(hash_)).digest()


def merkle_root(rows: list[tuple[int, str]]) -> str:
    """RFC 6962 Merkle tree hash of `(seq, hash)` leaves in `seq` order."""
    level = [_leaf(seq, h) for seq, h in rows]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    return _tree(level).hex()


def _tree(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two below n
    return hashlib.sha256(b"\x01" + _tree(leaves[:split]) + _tree(leaves[split:])).digest()


def _seal_fields(seal: AuditSeal | dict[str, Any]) -> dict[str, Any]:
    get = seal.get if isinstance(seal, dict) else lambda k: getattr(seal, k)
    at = get("sealed_at")
    return {
        "batch": int(get("batch")),
        "first_seq": int(get("first_seq")),
        "last_seq": int(get("last_seq")),
        "row_count": int(get("row_count")),
        "root": get("root"),
        "sealed_at": at.isoformat() if isinstance(at, dt.datetime) else str(at),
    }


def genesis_seal(
    now: dt.datetime, *, last_seq: int = 0, row_count: int = 0, root: str = GENESIS
) -> dict[str, Any]:
    """Seal 0: the rows of the old hash chain (none on a new database), `root` its last hash."""
    seal: dict[str, Any] = {
        "batch": 0,
        "first_seq": 1,
        "last_seq": last_seq,
        "row_count": row_count,
        "root": root,
        "prev_hash": GENESIS,
        "sealed_at": now.replace(microsecond=0),
    }
    seal["hash"] = seal_hash(GENESIS, _seal_fields(seal))
    return seal


def _seal_upto(frontier: int, now: dt.datetime, max_rows: int) -> int:
    """Inside a transaction: seal the rows after the last seal, up to `frontier`."""
    last = AuditSeal.select().order_by(AuditSeal.batch.desc()).first()
    if last is None:
        raise RuntimeError("the audit log has no seal 0: run pamgate migrate")
    rows = fastsql.execute(
        "SELECT seq, hash FROM audit_record WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
        (last.last_seq, frontier, max_rows),
    ).fetchall()
    if not rows:
        return 0
    seal: dict[str, Any] = {
        "batch": last.batch + 1,
        "first_seq": last.last_seq + 1,
        "last_seq": rows[-1][0],
        "row_count": len(rows),
        "root": merkle_root([(int(s), h) for s, h in rows]),
        "prev_hash": last.hash,
        "sealed_at": now.replace(microsecond=0),
    }
    seal["hash"] = seal_hash(last.hash, _seal_fields(seal))
    fastsql.insert(AuditSeal._meta.table_name, seal)
    return len(rows)


def seal(now: dt.datetime, *, max_rows: int = SEAL_MAX_ROWS) -> int:
    """Seal every committed row not sealed yet, in batches of at most `max_rows`; returns how
    many rows were sealed (0 when another sealer is at work or the barrier timed out)."""
    total = 0
    while True:
        done = _seal_once(now, max_rows)
        total += done
        if done < max_rows:
            return total


def _seal_once(now: dt.datetime, max_rows: int) -> int:
    if not is_postgres(database):
        with unit_of_work(database):
            frontier = fastsql.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_record")
            return _seal_upto(int(frontier.fetchone()[0]), now, max_rows)
    with database.connection_context():
        if not fastsql.execute("SELECT pg_try_advisory_lock(%s)", (SEALER_LOCK,)).fetchone()[0]:
            return 0  # another sealer (another worker or host) is at it
        try:
            frontier = _barrier()
            if frontier is None:
                return 0
            with database.atomic():
                return _seal_upto(frontier, now, max_rows)
        finally:
            fastsql.execute("SELECT pg_advisory_unlock(%s)", (SEALER_LOCK,))


def _barrier() -> int | None:
    """The highest `seq` below which no row can still commit: wait (briefly) for every
    transaction holding the appenders' lock to finish, then read the highest committed seq.
    Rows appended later take their `seq` from the sequence after this moment: higher."""
    try:
        with database.atomic():
            fastsql.execute(f"SET LOCAL lock_timeout = '{BARRIER_TIMEOUT}'")
            fastsql.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            # a new statement: a snapshot taken after every earlier appender finished
            return int(
                fastsql.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_record").fetchone()[0]
            )
    except OperationalError:  # lock_timeout: a long transaction holds it; try next time
        return None


# --- verification --------------------------------------------------------------------------


@dataclass
class VerifyReport:
    checked: int = 0
    pending: int = 0  # rows newer than the last seal
    sealed_through: int = 0
    seals: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(batch: int = 5000) -> VerifyReport:
    """Check the seals' chain, every sealed batch against its seal and every row against its
    hash, all in one snapshot (appends and seals may go on meanwhile)."""
    with read_snapshot():
        return _verify(batch)


def _rows(after: int, upto: int | None, batch: int) -> Iterator[AuditRecord]:
    """Rows with after < seq <= upto (no upper bound: None), in seq order, page by page."""
    while True:
        query = AuditRecord.select().where(AuditRecord.seq > after)
        if upto is not None:
            query = query.where(AuditRecord.seq <= upto)
        page = list(query.order_by(AuditRecord.seq).limit(batch))
        yield from page
        if len(page) < batch:
            return
        after = page[-1].seq


def _verify(batch: int) -> VerifyReport:
    report = VerifyReport()
    seals = list(AuditSeal.select().order_by(AuditSeal.batch))
    if not seals or seals[0].batch != 0:
        report.problems.append("seal 0 is missing: seals were removed")
    prev, previous = GENESIS, None
    for number, s in enumerate(seals):
        if s.batch != number and (previous is None or previous.batch == number - 1):
            report.problems.append(f"seals {number}..{s.batch - 1} are missing")
        if s.prev_hash != prev:
            report.problems.append(f"seal {s.batch}: previous-seal link is broken")
        if seal_hash(s.prev_hash, _seal_fields(s)) != s.hash:
            report.problems.append(f"seal {s.batch}: content does not match its hash")
        if previous is not None and s.first_seq != previous.last_seq + 1:
            report.problems.append(f"seal {s.batch}: does not start after seal {previous.batch}")
        prev, previous = s.hash, s
    for s in seals:
        if s.batch == 0:
            _verify_chain(s, batch, report)
        else:
            _verify_batch(s, batch, report)
    report.seals = len(seals)
    report.sealed_through = seals[-1].last_seq if seals else 0
    for rec in _rows(report.sealed_through, None, batch):
        report.checked += 1
        report.pending += 1
        if rec.prev_hash != SEALED or row_hash(rec) != rec.hash:
            report.problems.append(f"row {rec.seq}: content does not match its hash")
    return report


def _verify_batch(s: AuditSeal, batch: int, report: VerifyReport) -> None:
    leaves: list[tuple[int, str]] = []
    for rec in _rows(s.first_seq - 1, s.last_seq, batch):
        report.checked += 1
        if rec.prev_hash != SEALED or row_hash(rec) != rec.hash:
            report.problems.append(f"row {rec.seq}: content does not match its hash")
        leaves.append((rec.seq, rec.hash))
    if len(leaves) < s.row_count:
        report.problems.append(
            f"batch {s.batch}: {s.row_count - len(leaves)} of its {s.row_count} rows were removed"
        )
    elif len(leaves) > s.row_count:
        report.problems.append(
            f"batch {s.batch}: {len(leaves) - s.row_count} rows were inserted into it"
        )
    elif merkle_root(leaves) != s.root:
        report.problems.append(f"batch {s.batch}: rows were edited or reordered")


def _verify_chain(s: AuditSeal, batch: int, report: VerifyReport) -> None:
    """Seal 0: the rows written before seals existed, one hash chain ending at its root."""
    expected_seq, prev, last_seq, count = 1, GENESIS, 0, 0
    for rec in _rows(0, s.last_seq, batch):
        if rec.seq != expected_seq:
            report.problems.append(f"rows {expected_seq}..{rec.seq - 1} are missing")
        if rec.prev_hash != prev:
            report.problems.append(f"row {rec.seq}: previous-hash link is broken")
        if _digest(rec.prev_hash, _fields(rec)) != rec.hash:
            report.problems.append(f"row {rec.seq}: content does not match its hash")
        prev, expected_seq, last_seq = rec.hash, rec.seq + 1, rec.seq
        count += 1
        report.checked += 1
    if last_seq != s.last_seq or prev != s.root or count != s.row_count:
        report.problems.append(
            f"seal 0 says seq {s.last_seq}, rows end at {last_seq}: rows were removed"
        )
