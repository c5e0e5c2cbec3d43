"""Where one ticket payment (`POST /api/v1/ticket-payments`) spends its time, in process.

    .venv/bin/python bench/profile_payment.py [--count 500] [--top 30] [--statements]

On a throwaway PostgreSQL database (`PAMGATE_BENCH_PG`): sells `2 x --count` winning lottery
tickets at two windows (as `counter_bench.py` does), builds the whole falcon app and pays
them one after another through `falcon.testing` with a VENTANA token (half unprofiled, for
the mean wall and CPU per payment and the backend's CPU; half under cProfile). Prints the
round trips and statements per payment, optionally one payment's SQL, the layers and the
`--top` functions by own time; reconcile must be clean afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import falcon.testing

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench import profile_create as pc  # noqa: E402
from bench.counter_bench import JWT_SECRET, _config, _winners  # noqa: E402
from bench.lottery_bench import _close, postgres_url  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.core.clock import SystemClock  # noqa: E402
from gateway.core.principal import VENTANA, Principal  # noqa: E402
from gateway.core.reconcile import reconcile  # noqa: E402
from gateway.http.auth import TokenService  # noqa: E402
from gateway.logs import configure_logging  # noqa: E402
from gateway.store.database import bind, open_database  # noqa: E402

LAYERS = (
    ("falcon app (whole request)", "falcon/app.py", "__call__"),
    ("  middleware: request context", "gateway/http/middleware.py", "process_request"),
    ("  middleware: access log + metrics", "gateway/http/middleware.py", "process_response"),
    ("  authenticate (token + principal)", "gateway/http/auth.py", "require"),
    ("  schema validation", "adapters/backoffice/translate.py", "load"),
    ("  ticket currency", "gateway/core/payouts.py", "currency_of"),
    ("  payouts.pay (command)", "gateway/core/payouts.py", "pay"),
    ("    idempotency claim", "gateway/core/idempotency.py", "claim"),
    ("    principal resolved again", "gateway/core/network.py", "resolve_principal"),
    ("    ticket read + lock", "gateway/core/payouts.py", "_lock_ticket"),
    ("    ledger.post", "gateway/core/ledger.py", "post"),
    ("    daily statement row", "gateway/core/statements.py", "record_payout"),
    ("    idempotency complete", "gateway/core/idempotency.py", "complete"),
    ("    audit append", "gateway/core/audit.py", "append"),
    ("  database driver: execute", "peewee.py", "execute_sql"),
    ("  psycopg2 cursor.execute", "bench/profile_create.py", "execute"),
)


def _pay(client: Any, headers: dict[str, str], tickets: list[str]) -> None:
    for t in tickets:
        resp = client.simulate_post(
            "/api/v1/ticket-payments",
            json={"ticketId": t, "amountPaid": 50000, "idempotencyKey": f"pay-{t}"},
            headers=headers,
        )
        if resp.status_code != 201:
            raise RuntimeError(f"{resp.status_code} {resp.text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--statements", action="store_true")
    args = parser.parse_args()
    with postgres_url() as url:
        if url is None:
            return 1
        _banca, windows, by_window = _winners(url, 2 * args.count + 20)
        db = open_database(url, pool_size=2)
        db.connect_params["connection_factory"] = pc._Connection
        bind(db)
        configure_logging("WARNING", "json")
        app = create_app(_config(url), db=db)
        client = falcon.testing.TestClient(app)
        window = windows[0]
        tickets = by_window[window]
        who = Principal(user_id="cashier-bench", role=VENTANA, ventana_id=window)
        token = TokenService(JWT_SECRET, SystemClock(), ttl_s=3600).mint(who)
        headers = {"Authorization": f"Bearer {token}"}
        _pay(client, headers, tickets[:10])  # warm up
        timed, profiled, last = (
            tickets[10 : 10 + args.count // 2],
            tickets[10 + args.count // 2 :],
            None,
        )
        if args.statements:
            last, profiled = profiled[-1], profiled[:-1]
        started, cpu, server = time.perf_counter(), time.process_time(), pc._server_cpu_s()
        _pay(client, headers, timed)
        n = len(timed)
        wall = (time.perf_counter() - started) / n * 1e6
        cpu_us = (time.process_time() - cpu) / n * 1e6
        server_us = (pc._server_cpu_s() - server) / n * 1e6
        pc._Counter.trips = pc._Counter.statements = 0
        profiler = cProfile.Profile()
        profiler.enable()
        _pay(client, headers, profiled)
        profiler.disable()
        trips = pc._Counter.trips / len(profiled)
        stmts = pc._Counter.statements / len(profiled)
        if last is not None:
            pc._Counter.log = []
            _pay(client, headers, [last])
            print(f"--- one payment's {len(pc._Counter.log)} driver calls")
            for text in pc._Counter.log:
                print("   ", text[:400].replace("\n", " "))
            pc._Counter.log = None
        print(f"\n== postgresql: {wall:.0f} µs per ticket payment (unprofiled, {n})")
        print(f"   CPU per payment: {cpu_us:.0f} µs in this process, {server_us:.0f} µs backend")
        print(f"   {trips:.2f} round trips, {stmts:.2f} SQL statements per payment")
        stats = pstats.Stats(profiler)
        for label, us, calls in pc._layer_times(stats, len(profiled), LAYERS):
            print(f"   {label:<42} {us:8.0f}   ({calls / len(profiled):.2f} calls)")
        if args.top:
            stats.sort_stats("tottime").print_stats(args.top)
        print(f"   reconcile {'clean' if reconcile().ok else 'BREACH'}")
        _close(db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
