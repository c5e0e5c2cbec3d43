"""Lottery throughput: purchases per second, and the time to evaluate a large draw.

    .venv/bin/python bench/lottery_bench.py [--purchases 300] [--tickets 100000]
        [--engines sqlite,postgres] [--json PATH]

Per database:
- `purchase/http`: `POST /api/v1/lottery_tickets` in-process through the whole falcon app
  (token check, validation, idempotency claim, ticket + ledger + audit writes, Ed25519
  signature, the receipt PNG with its QR code), one thread, each its own transaction;
- `purchase/core`: the same sale through `gateway.core.lottery.sales.purchase` alone (no
  HTTP, no image);
- `evaluate`: `--tickets` tickets (1 to 6 boards each, random options) bulk-loaded into one
  draw, then `draws.record_results` timed: every ticket evaluated, winners updated, the
  settlements written and the prize liability posted, in one transaction. `reconcile()`
  must then find the books clean (its time is printed too).

SQLite runs on a temporary file; PostgreSQL on a throwaway database created on
`PAMGATE_BENCH_PG` (default postgresql://postgres@127.0.0.1:5432/test) and dropped
afterwards, skipped when unreachable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import falcon.testing
import psycopg2
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import Config  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.core import network, tickets  # noqa: E402
from gateway.core.audit import Actor  # noqa: E402
from gateway.core.clock import FixedClock  # noqa: E402
from gateway.core.commands import Context  # noqa: E402
from gateway.core.lottery import draws, sales  # noqa: E402
from gateway.core.principal import ADMIN, VENTANA, Principal  # noqa: E402
from gateway.core.reconcile import reconcile  # noqa: E402
from gateway.store.database import bind, open_database, unit_of_work  # noqa: E402
from gateway.store.migrations import migrate  # noqa: E402
from gateway.store.models import LotteryTicket, Ticket  # noqa: E402
from signing.receipts import security_number  # noqa: E402

PG_SERVER = os.environ.get("PAMGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_USER = Principal(user_id="bench-admin", role=ADMIN)
PRIZES = {
    "base": {"6": 5_000_000, "5": 100_000, "4": 5_000, "3": 1_500},
    "rematch": {"6": 1_000_000, "5": 20_000, "4": 1_000},
    "second_rematch": {"6": 200_000, "5": 5_000},
}
LOAD_CHUNK = 500


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="pamgate-lottery-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str | None]:
    try:
        admin = psycopg2.connect(PG_SERVER, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        print(f"postgres: skipped ({str(exc).strip().splitlines()[0]})", file=sys.stderr)
        yield None
        return
    admin.autocommit = True
    name = f"pamgate_lottery_bench_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(PG_SERVER)._replace(path="/" + name))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _ctx(clock: FixedClock) -> Context:
    return Context(actor=Actor("user", "bench"), now=clock.now(), request_id="bench")


def _draw(clock: FixedClock, payee: str, number: str) -> None:
    draws.create(
        _ctx(clock),
        ADMIN_USER,
        draws.NewDraw(
            payee_id=payee,
            draw_number=number,
            draw_date=dt.date(2026, 11, 22),
            closes_at=clock.now() + dt.timedelta(days=1),
            base_price=1500,
            rematch=1000,
            second_rematch=500,
            minimum_number_of_boards=1,
            maximum_number_of_boards=6,
            prizes=PRIZES,
            timezone="America/Mexico_City",
        ),
    )


def _body(payee: str, ref: str, draw: str) -> dict[str, Any]:
    return {
        "payee_id": payee,
        "payer_reference": ref,
        "ticket": {
            "draw_number": draw,
            "combination_count": 3,
            "rematch": True,
            "second_rematch": True,
            "total_amount": "9000",
        },
        "branch": {
            "name": "Abarrotes Don Pepe",
            "street": "Av. Insurgentes Sur 1234",
            "city": "Ciudad de México",
            "neighborhood": "Del Valle",
        },
    }


def bench_purchases(url: str, count: int) -> dict[str, float]:
    db = bind(open_database(url, pool_size=4))
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
    ventana = network.create_ventana(
        _ctx(clock), ADMIN_USER, network.NewVentana(banca, "W", 0)
    ).result.id
    _draw(clock, banca, "P1")
    seller = Principal(
        user_id="pos",
        role=VENTANA,
        ventana_id=ventana,
        permissions=frozenset({"lottery_tickets_create"}),
    )
    headers = {"Authorization": f"Bearer {app.services.tokens.mint(seller)}"}
    client = falcon.testing.TestClient(app)
    started = time.perf_counter()
    for i in range(count):
        resp = client.simulate_post(
            "/api/v1/lottery_tickets", json=_body(banca, f"h{i}", "P1"), headers=headers
        )
        assert resp.status_code == 200, resp.text
    http = count / (time.perf_counter() - started)
    key = app.services.keys.current.signing_key
    resolved = Principal(
        user_id="pos",
        role=VENTANA,
        ventana_id=ventana,
        banca_id=banca,
        permissions=seller.permissions,
    )
    started = time.perf_counter()
    for i in range(count):
        cmd = sales.Purchase(
            payee_id=banca,
            payer_reference=f"c{i}",
            draw_number="P1",
            combination_count=3,
            rematch=True,
            second_rematch=True,
            total_amount=9000,
            branch_name="x",
            branch_street="x",
            branch_city="x",
            branch_neighborhood="x",
        )
        sales.purchase(_ctx(clock), resolved, cmd, lambda r: security_number(key, r))
    core = count / (time.perf_counter() - started)
    _close(db)
    return {"purchase/http": http, "purchase/core": core}


def _close(db: Any) -> None:
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()


def bench_evaluation(url: str, count: int) -> dict[str, float]:
    db = bind(open_database(url, pool_size=4))
    migrate(db)
    clock = FixedClock()
    banca = network.create_banca(_ctx(clock), ADMIN_USER, network.NewBanca("Bench")).result.id
    ventana = network.create_ventana(
        _ctx(clock), ADMIN_USER, network.NewVentana(banca, "W", 0)
    ).result.id
    _draw(clock, banca, "E1")
    draw_id = draws.LotteryDraw.get(draws.LotteryDraw.draw_number == "E1").id
    rng = random.Random(7)
    started = time.perf_counter()
    for start in range(0, count, LOAD_CHUNK):
        ticket_rows, lottery_rows = [], []
        for i in range(start, min(count, start + LOAD_CHUNK)):
            ticket_id = str(uuid.UUID(int=rng.getrandbits(128)))
            boards = "|".join(
                ",".join(str(n) for n in sorted(rng.sample(range(1, 57), 6)))
                for _ in range(rng.randint(1, 6))
            )
            rematch = rng.random() < 0.5
            second = rematch and rng.random() < 0.5
            ticket_rows.append(
                {
                    name: value
                    for name, value in sales._ticket_row(
                        {
                            "id": ticket_id,
                            "channel": "lottery",
                            "operator": banca,
                            "external_id": f"ref-{i}",
                            "code": f"{i:09d}-00000000",
                            "banca": banca,
                            "ventana": ventana,
                            "type": "lottery",
                            "currency": "MXN",
                            "status": tickets.OPEN,
                            "result": tickets.PENDING,
                            "price": 1500,
                            "stake": 1500,
                            "raw": "{}",
                            "created_at": clock.now(),
                            "updated_at": clock.now(),
                        }
                    ).items()
                }
            )
            lottery_rows.append(
                {
                    "ticket": ticket_id,
                    "draw": draw_id,
                    "payee": banca,
                    "payer_reference": f"ref-{i}",
                    "boards": boards,
                    "combination_count": boards.count("|") + 1,
                    "rematch": rematch,
                    "second_rematch": second,
                    "total": 1500,
                    "reference_number": f"{i:09d}-0",
                    "serial_number": f"s{i}",
                    "transaction_number": f"t{i}",
                    "session_id": "0",
                    "payment_id": "p",
                    "security_number": "x",
                    "created_at": clock.now(),
                }
            )
        with unit_of_work(db):
            Ticket.insert_many(
                [{Ticket._meta.columns[c].name: v for c, v in row.items()} for row in ticket_rows]
            ).execute()
            LotteryTicket.insert_many(lottery_rows).execute()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    view = draws.record_results(_ctx(clock), ADMIN_USER, "E1", [3, 11, 19, 27, 35, 43]).result
    evaluation = time.perf_counter() - started
    assert view.evaluated == count, view
    started = time.perf_counter()
    report = reconcile()
    reconciled = time.perf_counter() - started
    if not report.ok:
        print(report.render(), file=sys.stderr)
        raise SystemExit(1)
    _close(db)
    print(
        f"  loaded {count} tickets in {loaded:.1f} s; {view.winners} winners, payout "
        f"{view.payout_total} cents; reconcile {reconciled:.1f} s",
        file=sys.stderr,
    )
    return {"evaluate_s": evaluation, "winners": view.winners, "reconcile_s": reconciled}


def main() -> int:
    # one log line per request would drown the figures
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=300)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for engine in args.engines.split(","):
        opener = sqlite_url if engine == "sqlite" else postgres_url
        row: dict[str, float] = {}
        with opener() as url:
            if url is None:
                continue
            row.update(bench_purchases(url, args.purchases))
        with opener() as url:
            if url is None:
                continue
            row.update(bench_evaluation(url, args.tickets))
        results[engine] = row
        print(
            f"{engine:9} purchases/s http {row['purchase/http']:7.1f}  "
            f"core {row['purchase/core']:7.1f}   evaluate {args.tickets} tickets "
            f"{row['evaluate_s']:6.2f} s ({int(row['winners'])} winners)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
