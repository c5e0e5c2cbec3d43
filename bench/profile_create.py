"""Where one signed `ticket_create` spends its time, in process (no gunicorn, no wrk).

    .venv/bin/python bench/profile_create.py                     # both engines, 2000 creates
    .venv/bin/python bench/profile_create.py --engines sqlite --count 5000 --top 40
    .venv/bin/python bench/profile_create.py --statements        # print one request's SQL

For each database: seed players with funded wallets, build the whole falcon app (every
middleware, the Betstack signature check, the schemas, the core), pre-sign `--count`
requests (each one a new ticket) and send them through `falcon.testing` on one thread.
Prints the mean wall time per request without the profiler, then (profiled run) the
mean per request of each layer (cumulative, so layers nest), the statements and, on
PostgreSQL, the round trips per request (counted on the driver's connection: every
`cursor.execute` and every `commit`/`rollback` that reaches the server), and `--top`
functions by own time. Reconcile and audit verify must be clean afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import falcon.testing
import psycopg2.extensions

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import betengine_bench as bb  # noqa: E402
from bench.lottery_bench import _close, postgres_url, sqlite_url  # noqa: E402
from config.partners import load_partners  # noqa: E402
from config.settings import Config  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.core.clock import SystemClock, unix  # noqa: E402
from gateway.logs import configure_logging  # noqa: E402
from gateway.store.database import bind, open_database  # noqa: E402


class _Counter:
    trips = 0
    statements = 0
    log: list[str] | None = None


def _count(sql: Any) -> None:
    _Counter.trips += 1
    text = sql.decode() if isinstance(sql, bytes) else str(sql)
    _Counter.statements += max(1, text.count(";") + 1) if text.strip() else 0
    if _Counter.log is not None:
        _Counter.log.append(text)


class _Cursor(psycopg2.extensions.cursor):
    def execute(self, query: Any, vars: Any = None) -> Any:
        _count(query)
        return super().execute(query, vars)


class _Connection(psycopg2.extensions.connection):
    opened: list[_Connection] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Connection.opened.append(self)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cursor_factory", _Cursor)
        return super().cursor(*args, **kwargs)

    def commit(self) -> None:
        _count("COMMIT")
        super().commit()

    def rollback(self) -> None:
        _count("ROLLBACK")
        super().rollback()


def _server_cpu_s() -> float:
    """CPU seconds (user + system) of the PostgreSQL backends of this process's connections
    (same host: read from /proc; 0 when they are elsewhere)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for conn in _Connection.opened:
        if conn.closed:
            continue
        try:
            fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1]
        except OSError:
            continue
        utime, stime = fields.split()[11:13]
        total += (int(utime) + int(stime)) / tick
    return total


def _sqlite_counter(db: Any) -> None:
    """Count statements on SQLite (no round trips: the engine runs in process): every
    statement the engine runs on this thread's connection, BEGIN and COMMIT included."""
    db.connection().set_trace_callback(_count)


# (label, file suffix, function name): the layers reported, outermost first
LAYERS = (
    ("falcon app (whole request)", "falcon/app.py", "__call__"),
    ("  middleware: request context", "gateway/http/middleware.py", "process_request"),
    ("  middleware: access log + metrics", "gateway/http/middleware.py", "process_response"),
    ("  signature check (HMAC)", "gateway/http/signatures.py", "_verify"),
    ("  request transaction (guard)", "gateway/core/commands.py", "request_transaction"),
    ("    once-only record claim", "gateway/core/replays.py", "claim"),
    ("    once-only record complete", "gateway/core/replays.py", "complete"),
    ("    JSON decode", "gateway/http/jsonbody.py", "decode"),
    ("    schema validation (FastLoad.load)", "adapters/fastload.py", "load"),
    ("    schema validation (marshmallow)", "marshmallow/schema.py", "load"),
    ("    betengine.place (core)", "gateway/core/betengine/place.py", "place"),
    ("      idempotency claim", "gateway/core/idempotency.py", "claim"),
    ("      player lookup", "gateway/core/players.py", "resolve_player"),
    ("      ticket insert", "gateway/core/tickets/records.py", "insert_new"),
    ("      wallet account", "gateway/core/accounts.py", "player_wallet"),
    ("      ledger.post", "gateway/core/ledger.py", "post"),
    ("      settlement row", "gateway/core/tickets/records.py", "record_settlement"),
    ("      idempotency complete", "gateway/core/idempotency.py", "complete"),
    ("      audit append", "gateway/core/audit.py", "append"),
    ("    COMMIT (+ pipelined writes)", "playhouse/pool.py", "__exit__"),
    ("  database driver: execute", "peewee.py", "execute_sql"),
    ("  psycopg2 cursor.execute", "bench/profile_create.py", "execute"),
)


def _layer_times(
    stats: pstats.Stats, count: int, layers: tuple[tuple[str, str, str], ...] = LAYERS
) -> list[tuple[str, float, int]]:
    rows = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for label, suffix, name in layers:
        total = 0.0
        calls = 0
        for (path, _line, func), (_cc, nc, _tt, ct, _callers) in raw.items():
            if func == name and path.endswith(suffix):
                total += ct
                calls += nc
        if calls:
            rows.append((label, total / count * 1e6, calls))
    return rows


def _requests(players: list[str], count: int) -> list[dict[str, Any]]:
    now = unix(SystemClock().now())
    out = []
    for i in range(count):
        ts, sig, body = bb.signed_line(players[i % len(players)], now)
        out.append(
            {
                "body": body,
                "headers": {
                    "Content-Type": "application/json",
                    "operator-name": "acme",
                    "timestamp": ts,
                    "signature": sig,
                },
            }
        )
    return out


def _send(client: falcon.testing.TestClient, batch: list[dict[str, Any]]) -> None:
    for r in batch:
        resp = client.simulate_post("/pam", body=r["body"], headers=r["headers"])
        if resp.status_code != 200:
            raise RuntimeError(f"{resp.status_code} {resp.text}")


def run(engine: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    players = bb.seed_players(url, args.players)
    db = open_database(url, pool_size=2)
    if engine == "postgresql":
        db.connect_params["connection_factory"] = _Connection
    else:
        _sqlite_counter(db)
    bind(db)
    config = Config(
        env="test",
        database_url=url,
        log_level="WARNING",
        log_format="json",
        partners=load_partners(str(ROOT / "config" / "demo_partners.toml")),
    )
    configure_logging(args.log_level, "json")  # as the bench's servers run
    app = create_app(config, db=db)
    client = falcon.testing.TestClient(app)
    _send(client, _requests(players, 200))  # warm up: caches, pool, accounts created
    timed = _requests(players, args.count)
    started, cpu, server = time.perf_counter(), time.process_time(), _server_cpu_s()
    _send(client, timed)
    wall_us = (time.perf_counter() - started) / args.count * 1e6
    cpu_us = (time.process_time() - cpu) / args.count * 1e6
    server_us = (_server_cpu_s() - server) / args.count * 1e6

    if args.statements:
        _Counter.log = []
        _send(client, _requests(players, 1))
        print(f"--- {engine}: one request's {len(_Counter.log)} driver calls")
        for text in _Counter.log:
            print("   ", text[:300].replace("\n", " "))
        _Counter.log = None

    profiled = _requests(players, args.count)
    _Counter.trips = _Counter.statements = 0
    profiler = cProfile.Profile()
    profiler.enable()
    _send(client, profiled)
    profiler.disable()
    trips = _Counter.trips / args.count
    statements = _Counter.statements / args.count
    stats = pstats.Stats(profiler)
    layers = _layer_times(stats, args.count)
    print(f"\n== {engine}: {wall_us:.0f} µs per signed ticket_create (unprofiled, {args.count})")
    print(f"   CPU per request: {cpu_us:.0f} µs in this process (client + app + driver)", end="")
    print(f", {server_us:.0f} µs in the PostgreSQL backend" if engine == "postgresql" else "")
    what = "driver calls (round trips)" if engine == "postgresql" else "statements"
    print(f"   {trips:.2f} {what} per request, {statements:.2f} SQL statements")
    print("   layer (profiled, cumulative µs per request; the profiler inflates Python code)")
    for label, us, calls in layers:
        print(f"   {label:<42} {us:8.0f}   ({calls / args.count:.2f} calls)")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)
    from bench.scale_bench import check_books

    books = check_books(url)
    print(
        f"   audit {'clean' if books['audit_ok'] else 'BROKEN'}, reconcile "
        f"{'clean' if books['reconcile_ok'] else 'BREACH'}"
    )
    _close(db)
    return {
        "wall_us": wall_us,
        "cpu_us": cpu_us,
        "server_cpu_us": server_us,
        "round_trips": trips,
        "statements": statements,
        "layers": {label.strip(): us for label, us, _ in layers},
        "books": books,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--log-level", default="WARNING", help="INFO adds the access log line")
    args = parser.parse_args()
    urls: dict[str, Callable[[], Any]] = {"sqlite": sqlite_url, "postgresql": postgres_url}
    ok = True
    for engine in args.engines:
        with urls[engine]() as url:
            if url is None:
                continue
            result = run(engine, url, args)
            ok = ok and result["books"]["audit_ok"] and result["books"]["reconcile_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
