"""Scale-out: signed `ticket_create` with PostgreSQL in "another zone" (5 ms each way through
`latency_proxy.py`), 2 gunicorn workers against 16 on the same box.

    .venv/bin/python bench/scale_bench.py [--duration 20] [--workers 2,16] [--pool-size 1,5]
    .venv/bin/python bench/scale_bench.py --root /tmp/old-checkout   # another build's code

Latency, not CPU, bounds such a run: each worker's transactions spend most of their time
waiting for round trips, so more workers (more transactions in flight) should give
proportionally more tickets per second, unless the transactions queue behind each other
on some lock in the database. 256 players, 256 connections (wrk, 30 s timeout), every
request a new ticket. Each series gives every worker `--pool-size` database connections:
with 1, a worker has one transaction in flight, as a synchronous worker would, so the
series shows whether transactions of different workers wait for each other; with 5
(16 x 5 stays under PostgreSQL's default 100) the 16 workers need more CPU than two
shared vCPUs have, and the box, not the database, sets the figure. The figure is tickets
answered 2xx per second: a request that waited past the pool's timeout is answered 503
(and retried by a real client) and is not a ticket. Each run also reports how busy the
box's CPUs were and the proxy's own share. Afterwards the audit log is sealed and verified
and the books reconciled (exit 1 if not clean). Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import betengine_bench as bb  # noqa: E402


def check_books(url: str) -> dict[str, object]:
    """Seal the audit log, verify it and reconcile, straight to the database."""
    from gateway.core import audit
    from gateway.core.clock import SystemClock
    from gateway.core.reconcile import reconcile
    from gateway.store.database import bind, open_database

    db = bind(open_database(url, pool_size=2))
    try:
        if hasattr(audit, "seal"):  # builds before the sealed log had a chain head instead
            audit.seal(SystemClock().now())
        verified = audit.verify()
        books = reconcile()
    finally:
        db.close_all()  # type: ignore[attr-defined]
    return {
        "audit_ok": verified.ok,
        "audit_rows": verified.checked,
        "audit_problems": verified.problems[:5],
        "reconcile_ok": books.ok,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def box_times() -> tuple[float, float]:
    """(busy, total) jiffies of every CPU so far: how loaded the box was between two reads."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def start_proxy(target_port: int, delay_ms: float, log: Path) -> tuple[subprocess.Popen, int]:
    """`latency_proxy.py` on a free port in front of 127.0.0.1:`target_port`."""
    port = bb.free_port()
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "latency_proxy.py"),
                "--listen",
                f"127.0.0.1:{port}",
                "--target",
                f"127.0.0.1:{target_port}",
                "--delay-ms",
                str(delay_ms),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    time.sleep(0.5)
    return proc, port


def run_one(
    args: argparse.Namespace,
    work: Path,
    far: str,
    proxy: subprocess.Popen,
    players: list,
    workers: int,
    pool: int,
) -> dict[str, float]:
    """One gunicorn with `workers` workers of `pool` connections each, under wrk."""
    tag = f"w{workers}p{pool}"
    req_file = work / f"{tag}.tsv"
    bb.write_requests(req_file, players, 40_000)
    env = {
        **os.environ,
        "DATABASE_URL": far,
        "PAMGATE_DB_POOL_SIZE": str(pool),
        "PAMGATE_LOG_LEVEL": "WARNING",
        "PAMGATE_LOG_FORMAT": "json",
        "PAMGATE_PARTNERS_FILE": str(ROOT / "config" / "demo_partners.toml"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = bb.free_port()
    log = work / f"{tag}.log"
    server = bb.start_server(env, "wsgi:app", port, log, workers=workers, root=args.root)
    proxy_cpu, (busy, total) = cpu_seconds(proxy.pid), box_times()
    try:
        peak = bb.run_wrk(port, req_file, args.duration, connections=args.connections, timeout_s=30)
    finally:
        busy_after, total_after = box_times()
        server.terminate()
        server.wait(timeout=60)
    peak["proxy_cpu_s"] = cpu_seconds(proxy.pid) - proxy_cpu
    peak["box_busy"] = (busy_after - busy) / max(total_after - total, 1)
    if peak["non_2xx"]:  # say why, from the server's log
        errors = [
            line[-300:]
            for line in log.read_text().splitlines()
            if "error" in line.lower() or "status" in line
        ]
        print("\n".join(errors[-2:]), flush=True)
    print(
        f"[scale] {workers:>2} workers x {pool} connections: {peak['ok_rps']:.0f} tickets/s "
        f"answered 2xx ({peak['rps']:.0f} req/s, non-2xx {peak['non_2xx']:.0f}, wrk "
        f"timeouts {peak['timeouts']:.0f}); box CPU {peak['box_busy']:.0%} busy, the proxy "
        f"{peak['proxy_cpu_s'] / args.duration:.0%} of a CPU",
        flush=True,
    )
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--players", type=int, default=256)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--workers", default="2,16")
    parser.add_argument(
        "--pool-size",
        default="1,5",
        help="connections per worker, one series each (1: one transaction in flight per worker)",
    )
    parser.add_argument("--delay-ms", type=float, default=5.0)
    parser.add_argument("--root", type=Path, default=ROOT, help="serve this checkout's code")
    parser.add_argument("--label", default="", help="stored with the results")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2
    counts = [int(w) for w in args.workers.split(",")]
    pools = [int(p) for p in args.pool_size.split(",")]
    url, name = bb.pg_database()
    results: dict[str, object] = {"label": args.label, "delay_ms": args.delay_ms}
    runs: dict[str, dict[str, float]] = {}
    clean = True
    try:
        with tempfile.TemporaryDirectory(prefix="pamgate-scale-") as tmp:
            work = Path(tmp)
            print(f"[scale] seeding {args.players} players …", flush=True)
            players = bb.seed_players(url, args.players)
            pg_port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
            proxy, proxy_port = start_proxy(pg_port, args.delay_ms, work / "proxy.log")
            far = url.replace(f":{pg_port}/", f":{proxy_port}/")
            try:
                for pool in pools:
                    for workers in counts:
                        runs[f"{workers}x{pool}"] = run_one(
                            args, work, far, proxy, players, workers, pool
                        )
            finally:
                proxy.terminate()
                proxy.wait(timeout=10)
            books = check_books(url)
            clean = bool(books["audit_ok"] and books["reconcile_ok"])
            results["books"] = books
            print(
                f"[scale] audit {'clean' if books['audit_ok'] else 'BROKEN'} "
                f"({books['audit_rows']} rows), reconcile "
                f"{'clean' if books['reconcile_ok'] else 'BREACH'}",
                flush=True,
            )
    finally:
        bb.drop_pg(name)
    results["runs"] = runs
    if len(counts) >= 2:
        scale_out = {}
        for pool in pools:
            low = runs[f"{counts[0]}x{pool}"]["ok_rps"]
            high = runs[f"{counts[-1]}x{pool}"]["ok_rps"]
            scale_out[str(pool)] = high / low if low else 0.0
            print(
                f"[scale] {counts[-1]} vs {counts[0]} workers, {pool} connection(s) each: "
                f"x{scale_out[str(pool)]:.1f} (goal ≥ 6)",
                flush=True,
            )
        results["scale_out"] = scale_out
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    suffix = f"-{args.label}" if args.label else ""
    (out / f"scale{suffix}.json").write_text(json.dumps(results, indent=2))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
