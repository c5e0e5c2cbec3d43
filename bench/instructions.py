"""Instructions per signed `ticket_create`, counted by valgrind: a CPU figure that does not
move with the machine's load.

    .venv/bin/python bench/instructions.py                     # this checkout, SQLite
    .venv/bin/python /tmp/instructions.py --root .             # a copy, after git checkout OLD
    .venv/bin/python bench/instructions.py --gevent            # as a gunicorn worker runs

Wall-clock figures on the shared development box move by half within an hour (the same
Python loop took 0.5 s, then 1.0 s), so a 5 % change in CPU per request cannot be seen in
them. Instructions can: runs of one build agree within 0.1 %, with or without other load on
the machine. The checkout's path alone moves the count by ~0.5 % (strings and lookups of
different lengths), so two builds are compared at one path: copy this script out, `git
checkout` the old build, run the copy with `--root`, then the same for the new one. The
script runs itself twice under `valgrind --tool=callgrind` (Debian package `valgrind`),
each run seeding a fresh SQLite database, warming up, then sending `--small` and `--large`
pre-signed `ticket_create` requests straight into the WSGI app (every middleware, the
signature check, the schemas, the core, the commit and the log's flush; no HTTP server, no
client); the difference of the two totals over the difference of the counts is the cost of
one request. It counts user-space instructions only: what the kernel does for the request's
system calls (log writes, the flush) is not in it, nor the gunicorn worker's HTTP parsing
(the echo's share).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

THIS = Path(__file__).resolve()
PG_SERVER = os.environ.get("PAMGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def _postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on `PAMGATE_BENCH_PG`'s server, dropped after."""
    import psycopg2

    admin = psycopg2.connect(PG_SERVER, connect_timeout=3)
    admin.autocommit = True
    name = f"pamgate_instructions_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(PG_SERVER)._replace(path="/" + name))
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _inner(root: Path, count: int, players: int, gevent: bool, pg_url: str | None) -> None:
    """One measured process: seed, warm up, send `count` requests (run under valgrind).
    `pg_url`: a PostgreSQL database to use instead of a new SQLite file."""
    if gevent:
        from gevent import monkey

        monkey.patch_all()
    sys.path.insert(0, str(root))
    os.chdir(root)
    import falcon.testing

    from bench import betengine_bench as bb
    from config.partners import load_partners
    from config.settings import Config
    from gateway.app import create_app
    from gateway.core.clock import SystemClock, unix
    from gateway.logs import configure_logging
    from gateway.store.database import bind, open_database

    with tempfile.TemporaryDirectory(prefix="pamgate-instructions-") as tmp:
        url = pg_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        ids = bb.seed_players(url, players)
        db = bind(open_database(url, pool_size=2))
        config = Config(
            env="test",
            database_url=url,
            log_level="WARNING",
            log_format="json",
            partners=load_partners(str(root / "config" / "demo_partners.toml")),
        )
        configure_logging("WARNING", "json")
        app = create_app(config, db=db)
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return None

        def send(n: int) -> None:
            now = unix(SystemClock().now())
            batch = []
            for i in range(n):
                ts, sig, body = bb.signed_line(ids[i % len(ids)], now)
                headers = {
                    "Content-Type": "application/json",
                    "operator-name": "acme",
                    "timestamp": ts,
                    "signature": sig,
                }
                env = falcon.testing.create_environ(
                    method="POST", path="/pam", body=body, headers=headers
                )
                batch.append((env, body))
            for env, body in batch:
                env["wsgi.input"] = io.BytesIO(body)
                b"".join(app(env, start_response))  # type: ignore[arg-type]
                if not statuses[-1].startswith("200"):
                    raise SystemExit(f"ticket_create answered {statuses[-1]}")

        send(players)  # warm up: every wallet read once, caches filled
        send(count)
        db.close_all()


def _count(root: Path, count: int, players: int, gevent: bool, pg_url: str | None) -> int:
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(THIS),
        "--inner",
        str(count),
        "--root",
        str(root),
        "--players",
        str(players),
        *(["--gevent"] if gevent else []),
        *(["--pg-url", pg_url] if pg_url else []),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=THIS.parents[1], help="checkout to measure")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=500)
    parser.add_argument("--players", type=int, default=50)
    parser.add_argument("--gevent", action="store_true", help="monkey-patched, as in gunicorn")
    parser.add_argument(
        "--engine",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: the gateway's own instructions (the server is another process)",
    )
    parser.add_argument("--inner", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--pg-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.root.resolve()
    if args.inner:
        _inner(root, args.inner, args.players, args.gevent, args.pg_url)
        return 0
    if not shutil.which("valgrind"):
        print("valgrind is required: apt-get install valgrind", file=sys.stderr)
        return 2
    if args.large <= args.small:
        parser.error("--large must exceed --small")
    totals = []
    for count in (args.small, args.large):
        if args.engine == "postgresql":
            with _postgres_database() as url:
                totals.append(_count(root, count, args.players, args.gevent, url))
        else:
            totals.append(_count(root, count, args.players, args.gevent, None))
    per_request = (totals[1] - totals[0]) / (args.large - args.small)
    mode = "gevent" if args.gevent else "plain"
    engine = "PostgreSQL, the gateway's process" if args.engine == "postgresql" else "SQLite"
    print(f"{root}: {per_request:,.0f} instructions per signed ticket_create ({engine}, {mode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
