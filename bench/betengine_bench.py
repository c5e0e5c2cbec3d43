"""Signed `ticket_create` throughput through gunicorn (2 workers), against a bare falcon
JSON echo on the same gunicorn settings, on SQLite and PostgreSQL.

    .venv/bin/python bench/betengine_bench.py [--duration 15] [--players 1000]

Needs `wrk` (Debian package `wrk`). For each database: seed players, pre-sign enough
`ticket_create` requests (every one a new ticket), start `pamgate serve`, measure the peak
with wrk, then latency p50/p99 with a paced Python client at half the peak rate. Prints a
table and writes bench/results/betengine.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.partners import load_partners  # noqa: E402
from config.settings import Config  # noqa: E402
from gateway.core.clock import SystemClock, unix  # noqa: E402
from gateway.store.database import bind, open_database  # noqa: E402
from gateway.store.migrations import migrate  # noqa: E402
from signing import betstack  # noqa: E402

PG_SERVER = os.environ.get("PAMGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "12345ABCDE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_players(url: str, count: int) -> list[str]:
    from gateway.core import players
    from gateway.core.audit import Actor
    from gateway.core.commands import Context
    from gateway.core.principal import ADMIN, Principal

    db = bind(open_database(url, pool_size=2))
    migrate(db)
    admin = Principal(user_id="bench", role=ADMIN)
    clock = SystemClock()
    ids = []
    for i in range(count):
        ctx = Context(actor=Actor("user", "bench"), now=clock.now())
        pid = players.create_player(
            ctx,
            admin,
            players.NewPlayer(msisdn=f"5068{i:07d}", lang="es", currency="USD", operator="acme"),
        ).result.id
        players.move_cash(
            ctx,
            admin,
            players.CashMovement(
                player_id=pid, amount=100_000_000, method="cash", idempotency_key=f"seed-{pid}"
            ),
            deposit=True,
        )
        ids.append(pid)
    db.close()
    return ids


def signed_line(player_id: str, now: int) -> tuple[str, str, bytes]:
    ticket_id = uuid.uuid4().hex[:24]
    body = betstack.compact_json(
        {
            "action": "ticket_create",
            "data": {
                "operator": "acme",
                "ticket_id": ticket_id,
                "ticket_code": ticket_id[:6].upper(),
                "player_id": player_id,
                "price": 500,
                "stake": 444,
                "wht_amount": 240,
                "wht": 10,
                "ext_amount": 56,
                "ext": 12.5,
                "ext_type": "inclusive",
                "gross_payout": 2842,
                "net_payout": 2602,
                "currency": "USD",
                "ticket_type": "quickbet",
            },
        }
    )
    return str(now), betstack.sign(SECRET, now, body), body


def write_requests(path: Path, player_ids: list[str], count: int) -> None:
    now = unix(SystemClock().now())
    with path.open("w") as out:
        for i in range(count):
            ts, sig, body = signed_line(player_ids[i % len(player_ids)], now)
            out.write(f"{ts}\t{sig}\t{body.decode()}\n")


def start_server(
    env: dict[str, str],
    app: str,
    port: int,
    log: Path,
    *,
    workers: int = 2,
    root: Path = ROOT,
) -> subprocess.Popen:
    """gunicorn with `root`'s settings and code (another checkout: compare two builds)."""
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(root / "gunicorn.conf.py"),
        "--chdir",
        str(root),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        app,
    ]
    proc = subprocess.Popen(argv, env=env, cwd=root, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            requests.post(f"http://127.0.0.1:{port}/pam", data=b'{"action":"ping"}', timeout=1)
            return proc
        except requests.RequestException:  # not listening yet, or still starting up
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("server did not start: " + log.read_text()[-2000:])


def run_wrk(
    port: int,
    requests_file: Path,
    duration: int,
    threads: int = 2,
    connections: int = 16,
    path: str = "/pam",
    timeout_s: int = 0,
) -> dict[str, float]:
    env = {
        **os.environ,
        "REQUESTS_FILE": str(requests_file),
        "STRIPES": str(threads),
        "WRK_PATH": path,
    }
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            *([f"--timeout={timeout_s}s"] if timeout_s else []),
            "-s",
            str(ROOT / "bench" / "wrk_requests.lua"),
            f"http://127.0.0.1:{port}{path}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non_2xx = float(errors.group(1)) if errors else 0.0
    # "12345 requests in 20.01s": the answered 2xx per second is what was actually done
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    result = {
        "rps": rps,
        "non_2xx": non_2xx,
        "timeouts": float(timeouts.group(1)) if timeouts else 0.0,
    }
    if total:
        seconds = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
        result["ok_rps"] = (int(total.group(1)) - non_2xx) / seconds if seconds else 0.0
    return result


def paced_latency(
    port: int, lines: list[tuple[str, str, bytes]], rate: float, seconds: float
) -> dict[str, float]:
    """Open-loop-ish pacing: 8 threads share a schedule of `rate` requests per second."""
    total = min(int(rate * seconds), len(lines))
    interval = 1.0 / rate
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    counter = iter(range(total))

    def worker() -> None:
        nonlocal failures
        for i in counter:
            due = start + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            ts, sig, body = lines[i]
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request(
                "POST",
                "/pam",
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "operator-name": "acme",
                    "timestamp": ts,
                    "signature": sig,
                },
            )
            resp = conn.getresponse()
            resp.read()
            conn.close()
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                failures += resp.status != 200

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "rate": rate,
        "requests": len(latencies),
        "failures": failures,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def pg_database() -> tuple[str, str]:
    name = f"pamgate_bench_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(PG_SERVER)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    conn.close()
    base = PG_SERVER.rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_pg(name: str) -> None:
    conn = psycopg2.connect(PG_SERVER)
    conn.autocommit = True
    conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def bench_backend(label: str, url: str, args: argparse.Namespace, work: Path) -> dict:
    print(f"[{label}] seeding {args.players} players …", flush=True)
    player_ids = seed_players(url, args.players)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PAMGATE_LOG_LEVEL": "WARNING",
        "PAMGATE_LOG_FORMAT": "json",
        "PAMGATE_PARTNERS_FILE": str(ROOT / "config" / "demo_partners.toml"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    req_file = work / f"{label}.tsv"
    write_requests(req_file, player_ids, args.requests)
    port = free_port()
    proc = start_server(env, "wsgi:app", port, work / f"{label}.log")
    try:
        peak = run_wrk(port, req_file, args.duration)
        now = unix(SystemClock().now())
        fresh = [
            signed_line(player_ids[i % len(player_ids)], now)
            for i in range(int(max(args.latency_rate, peak["rps"] / 2) * args.latency_seconds) + 10)
        ]
        rate = args.latency_rate or max(peak["rps"] / 2, 1.0)
        latency = paced_latency(port, fresh, rate, args.latency_seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"peak": peak, "half_peak_latency": latency}


def bench_echo(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The echo's peak, and its latency when paced at 300 req/s: the floor this client
    and machine put under every latency figure."""
    req_file = work / "echo.tsv"
    write_requests(req_file, ["echo-player"], 2000)
    port = free_port()
    env = {**os.environ, "PAMGATE_LOG_LEVEL": "WARNING"}
    proc = start_server(env, "bench.echo_app:app", port, work / "echo.log")
    try:
        peak: dict[str, Any] = dict(run_wrk(port, req_file, args.duration))
        now = unix(SystemClock().now())
        lines = [signed_line("echo-player", now) for _ in range(int(300 * args.latency_seconds))]
        peak["paced_300"] = paced_latency(port, lines, 300.0, args.latency_seconds)
        return peak
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--players", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=0.0,
        help="pace the latency run at this rate (default: half the peak)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2
    Config()  # importable config is the only sanity check needed here
    load_partners(str(ROOT / "config" / "demo_partners.toml"))
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pamgate-bench-") as tmp:
        work = Path(tmp)
        results["echo"] = echo = bench_echo(args, work)
        floor = echo["paced_300"]
        print(
            f"[echo] {echo['rps']:.0f} req/s; at 300 req/s: p50 {floor['p50_ms']:.1f} ms, "
            f"p99 {floor['p99_ms']:.1f} ms",
            flush=True,
        )
        runs = [("sqlite", f"sqlite:///{work / 'bench.db'}", None)]
        if not args.skip_postgres:
            url, name = pg_database()
            runs.append(("postgresql", url, name))
        for label, url, pg_name in runs:
            try:
                res = bench_backend(label, url, args, work)
            finally:
                if pg_name:
                    drop_pg(pg_name)
            res["ratio"] = res["peak"]["rps"] / echo["rps"]
            results[label] = res
            lat = res["half_peak_latency"]
            print(
                f"[{label}] {res['peak']['rps']:.0f} req/s (non-2xx {res['peak']['non_2xx']:.0f})"
                f", ratio {res['ratio']:.2f}; at {lat['rate']:.0f} req/s: "
                f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms",
                flush=True,
            )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "betengine.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
