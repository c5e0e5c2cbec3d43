"""Balanced transfers per second through `gateway.core.ledger.post`, each transfer its own
`unit_of_work` (one committed transaction), on SQLite and PostgreSQL.

    .venv/bin/python bench/ledger_bench.py [--transfers 20000] [--threads 8]
        [--engines sqlite,postgres] [--profile] [--json PATH] [--reconcile-scale N]

Scenarios, per database:
- `uncontended`: one thread, round robin over `--accounts` account pairs (no two transfers
  in a row touch the same rows);
- `contended`: `--threads` threads, every transfer on the same account pair (they queue on
  its row locks on PostgreSQL, on the single writer on SQLite);
- `parallel`: `--threads` threads, each on account pairs of its own.

SQLite runs on a temporary file (WAL, synchronous=normal as in production). PostgreSQL runs
on a throwaway database created on `PAMGATE_BENCH_PG` (default
postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards; it is skipped when the
server is unreachable. After each database, `reconcile()` must find the books clean, and its
own run time is printed. `--profile` prints where the time of the uncontended SQLite run goes;
`--reconcile-scale N` times `reconcile()` over N bulk-loaded transfers (2N entries).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.core import ledger, ledger_kinds  # noqa: E402
from gateway.core.ledger import CREDIT, DEBIT, AccountSpec, Leg  # noqa: E402
from gateway.core.ledger_kinds import TxnKind  # noqa: E402

# Transfers between the benchmark's own accounts: declared for this run only.
BENCH_KIND = TxnKind(
    "bench.transfer", frozenset({"bench_asset", "bench_liability"}), "benchmark transfers"
)
from gateway.core.reconcile import reconcile  # noqa: E402
from gateway.store.database import bind, database, open_database, unit_of_work  # noqa: E402
from gateway.store.migrations import migrate  # noqa: E402
from gateway.store.models import Account  # noqa: E402

PG_SERVER = os.environ.get("PAMGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = dt.datetime(2026, 11, 21, 12, 0, 0)


@dataclass
class Result:
    engine: str
    scenario: str
    threads: int
    transfers: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="pamgate-ledger-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """A throwaway database on the PostgreSQL server, or None when it is unreachable."""
    try:
        admin = psycopg2.connect(PG_SERVER, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        print(f"postgres: skipped ({str(exc).strip().splitlines()[0]})", file=sys.stderr)
        yield None
        return
    admin.autocommit = True
    name = f"pamgate_ledger_bench_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(PG_SERVER)._replace(path="/" + name))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def open_accounts(prefix: str, pairs: int) -> list[tuple[Account, Account]]:
    """`pairs` (asset, liability) account pairs without floors: transfers never bounce."""
    made = []
    with unit_of_work(database):
        for i in range(pairs):
            made.append(
                (
                    ledger.ensure_account(
                        AccountSpec(f"{prefix}:{i}:asset", "bench_asset", "MXN", DEBIT), NOW
                    ),
                    ledger.ensure_account(
                        AccountSpec(f"{prefix}:{i}:liability", "bench_liability", "MXN", CREDIT),
                        NOW,
                    ),
                )
            )
    return made


def transfer(pair: tuple[Account, Account], amount: int = 100) -> None:
    """One balanced transfer, committed on its own."""
    with unit_of_work(database):
        ledger.post("bench.transfer", [Leg(pair[0], amount), Leg(pair[1], -amount)], now=NOW)


def measure(
    engine: str, scenario: str, threads: int, per_thread: int, work: Callable[[int, int], None]
) -> Result:
    """Run `work(thread, i)` per_thread times in each thread, all released together."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            own = latencies[t]
            for i in range(per_thread):
                start = time.perf_counter()
                work(t, i)
                own.append(time.perf_counter() - start)
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        finally:
            database.close()

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{engine} {scenario}: {errors[0]!r}") from errors[0]
    flat = sorted(x for own in latencies for x in own)
    count = len(flat)
    return Result(
        engine,
        scenario,
        threads,
        count,
        round(seconds, 3),
        round(count / seconds, 1),
        round(statistics.median(flat) * 1000, 3),
        round(flat[min(count - 1, int(count * 0.99))] * 1000, 3),
    )


def run_engine(engine: str, url: str, args: argparse.Namespace) -> list[Result]:
    db = bind(open_database(url, pool_size=args.threads + 2))
    migrate(db)
    results = []

    pairs = open_accounts("rr", args.accounts)
    for i in range(min(200, args.transfers)):  # warm-up: connections, statement caches
        transfer(pairs[i % len(pairs)])
    results.append(
        measure(
            engine, "uncontended", 1, args.transfers, lambda t, i: transfer(pairs[i % len(pairs)])
        )
    )

    hot = open_accounts("hot", 1)[0]
    per_thread = max(1, args.transfers // args.threads)
    results.append(
        measure(engine, "contended", args.threads, per_thread, lambda t, i: transfer(hot))
    )

    own = [open_accounts(f"own{t}", 8) for t in range(args.threads)]
    results.append(
        measure(engine, "parallel", args.threads, per_thread, lambda t, i: transfer(own[t][i % 8]))
    )

    start = time.perf_counter()
    report = reconcile()
    took = time.perf_counter() - start
    entries = report.totals["entries"]
    print(
        f"{engine}: reconcile {'clean' if report.ok else 'BREACH'} over {entries} entries "
        f"in {took:.2f} s",
        file=sys.stderr,
    )
    if not report.ok:
        print(report.render(), file=sys.stderr)
        raise SystemExit(1)
    if hasattr(db, "close_all"):
        db.close_all()
    else:
        db.close()
    return results


def reconcile_at_scale(engine: str, url: str, transactions: int) -> str:
    """Bulk-load `transactions` two-entry transfers over 1000 account pairs with plain SQL
    (cached balances set to match), then time `reconcile()` over them."""
    db = bind(open_database(url, pool_size=2))
    migrate(db)
    start = time.perf_counter()
    bulk_load(engine, db, transactions)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    report = reconcile()
    took = time.perf_counter() - start
    if hasattr(db, "close_all"):
        db.close_all()
    else:
        db.close()
    verdict = "clean" if report.ok else "BREACH"
    return (
        f"{engine}: reconcile {verdict} over {report.totals['entries']:,} entries in "
        f"{took:.2f} s (bulk load {loaded:.1f} s)"
    )


def bulk_load(engine: str, db: Any, transactions: int) -> None:
    """Into an empty ledger (ids from 1): `transactions` two-entry transfers over 1000 new
    account pairs, cached balances set to match."""
    base = open_accounts("scale", 1000)[0][0].id  # pair i is (base + 2i, base + 2i + 1)
    with db.atomic():
        if engine == "postgres":
            db.execute_sql(
                "INSERT INTO ledger_txn (id, kind, created_at) "
                "SELECT g, 'bench.bulk', now() FROM generate_series(1, %s) g",
                (transactions,),
            )
            db.execute_sql(
                "SELECT setval(pg_get_serial_sequence('ledger_txn', 'id'), %s)", (transactions,)
            )
            for offset, amount in ((0, 100), (1, -100)):
                db.execute_sql(
                    "INSERT INTO entry (txn_id, account_id, amount, currency) "
                    "SELECT g, %s + 2 * mod(g, 1000), %s, 'MXN' "
                    "FROM generate_series(1, %s) g",
                    (base + offset, amount, transactions),
                )
        else:
            cursor = db.cursor()
            cursor.executemany(
                "INSERT INTO ledger_txn (id, kind, created_at) "
                "VALUES (?, 'bench.bulk', '2026-11-21 12:00:00')",
                ((i,) for i in range(1, transactions + 1)),
            )
            cursor.executemany(
                "INSERT INTO entry (txn_id, account_id, amount, currency) VALUES (?, ?, ?, 'MXN')",
                (
                    (i, base + 2 * (i % 1000) + side, 100 - 200 * side)
                    for i in range(1, transactions + 1)
                    for side in (0, 1)
                ),
            )
        db.execute_sql(
            "UPDATE account SET balance = (SELECT COALESCE(SUM(amount), 0) FROM entry "
            "WHERE entry.account_id = account.id) "
            "* (CASE WHEN normal_side = 'debit' THEN 1 ELSE -1 END)"
        )
    if engine == "postgres":
        db.execute_sql("ANALYZE")


def profile_sqlite(transfers: int, top: int) -> str:
    """cProfile of the uncontended SQLite loop: where a transfer's time goes."""
    with sqlite_url() as url:
        db = bind(open_database(url))
        migrate(db)
        pairs = open_accounts("prof", 100)
        for i in range(200):
            transfer(pairs[i % len(pairs)])
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(transfers):
            transfer(pairs[i % len(pairs)])
        profiler.disable()
        db.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def render(results: list[Result]) -> str:
    head = (
        f"{'engine':<9} {'scenario':<12} {'threads':>7} {'transfers':>9} {'seconds':>8} "
        f"{'transfers/s':>11} {'p50 ms':>7} {'p99 ms':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.engine:<9} {r.scenario:<12} {r.threads:>7} {r.transfers:>9} "
            f"{r.seconds:>8.2f} {r.per_second:>11,.0f} {r.p50_ms:>7.2f} "
            f"{r.p99_ms:>7.2f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--transfers", type=int, default=20_000, help="transfers per scenario (default 20000)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="threads of the contended and parallel scenarios (default 8)",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=1000,
        help="account pairs of the uncontended round robin (default 1000)",
    )
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of the uncontended SQLite run"
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--reconcile-scale",
        type=int,
        default=0,
        metavar="TRANSACTIONS",
        help="also time reconcile() over this many bulk-loaded transfers "
        "(e.g. 500000 = one million entries)",
    )
    args = parser.parse_args()
    with ledger_kinds.registered(BENCH_KIND):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    results: list[Result] = []
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "sqlite" in engines:
        with sqlite_url() as url:
            results += run_engine("sqlite", url, args)
    if "postgres" in engines:
        with postgres_url() as url:
            if url is not None:
                results += run_engine("postgres", url, args)
    print(render(results))
    if args.reconcile_scale:
        if "sqlite" in engines:
            with sqlite_url() as url:
                print(reconcile_at_scale("sqlite", url, args.reconcile_scale))
        if "postgres" in engines:
            with postgres_url() as url:
                if url is not None:
                    print(reconcile_at_scale("postgres", url, args.reconcile_scale))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    if args.profile:
        print(profile_sqlite(min(args.transfers, 5000), 25))
    return 0


if __name__ == "__main__":
    sys.exit(main())
