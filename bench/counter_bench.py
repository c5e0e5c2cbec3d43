"""The sales counter on PostgreSQL: statements over a long history, and cashiers paying
winners concurrently.

    .venv/bin/python bench/counter_bench.py [--tickets 1000000] [--winners 1000]
        [--streams 2] [--only statements|payments] [--json PATH]

- `statements`: one window with `--tickets` lottery tickets spread over the last 730
  business days (ten sellers and the window itself), bulk-loaded with SQL: the ticket rows,
  and the `daily_activity` rows the sale path adds for them (one `INSERT … SELECT … GROUP BY`
  of those tickets: the same sums the sales would have made one by one). Then
  `GET /api/v1/accounts/statements` for the last 365 days, in-process through the whole
  falcon app (token, validation, RBAC, the query, JSON), timed 30 times; the same for the
  window's seller and for the banca. The 365 days' `totalSales` is checked against the
  ticket rows themselves, and the statement query's plan is printed.
- `payments`: `--winners` winning lottery tickets sold through the real sale service at two
  windows and evaluated by recording the draw's results; then `pamgate serve` (gunicorn, 2
  workers) and two cashiers (VENTANA tokens of the two windows) paying their windows'
  tickets concurrently over HTTP, each with `--streams` connections, sent by wrk
  (`wrk_payments.lua`: a C client, so the load generator takes little of the machine's
  CPU from the server); payments/s between the first and the last measured payment
  written (their `created_at`, after `--warmup` unmeasured payments per cashier) and as the
  client saw it, every ticket `PAID` once, and `reconcile()` clean afterwards. Needs `wrk`
  (Debian package `wrk`).

PostgreSQL runs on a throwaway database created on `PAMGATE_BENCH_PG` (default
postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import falcon.testing
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from betengine_bench import free_port  # noqa: E402
from lottery_bench import ADMIN_USER, postgres_url  # noqa: E402
from peewee import fn  # noqa: E402

from config.settings import Config  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.core import network, statements  # noqa: E402
from gateway.core.audit import Actor  # noqa: E402
from gateway.core.clock import FixedClock, SystemClock  # noqa: E402
from gateway.core.commands import Context  # noqa: E402
from gateway.core.lottery import draws, sales  # noqa: E402
from gateway.core.principal import VENTANA, Principal  # noqa: E402
from gateway.core.reconcile import reconcile  # noqa: E402
from gateway.http.auth import TokenService  # noqa: E402
from gateway.store.database import bind, open_database  # noqa: E402
from gateway.store.migrations import migrate  # noqa: E402
from gateway.store.models import Ticket, TicketPayment  # noqa: E402
from signing.keys import Keyring, generate_keypair  # noqa: E402
from signing.receipts import security_number  # noqa: E402

JWT_SECRET = "bench-jwt-secret-with-at-least-32-characters"
TZ = "America/Costa_Rica"
BOARD = "3,11,19,27,35,43"
PRIZES = {"base": {"6": 5_000_000, "5": 100_000, "4": 5_000, "3": 1_500}}


def _ctx(now: dt.datetime) -> Context:
    return Context(actor=Actor("user", "bench"), now=now, request_id="bench")


def _config(url: str) -> Config:
    return Config(env="test", database_url=url, jwt_secret=JWT_SECRET, timezone=TZ)


# --- statements ------------------------------------------------------------------------------

_LOAD_TICKETS = """
INSERT INTO ticket (id, channel, operator, external_id, banca_id, ventana_id, vendedor_id,
    type, currency, status, result, price, stake, gross_payout, net_payout, wht_amount,
    ext_amount, payout, paid_amount, generation, tombstone, raw, created_at, updated_at)
SELECT md5('t' || g)::uuid::text, 'lottery', %(banca)s, 'bulk-' || g, %(banca)s, %(ventana)s,
    CASE WHEN g %% 11 = 0 THEN NULL ELSE (%(sellers)s::text[])[1 + g %% 10] END,
    'lottery', 'MXN', 'EVALUATED', 'lost', 1500 * (1 + g %% 3), 1500 * (1 + g %% 3),
    0, 0, 0, 0, 0, 0, 0, false, '{}',
    %(start)s::timestamp + (g * %(step)s) * interval '1 second',
    %(start)s::timestamp + (g * %(step)s) * interval '1 second'
FROM generate_series(1, %(count)s) AS g
"""

# what the sale path adds per ticket, summed per seller and business day
_LOAD_DAYS = """
INSERT INTO daily_activity (banca, ventana, vendedor, day, currency, sales, payouts, paid,
    collected, settlements, finals)
SELECT banca_id, ventana_id, COALESCE(vendedor_id, ''),
    (created_at AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date, currency, SUM(stake),
    0, 0, 0, 0, 0
FROM ticket WHERE ventana_id = %(ventana)s
GROUP BY banca_id, ventana_id, COALESCE(vendedor_id, ''),
    (created_at AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date, currency
"""

_SALES_OF_RANGE = """
SELECT COALESCE(SUM(stake), 0) FROM ticket WHERE ventana_id = %(ventana)s
  AND (created_at AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date BETWEEN %(first)s AND %(last)s
"""


def _timed(client: Any, params: dict[str, str], headers: dict[str, str], runs: int) -> dict:
    times: list[float] = []
    body: Any = None
    for _ in range(runs):
        start = time.perf_counter()
        resp = client.simulate_get("/api/v1/accounts/statements", params=params, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200, resp.text
        body = resp.json
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "max_ms": round(times[-1], 1),
        "days": len(body["data"]),
        "body": body,
    }


def bench_statements(url: str, count: int) -> dict[str, Any]:
    now = SystemClock().now()
    db = bind(open_database(url, pool_size=4))
    migrate(db)
    statements.configure(TZ)
    ctx = _ctx(now)
    banca = network.create_banca(ctx, ADMIN_USER, network.NewBanca("Bench Banca")).result.id
    ventana = network.create_ventana(
        ctx, ADMIN_USER, network.NewVentana(banca, "Bench Ventana", 350)
    ).result.id
    sellers = [
        network.create_vendedor(
            ctx, ADMIN_USER, network.NewVendedor(ventana, f"Seller {i}", 200)
        ).result.id
        for i in range(10)
    ]
    start = now - dt.timedelta(days=730)
    step = 730 * 86400 / count
    print(f"[statements] loading {count:,} tickets over 730 days …", flush=True)
    t0 = time.perf_counter()
    args = {"banca": banca, "ventana": ventana, "sellers": sellers, "start": start}
    args |= {"step": step, "count": count, "tz": TZ}
    with db.atomic():
        cur = db.cursor()  # named parameters: straight to psycopg2
        cur.execute(_LOAD_TICKETS, args)
        cur.execute(_LOAD_DAYS, args)
    db.execute_sql("ANALYZE")
    load_s = time.perf_counter() - t0
    rows = db.execute_sql("SELECT COUNT(*) FROM daily_activity").fetchone()[0]
    app = create_app(_config(url), db=db, clock=FixedClock(now))
    client = falcon.testing.TestClient(app)
    admin = {"Authorization": f"Bearer {app.services.tokens.mint(ADMIN_USER)}"}
    window = Principal(user_id="bench-window", role=VENTANA, ventana_id=ventana)
    cashier = {"Authorization": f"Bearer {app.services.tokens.mint(window)}"}
    last = statements.business_day(now)
    first = last - dt.timedelta(days=364)
    span = {"from": first.isoformat(), "to": last.isoformat()}
    out: dict[str, Any] = {"tickets": count, "daily_rows": rows, "load_s": round(load_s, 1)}
    for label, params, headers in (
        ("window_365d", {"ventanaId": ventana, **span}, cashier),
        ("seller_365d", {"vendedorId": sellers[0], **span}, admin),
        ("banca_365d", {"bancaId": banca, **span}, admin),
    ):
        result = _timed(client, params, headers, 30)
        body = result.pop("body")
        out[label] = result
        if label == "window_365d":
            cur = db.cursor()
            cur.execute(
                _SALES_OF_RANGE, {"ventana": ventana, "tz": TZ, "first": first, "last": last}
            )
            expected = cur.fetchone()[0]
            got = sum(round(float(d["totalSales"]) * 100) for d in body["data"])
            assert got == expected, (got, expected)
            out["window_365d"]["sales_match_tickets"] = True
    sql, params = statements.history_query(statements.dimension("ventana", ventana), last).sql()
    plan = db.execute_sql("EXPLAIN ANALYZE " + sql, params).fetchall()
    out["plan"] = [line[0] for line in plan]
    db.close_all()
    return out


# --- payments --------------------------------------------------------------------------------


class _Board(sales.Randomness):
    def board(self) -> str:
        return BOARD


def _winners(url: str, count: int) -> tuple[str, list[str], dict[str, list[str]]]:
    now = SystemClock().now()
    db = bind(open_database(url, pool_size=4))
    migrate(db)
    statements.configure(TZ)
    ctx = _ctx(now)
    banca = network.create_banca(ctx, ADMIN_USER, network.NewBanca("Pay Banca")).result.id
    windows = [
        network.create_ventana(
            ctx, ADMIN_USER, network.NewVentana(banca, f"Window {i}", 350)
        ).result.id
        for i in range(2)
    ]
    draws.create(
        ctx,
        ADMIN_USER,
        draws.NewDraw(
            payee_id=banca,
            draw_number="P1",
            draw_date=now.date(),
            closes_at=now + dt.timedelta(hours=1),
            base_price=1500,
            rematch=1000,
            second_rematch=500,
            minimum_number_of_boards=1,
            maximum_number_of_boards=6,
            prizes=PRIZES,
            timezone="America/Mexico_City",
        ),
    )
    keys = Keyring.from_texts([("b", generate_keypair()[0], True)])
    sign = lambda r: security_number(keys.current.signing_key, r)  # noqa: E731
    by_window: dict[str, list[str]] = {w: [] for w in windows}
    print(f"[payments] selling {count:,} winners …", flush=True)
    for i in range(count):
        w = windows[i % 2]
        seller = Principal(
            user_id="pos",
            role=VENTANA,
            ventana_id=w,
            banca_id=banca,
            permissions=frozenset({"lottery_tickets_create"}),
        )
        cmd = sales.Purchase(banca, f"w-{i}", "P1", 1, False, False, 1500, "B", "S", "C", "N")
        sale = sales.purchase(_ctx(now), seller, cmd, sign, _Board())
        by_window[w].append(sale.result.ticket_id)
    draws.record_results(ctx, ADMIN_USER, "P1", [int(n) for n in BOARD.split(",")])
    db.close_all()
    return banca, windows, by_window


def _children_cpu(pid: int) -> list[float]:
    """CPU seconds (user + system) of each child of `pid` (gunicorn's workers): how evenly
    the connections were spread over them."""
    tick = os.sysconf("SC_CLK_TCK")
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(round((int(fields[11]) + int(fields[12])) / tick, 2))
    return sorted(found)


def bench_payments(url: str, count: int, streams: int, warmup: int) -> dict[str, Any]:
    _banca, windows, by_window = _winners(url, count + warmup * 2)
    # each cashier's first `warmup` payments warm the workers (connections, prepared
    # statements, caches) and are not measured
    measured = [t for w in windows for t in by_window[w][warmup:]]
    total = count + warmup * 2
    tokens = TokenService(JWT_SECRET, SystemClock(), ttl_s=3600)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PAMGATE_JWT_SECRET": JWT_SECRET,
        "PAMGATE_LOG_LEVEL": "WARNING",
        "PAMGATE_PARTNERS_FILE": str(ROOT / "config" / "demo_partners.toml"),
    }
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="pamgate-counter-bench-")) / "serve.log"

    argv = [str(ROOT / ".venv" / "bin" / "pamgate"), "serve", "--bind", f"127.0.0.1:{port}"]
    if not Path(argv[0]).exists():
        argv = [sys.executable, "-m", "gateway.cli", "serve", "--bind", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    pay_file = log.parent / "payments.tsv"
    with pay_file.open("w") as out:
        for k, window in enumerate(windows):
            who = Principal(user_id=f"cashier-{window[:8]}", role=VENTANA, ventana_id=window)
            token = tokens.mint(who)
            for t in by_window[window]:
                out.write(f"{k}\t{token}\t{t}\n")
    db = bind(open_database(url, pool_size=2))
    wrk = subprocess.Popen(
        [
            "wrk",
            f"-t{len(windows)}",
            f"-c{len(windows) * streams}",
            "-d600s",
            "-s",
            str(ROOT / "bench" / "wrk_payments.lua"),
            base,
        ],
        env={**os.environ, "PAY_FILE": str(pay_file)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    start = time.perf_counter()
    try:
        while TicketPayment.select().count() < total and wrk.poll() is None:
            if time.perf_counter() - start > 120:
                wrk.send_signal(signal.SIGINT)
                raise RuntimeError("payments did not finish in 120 s: " + wrk.communicate()[0])
            time.sleep(0.25)  # a count(*) costs the server too: not too often
        elapsed = time.perf_counter() - start
    finally:
        wrk.send_signal(signal.SIGINT)
        printed = wrk.communicate(timeout=30)[0]
        workers_cpu = _children_cpu(proc.pid)
        proc.terminate()
        proc.wait(timeout=30)
    statuses = {int(m[0]): int(m[1]) for m in re.findall(r"^STATUS (\d+) (\d+)$", printed, re.M)}
    first, last = (
        TicketPayment.select(fn.MIN(TicketPayment.created_at), fn.MAX(TicketPayment.created_at))
        .where(TicketPayment.ticket.in_(measured))
        .scalar(as_tuple=True)
    )
    span = (last - first).total_seconds()
    paid = Ticket.select().where(Ticket.status == "PAID").count()
    payments = TicketPayment.select().count()
    ok = reconcile().ok
    db.close_all()
    assert statuses.get(201) == total, (statuses, printed[-2000:])
    assert paid == total and payments == total and ok
    return {
        "payments": count,
        "warmup_per_cashier": warmup,
        "cashiers": len(windows),
        "connections_per_cashier": streams,
        "client": "wrk (bench/wrk_payments.lua)",
        "seconds_server": round(span, 2),
        "seconds_client": round(elapsed, 2),
        "payments_per_s": round((count - 1) / span, 1),
        "payments_per_s_client": round(total / elapsed, 1),
        "statuses": statuses,
        "workers_cpu_s": workers_cpu,
        "all_paid_once": True,
        "reconcile_ok": ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--winners", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=50, help="payments per cashier, unmeasured")
    parser.add_argument("--only", choices=("statements", "payments"), default=None)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "counter.json")
    args = parser.parse_args()
    results: dict[str, Any] = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if args.only != "payments":
        with postgres_url() as url:
            if url is None:
                return 0
            results["statements"] = bench_statements(url, args.tickets)
        s = results["statements"]
        print(f"\nstatements, {s['tickets']:,} tickets ({s['daily_rows']:,} day rows), 365 days:")
        for label in ("window_365d", "seller_365d", "banca_365d"):
            r = s[label]
            print(f"  {label:<12} p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  max {r['max_ms']} ms")
        print("  the window's query plan (EXPLAIN ANALYZE):")
        for line in s["plan"]:
            print("    " + line)
    if args.only != "statements":
        with postgres_url() as url:
            if url is None:
                return 0
            results["payments"] = bench_payments(url, args.winners, args.streams, args.warmup)
        p = results["payments"]
        print(
            f"payments: {p['payments']} by 2 cashiers x {p['connections_per_cashier']} "
            f"connections (wrk): {p['payments_per_s']} payments/s between the first and the "
            f"last measured payment written ({p['seconds_server']} s, after "
            f"{p['warmup_per_cashier']} per cashier to warm up; {p['payments_per_s_client']}/s "
            f"as the client saw the whole run, {p['seconds_client']} s; workers' CPU "
            f"{p['workers_cpu_s']} s), each ticket paid once, "
            f"reconcile {'clean' if p['reconcile_ok'] else 'NOT CLEAN'}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
