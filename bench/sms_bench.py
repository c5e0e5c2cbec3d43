"""SMS notifications: inbound throughput through gunicorn, and the dispatcher draining the
outbox.

    .venv/bin/python bench/sms_bench.py [--duration 15] [--messages 10000] [--skip-inbound]

1. Inbound: pre-signed `otp` notifications (every one new: its own code and phone) POSTed
   to `/sms/notifications` by wrk against `pamgate serve` (2 workers, SQLite and
   PostgreSQL), and the bare falcon echo on the same gunicorn settings; the ratio
   pamgate / echo is the figure that travels between machines (the bet engine's method).
2. Drain: `--messages` due messages in the outbox of a PostgreSQL database, two
   `pamgate dispatch --once` processes delivering them to a local receiver
   (`bench/sms_receiver.py`); messages per second from the first attempt to the last, and a
   check that the receiver got every message exactly once.

Needs `wrk` for part 1 and PostgreSQL (`PAMGATE_BENCH_PG`) for part 2. Prints a table and
writes bench/results/sms.json.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import sms_receiver  # noqa: E402
from bench.betengine_bench import (  # noqa: E402
    drop_pg,
    free_port,
    pg_database,
    run_wrk,
    start_server,
)
from gateway.core.clock import SystemClock, unix  # noqa: E402
from gateway.store.database import bind, open_database  # noqa: E402
from gateway.store.migrations import migrate  # noqa: E402
from signing import betstack  # noqa: E402

SECRET = "12345ABCDE"
PARTNERS = ROOT / "config" / "demo_partners.toml"


def write_notifications(path: Path, count: int) -> None:
    now = unix(SystemClock().now())
    with path.open("w") as out:
        for i in range(count):
            body = betstack.compact_json(
                {"type": "otp", "data": {"code": f"{i % 1_000_000:06d}", "msisdn": f"+5068{i:07d}"}}
            )
            out.write(f"{now}\t{betstack.sign(SECRET, now, body)}\t{body.decode()}\n")


def inbound(label: str, url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    db = bind(open_database(url, pool_size=2))
    migrate(db)
    db.close()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PAMGATE_LOG_LEVEL": "WARNING",
        "PAMGATE_LOG_FORMAT": "json",
        "PAMGATE_PARTNERS_FILE": str(PARTNERS),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    requests_file = work / f"sms-{label}.tsv"
    write_notifications(requests_file, args.requests)
    port = free_port()
    proc = start_server(env, "wsgi:app", port, work / f"sms-{label}.log")
    try:
        return run_wrk(port, requests_file, args.duration, path="/sms/notifications")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def echo(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    requests_file = work / "echo.tsv"
    write_notifications(requests_file, 2000)
    port = free_port()
    env = {**os.environ, "PAMGATE_LOG_LEVEL": "WARNING"}
    proc = start_server(env, "bench.echo_app:app", port, work / "echo.log")
    try:
        return run_wrk(port, requests_file, args.duration)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def queue(url: str, count: int) -> None:
    from gateway.core import outbox
    from gateway.store.database import unit_of_work

    db = bind(open_database(url, pool_size=2))
    migrate(db)
    now = SystemClock().now()
    for start in range(0, count, 1000):
        with unit_of_work(db):
            for i in range(start, min(start + 1000, count)):
                outbox.emit(
                    "sms",
                    {
                        "to": f"+5067{i:07d}",
                        "lang": "es",
                        "type": "otp",
                        "template": "otp",
                        "vars": {"code": f"{i % 1_000_000:06d}"},
                    },
                    now,
                )
    db.close()


def drain(args: argparse.Namespace) -> dict[str, Any]:
    url, name = pg_database()
    try:
        queue(url, args.messages)
        with sms_receiver.running() as receiver:
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "PAMGATE_PARTNERS_FILE": str(PARTNERS),
                "PAMGATE_LOG_LEVEL": "WARNING",
                "PAMGATE_LOG_FORMAT": "json",
                "PAMGATE_SMS_URL": receiver.url,
                "PAMGATE_SMS_RATE_PER_S": "100000",
                "PAMGATE_SMS_RATE_BURST": "100000",
                "PAMGATE_DISPATCH_BATCH": str(args.batch),
                "PAMGATE_DISPATCH_WORKERS": str(args.workers),
                "PAMGATE_SMS_TIMEOUT_S": "5",
                "PAMGATE_DISPATCH_LEASE_S": "300",
            }
            started = time.monotonic()
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "gateway.cli", "dispatch", "--once"],
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(args.dispatchers)
            ]
            outputs = [p.communicate(timeout=600) for p in procs]
            wall = time.monotonic() - started
        import psycopg2

        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT MIN(started_at), MAX(finished_at), COUNT(*) FROM outbox_attempt "
                "WHERE outcome = 'sent'"
            )
            first, last, attempts = cur.fetchone()
            cur.execute("SELECT state, COUNT(*) FROM outbox_message GROUP BY state")
            states = dict(cur.fetchall())
        conn.close()
        span = (last - first).total_seconds() if attempts else 0.0
        if not attempts:
            print("no message was sent:", [err[-1500:] for _, err in outputs], file=sys.stderr)
        per_process = [out.strip() for out, _ in outputs]
        return {
            "messages": args.messages,
            "dispatchers": args.dispatchers,
            "batch": args.batch,
            "workers": args.workers,
            "sent_attempts": attempts,
            "states": states,
            "span_s": round(span, 2),
            "msgs_per_s": round(attempts / span, 1) if span else None,
            "wall_s_with_start_up": round(wall, 2),
            "per_process": per_process,
            "receiver_distinct": len(receiver.accepted),
            "receiver_max_per_id": max(receiver.seen.values()) if receiver.seen else 0,
            "exactly_once": len(receiver.accepted) == args.messages
            and set(receiver.seen.values()) == {1},
            "errors": [err[-500:] for _, err in outputs if err.strip()],
        }
    finally:
        drop_pg(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--skip-inbound", action="store_true")
    parser.add_argument("--skip-drain", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.skip_inbound:
        if not shutil.which("wrk"):
            print("wrk is required: apt-get install wrk", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="pamgate-sms-bench-") as tmp:
            work = Path(tmp)
            results["echo"] = base = echo(args, work)
            print(f"[echo] {base['rps']:.0f} req/s", flush=True)
            runs: list[tuple[str, str, str | None]] = [
                ("sqlite", f"sqlite:///{work / 'sms.db'}", None)
            ]
            url, name = pg_database()
            runs.append(("postgresql", url, name))
            for label, db_url, pg_name in runs:
                try:
                    peak = inbound(label, db_url, args, work)
                finally:
                    if pg_name:
                        drop_pg(pg_name)
                peak["ratio"] = peak["rps"] / base["rps"]
                results[f"inbound_{label}"] = peak
                print(
                    f"[inbound {label}] {peak['rps']:.0f} notifications/s "
                    f"(non-2xx {peak['non_2xx']:.0f}), ratio {peak['ratio']:.3f}",
                    flush=True,
                )
    if not args.skip_drain:
        results["drain_postgresql"] = res = drain(args)
        print(
            f"[drain postgresql] {res['messages']} messages, {res['dispatchers']} dispatchers: "
            f"{res['msgs_per_s']} msg/s over {res['span_s']} s "
            f"(wall {res['wall_s_with_start_up']} s with start-up); "
            f"exactly once: {res['exactly_once']}",
            flush=True,
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "sms.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
