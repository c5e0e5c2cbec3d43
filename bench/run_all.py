"""`make bench`: the gateway's throughput figures in one command.

    .venv/bin/python bench/run_all.py [--duration 15] [--repeats 2] [--rows 1000000]
        [--skip-postgres] [--skip-rows]

1. Signed `ticket_create` through gunicorn (2 workers) against a bare falcon JSON echo, in
   the same run (`betengine_bench.py`): peak req/s, the ratio to the echo, p50/p99 paced
   at half the peak; SQLite (durable commits) and PostgreSQL; `--repeats` runs, so the
   spread shows.
2. The same peak with 10,000 and with `--rows` ledger transactions already in the
   database (bulk-loaded), on each engine: throughput must not depend on the ledger's size.

After every run the audit log is sealed and verified and the books reconciled; the script
exits 1 if either is not clean. Figures go to bench/results/run_all.json (and
betengine.json, the latest single run). The scale-out figure (PostgreSQL 5 ms away, 2 vs 16
workers) is `make bench-scale` (`scale_bench.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import betengine_bench as bb  # noqa: E402
from bench.scale_bench import check_books  # noqa: E402

GOALS = {"sqlite": 0.30, "postgresql": 0.25}


def _engines(args: argparse.Namespace) -> list[str]:
    return ["sqlite"] + ([] if args.skip_postgres else ["postgresql"])


def _database(engine: str, work: Path, tag: str) -> tuple[str, str | None]:
    if engine == "sqlite":
        return f"sqlite:///{work / f'{tag}.db'}", None
    return bb.pg_database()


def _env(url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PAMGATE_LOG_LEVEL": "WARNING",
        "PAMGATE_LOG_FORMAT": "json",
        "PAMGATE_PARTNERS_FILE": str(ROOT / "config" / "demo_partners.toml"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def ratio_run(args: argparse.Namespace, work: Path, n: int) -> dict[str, Any]:
    run: dict[str, Any] = {"echo": bb.bench_echo(args, work)}
    echo = run["echo"]["rps"]
    print(f"[run {n}] echo {echo:.0f} req/s", flush=True)
    for engine in _engines(args):
        url, pg_name = _database(engine, work, f"ratio{n}")
        try:
            res = bb.bench_backend(f"{engine}{n}", url, args, work)
            res["books"] = check_books(url)
        finally:
            if pg_name:
                bb.drop_pg(pg_name)
        res["ratio"] = res["peak"]["rps"] / echo
        lat = res["half_peak_latency"]
        books = res["books"]
        print(
            f"[run {n}] {engine}: {res['peak']['rps']:.0f} req/s (non-2xx "
            f"{res['peak']['non_2xx']:.0f}), ratio {res['ratio']:.2f} (goal ≥ "
            f"{GOALS[engine]:.2f}); at {lat['rate']:.0f} req/s p50 {lat['p50_ms']:.1f} ms, "
            f"p99 {lat['p99_ms']:.1f} ms (goal < 25); audit "
            f"{'clean' if books['audit_ok'] else 'BROKEN'}, reconcile "
            f"{'clean' if books['reconcile_ok'] else 'BREACH'}",
            flush=True,
        )
        run[engine] = res
    return run


def rows_run(args: argparse.Namespace, work: Path, engine: str, rows: int) -> dict[str, Any]:
    from bench.ledger_bench import bulk_load
    from gateway.store.database import bind, open_database
    from gateway.store.migrations import migrate

    url, pg_name = _database(engine, work, f"rows{rows}")
    try:
        db = bind(open_database(url, pool_size=2))
        migrate(db)
        bulk_load("postgres" if engine == "postgresql" else "sqlite", db, rows)
        db.close_all() if hasattr(db, "close_all") else db.close()
        players = bb.seed_players(url, args.players)
        req_file = work / f"rows{engine}{rows}.tsv"
        bb.write_requests(req_file, players, args.requests)
        port = bb.free_port()
        server = bb.start_server(_env(url), "wsgi:app", port, work / f"rows{rows}.log")
        try:
            peak: dict[str, Any] = dict(bb.run_wrk(port, req_file, args.duration))
        finally:
            server.terminate()
            server.wait(timeout=30)
        peak["books"] = check_books(url)
    finally:
        if pg_name:
            bb.drop_pg(pg_name)
    print(f"[rows] {engine} with {rows:,} ledger transactions: {peak['rps']:.0f} req/s", flush=True)
    return peak


def summary(results: dict[str, Any], engines: list[str]) -> list[str]:
    lines = ["", "== summary (ratio = pamgate peak / echo peak in the same run)"]
    for engine in engines:
        runs = [r[engine] for r in results["ratio_runs"]]
        ratios = [r["ratio"] for r in runs]
        p99 = [r["half_peak_latency"]["p99_ms"] for r in runs]
        rps = [r["peak"]["rps"] for r in runs]
        lines.append(
            f"{engine:>10}: {min(rps):.0f}-{max(rps):.0f} req/s, ratio "
            f"{min(ratios):.2f}-{max(ratios):.2f} (median {statistics.median(ratios):.2f}, "
            f"goal ≥ {GOALS[engine]:.2f}), p99 at half peak {min(p99):.1f}-{max(p99):.1f} ms"
        )
    for engine, pair in results.get("rows", {}).items():
        small, large = pair["small"]["rps"], pair["large"]["rps"]
        lines.append(
            f"{engine:>10}: {pair['small_rows']:,} ledger txns {small:.0f} req/s, "
            f"{pair['large_rows']:,} {large:.0f} req/s ({(large / small - 1) * 100:+.0f} %, "
            "goal within ±10 %)"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--players", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--latency-rate", type=float, default=0.0)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-rows", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2
    engines = _engines(args)
    results: dict[str, Any] = {"ratio_runs": [], "rows": {}}
    with tempfile.TemporaryDirectory(prefix="pamgate-bench-") as tmp:
        work = Path(tmp)
        for n in range(1, args.repeats + 1):
            results["ratio_runs"].append(ratio_run(args, work, n))
        if not args.skip_rows:
            for engine in engines:
                small = rows_run(args, work, engine, 10_000)
                large = rows_run(args, work, engine, args.rows)
                results["rows"][engine] = {
                    "small_rows": 10_000,
                    "small": small,
                    "large_rows": args.rows,
                    "large": large,
                }
    for line in summary(results, engines):
        print(line)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "run_all.json").write_text(json.dumps(results, indent=2))
    last = results["ratio_runs"][-1]
    (out / "betengine.json").write_text(json.dumps(last, indent=2))
    books = [r[e]["books"] for r in results["ratio_runs"] for e in engines] + [
        p[k]["books"] for p in results["rows"].values() for k in ("small", "large")
    ]
    clean = all(b["audit_ok"] and b["reconcile_ok"] for b in books)
    if not clean:
        print("audit or reconcile NOT clean after a run", file=sys.stderr)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
