"""A real `pamgate serve` (gunicorn) for tests that talk to it over loopback HTTP.

`database_url` gives a database of the test's own (a SQLite file, or a fresh PostgreSQL
database when `PAMGATE_TEST_DATABASE_URL` is set, dropped afterwards), `server_env` the
environment `pamgate` reads, `pamgate(...)` runs a CLI verb with it and `serve(...)` starts
gunicorn on a free port, waits for `/healthz` and stops it at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
PAMGATE = [sys.executable, "-m", "gateway.cli"]
DEMO_PARTNERS = ROOT / "config" / "demo_partners.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database_url(tmp_path: Path, name: str = "live") -> Iterator[str]:
    """A SQLite file in `tmp_path`, or (with `PAMGATE_TEST_DATABASE_URL`) a new PostgreSQL
    database of this test's own, dropped at the end. Not migrated: `pamgate migrate` does."""
    admin_url = os.environ.get("PAMGATE_TEST_DATABASE_URL", "")
    if not admin_url:
        yield f"sqlite:///{tmp_path / (name + '.db')}"
        return
    db_name = f"pamgate_{name}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{db_name}"')
        yield urlunparse(urlparse(admin_url)._replace(path="/" + db_name))
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    finally:
        admin.close()


def server_env(database_url: str, partners_file: Path, port: int, **extra: str) -> dict[str, str]:
    """What `pamgate` reads: this process's environment plus the server's settings."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PAMGATE_PARTNERS_FILE": str(partners_file),
        "PAMGATE_BIND": f"127.0.0.1:{port}",
        "PAMGATE_WORKERS": "2",
        "PAMGATE_LOG_FORMAT": "json",
        **extra,
    }
    env.pop("PAMGATE_TEST_DATABASE_URL", None)
    return env


def pamgate(
    env: dict[str, str], *args: str, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one `pamgate` verb (from the checkout) with `env`; output captured as text."""
    return subprocess.run(
        [*PAMGATE, *args],
        env=env,
        check=check,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class LiveServer:
    base: str  # http://127.0.0.1:PORT
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def serve(
    env: dict[str, str],
    log_path: Path,
    *,
    start_timeout_s: float = 20,
    command: list[str] | None = None,
    cwd: Path = ROOT,
) -> Iterator[LiveServer]:
    """`pamgate serve` with `env` (bind from `PAMGATE_BIND`), ready when `/healthz` is 200;
    terminated (and waited for) on exit. `command`: another `pamgate` (an installed one)."""
    port = int(env["PAMGATE_BIND"].rsplit(":", 1)[1])
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [*(command or PAMGATE), "serve"], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start: " + log_path.read_text()[-2000:])
                time.sleep(0.1)
            yield LiveServer(base, port, env, log_path, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
