"""Payments registry throughput: requests per second through the whole falcon app, in
process, and the cost of the registry's reconciliation check.

    .venv/bin/python bench/payments_bench.py [--payments 1000] [--threads 8]
        [--engines sqlite,postgres] [--json PATH]

Per database, with a cookie token of a sales window holding every `payments_*` permission:
- `post`: `POST /payments` (token, validation, currency lookup, the payment row under its
  unique `transaction_id`, the `payment.received` ledger transaction, the audit line), one
  thread, each request its own transaction;
- `post/threads`: the same with `--threads` threads at once (distinct transaction ids);
- `put`: `PUT /payments/{id}` changing the amount (the row locked, `payment.corrected`);
- `get_list`: `GET /payments` with every payment recorded (ms per request);
- `delete`: `DELETE /payments/{id}` (the links checked, every transaction mirrored);
- `reconcile`: `reconcile()` over the result (every check, the registry's included), which
  must be clean.

SQLite runs on a temporary file; PostgreSQL on a throwaway database created on
`PAMGATE_BENCH_PG` (default postgresql://postgres@127.0.0.1:5432/test) and dropped
afterwards, skipped when unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import falcon.testing
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lottery_bench import ADMIN_USER, _close, _ctx, postgres_url, sqlite_url  # noqa: E402
from config.settings import Config  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.core import network  # noqa: E402
from gateway.core.clock import FixedClock  # noqa: E402
from gateway.core.principal import VENTANA, Principal  # noqa: E402
from gateway.core.reconcile import reconcile  # noqa: E402
from gateway.store.database import bind, database, open_database  # noqa: E402
from gateway.store.migrations import migrate  # noqa: E402
from gateway.store.schema_0009 import currency_id, method_id  # noqa: E402

PERMISSIONS = frozenset({"payments_read", "payments_create", "payments_update", "payments_delete"})


def _body(txn: str, amount: str) -> str:
    return (
        f'{{"method_id":"{method_id("Bitcoin Lightning")}","currency_id":"{currency_id("BTC")}",'
        f'"transaction_id":"{txn}","amount":{amount}}}'
    )


def _rate(count: int, started: float) -> float:
    return count / (time.perf_counter() - started)


def bench(url: str, count: int, threads: int) -> dict[str, float]:
    db = bind(open_database(url, pool_size=threads + 2))
    migrate(db)
    clock = FixedClock()
    config = Config(
        env="test",
        database_url=url,
        jwt_secret="bench-jwt-secret-with-at-least-32-characters",  # noqa: S106
        log_format="json",
        rejection_flush_s=0,
    )
    app = create_app(config, db=db, clock=clock)
    banca = network.create_banca(_ctx(clock), ADMIN_USER, network.NewBanca("Bench")).result.id
    window = network.create_ventana(
        _ctx(clock), ADMIN_USER, network.NewVentana(banca, "W", 0)
    ).result.id
    cashier = Principal("pos", VENTANA, ventana_id=window, permissions=PERMISSIONS)
    headers = {"Cookie": f"accessToken={app.services.tokens.mint(cashier)}"}
    client = falcon.testing.TestClient(app)
    row: dict[str, float] = {}

    ids: list[str] = []
    started = time.perf_counter()
    for i in range(count):
        resp = client.simulate_post("/payments", body=_body(f"p{i}", "0.00025"), headers=headers)
        assert resp.status_code == 201, resp.text
        ids.append(resp.json["id"])
    row["post"] = _rate(count, started)

    per_thread = count // threads
    barrier = threading.Barrier(threads)

    def worker(t: int) -> None:
        mine = falcon.testing.TestClient(app)
        barrier.wait()
        try:
            for i in range(per_thread):
                body = _body(f"t{t}-{i}", "0.0001")
                resp = mine.simulate_post("/payments", body=body, headers=headers)
                assert resp.status_code == 201, resp.text
        finally:
            database.close()

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    row["post/threads"] = _rate(per_thread * threads, started)

    started = time.perf_counter()
    for i, pid in enumerate(ids):
        body = _body(f"p{i}", "0.0003")
        resp = client.simulate_put(f"/payments/{pid}", body=body, headers=headers)
        assert resp.status_code == 200, resp.text
    row["put"] = _rate(count, started)

    started = time.perf_counter()
    for _ in range(5):
        assert client.simulate_get("/payments", headers=headers).status_code == 200
    row["get_list_ms"] = (time.perf_counter() - started) / 5 * 1000
    row["listed"] = count + per_thread * threads

    started = time.perf_counter()
    for pid in ids:
        assert client.simulate_delete(f"/payments/{pid}", headers=headers).status_code == 204
    row["delete"] = _rate(count, started)

    started = time.perf_counter()
    report = reconcile()
    row["reconcile_s"] = time.perf_counter() - started
    assert report.ok, report.render()
    _close(db)
    return row


def main() -> int:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    for engine in args.engines.split(","):
        opener = sqlite_url if engine == "sqlite" else postgres_url
        with opener() as url:
            if url is None:
                continue
            row = bench(url, args.payments, args.threads)
        results[engine] = row
        print(
            f"{engine:9} POST/s {row['post']:6.1f}  POST/s x{args.threads} "
            f"{row['post/threads']:6.1f}  PUT/s {row['put']:6.1f}  DELETE/s {row['delete']:6.1f}"
            f"  GET list of {int(row['listed'])} {row['get_list_ms']:6.1f} ms"
            f"  reconcile {row['reconcile_s']:.2f} s"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
