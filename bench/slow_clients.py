"""Slow senders against `pamgate serve`: does `/healthz` stay fast while many clients trickle
their headers or hold back a body they declared, and what do those clients get back?

    .venv/bin/python bench/slow_clients.py [--senders 50] [--seconds 8] [--root DIR]
    .venv/bin/python bench/slow_clients.py --gunicorn "--worker-class gthread --threads 8"

Starts `pamgate serve` (2 workers, SQLite in a temporary directory) on a free loopback
port; with `--gunicorn ARGS` it starts `gunicorn --config gunicorn.conf.py ARGS wsgi:app`
instead, to compare other worker models. `--root` points at another checkout (e.g. an
export of an older commit) to measure it with this script. Three phases, each of
`--seconds`:

- `idle`: `/healthz` timed back to back, nothing else connected (the floor);
- `trickle`: `--senders` sockets send a request line, then one header byte every 0.5 s;
- `stalled_body`: `--senders` sockets send complete headers declaring a 1000-byte body
  and one byte of it, then nothing.

During each phase `/healthz` is requested every 0.2 s on a fresh connection (each sample
waits at most 60 s); p50 and max latency are reported. After each phase the slow sockets
are watched for up to 35 s: what the server answered them (status line, or "closed") and
after how long. Prints a table and writes bench/results/slow_clients.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(root: Path, port: int, work: Path, gunicorn_args: str | None) -> subprocess.Popen:
    db = f"sqlite:///{work / 'slow.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "PAMGATE_LOG_LEVEL": "WARNING",
        "PAMGATE_LOG_FORMAT": "json",
        "PAMGATE_WORKERS": "2",
        "PAMGATE_BIND": f"127.0.0.1:{port}",
        "PYTHONPATH": str(root),
        "PAMGATE_PARTNERS_FILE": str(root / "config" / "demo_partners.toml"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "migrate"],
        env=env,
        cwd=root,
        check=True,
        capture_output=True,
    )
    if gunicorn_args:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(root / "gunicorn.conf.py"),
            "--chdir",
            str(root),
            *shlex.split(gunicorn_args),
            "wsgi:app",
        ]
    else:
        argv = [sys.executable, "-m", "gateway.cli", "serve"]
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen(argv, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(150):
        if healthz(port, timeout=1.0) is not None:
            return proc
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("server did not start: " + (work / "serve.log").read_text()[-2000:])


def healthz(port: int, timeout: float = 60.0) -> float | None:
    """Seconds for one `GET /healthz` on a new connection, None if it failed."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    if not data.startswith(b"HTTP/1.1 200"):
        return None
    return time.perf_counter() - t0


class SlowSenders:
    """`count` sockets that each send `opening`, then `drip` every 0.5 s (if any)."""

    def __init__(self, port: int, count: int, opening: bytes, drip: bytes) -> None:
        self.socks: list[socket.socket] = []
        self.opened: dict[socket.socket, float] = {}
        self.answers: dict[socket.socket, tuple[str, float]] = {}
        self._drip = drip
        self._stop = threading.Event()
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(opening)
            s.setblocking(False)
            self.socks.append(s)
            self.opened[s] = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for s in self.socks:
                if self._drip and s not in self.answers:
                    with contextlib.suppress(OSError):
                        s.send(self._drip)
            self._collect(0)

    def _collect(self, timeout: float) -> None:
        pending = [s for s in self.socks if s not in self.answers]
        if not pending:
            return
        with selectors.DefaultSelector() as sel:
            for s in pending:
                sel.register(s, selectors.EVENT_READ)
            for key, _ in sel.select(timeout):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                line = data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
                self.answers[s] = (line, time.perf_counter() - self.opened[s])

    def finish(self, wait_s: float) -> dict[str, Any]:
        """Stop dripping, watch the sockets up to `wait_s`, close them, summarise."""
        deadline = time.perf_counter() + wait_s
        while len(self.answers) < len(self.socks) and time.perf_counter() < deadline:
            self._collect(0.2)
        self._stop.set()
        self._thread.join()
        for s in self.socks:
            s.close()
        answers = Counter(line for line, _ in self.answers.values())
        answers["no answer within the watch"] = len(self.socks) - len(self.answers)
        delays = [t for _, t in self.answers.values()]
        return {
            "answers": {k: v for k, v in answers.items() if v},
            "answered_after_s": [round(min(delays), 1), round(max(delays), 1)] if delays else None,
        }


def probe(port: int, seconds: float) -> dict[str, Any]:
    samples: list[float | None] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        samples.append(healthz(port))
        time.sleep(0.2)
    ok = sorted(s for s in samples if s is not None)
    return {
        "samples": len(samples),
        "failed": len(samples) - len(ok),
        "p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
        "max_ms": round(ok[-1] * 1000, 1) if ok else None,
    }


PHASES = {
    "trickle": (b"POST /pam HTTP/1.1\r\nHost: bench\r\nX-Slow: ", b"a"),
    "stalled_body": (
        b"POST /pam HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json"
        b"\r\nContent-Length: 1000\r\n\r\n{",
        b"",
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--watch",
        type=float,
        default=35.0,
        help="how long to wait for the server to answer the slow sockets",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to serve")
    parser.add_argument("--gunicorn", help="serve with gunicorn.conf.py plus these arguments")
    parser.add_argument("--label", default="", help="name of this run in the JSON")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "senders": args.senders,
        "root": str(args.root),
        "gunicorn": args.gunicorn,
    }
    with tempfile.TemporaryDirectory(prefix="pamgate-slow-") as tmp:
        port = free_port()
        proc = start(args.root.resolve(), port, Path(tmp), args.gunicorn)
        try:
            results["idle"] = probe(port, args.seconds)
            print(f"[idle] healthz {results['idle']}", flush=True)
            for name, (opening, drip) in PHASES.items():
                senders = SlowSenders(port, args.senders, opening, drip)
                results[name] = probe(port, args.seconds)
                results[name].update(senders.finish(args.watch))
                print(f"[{name}] healthz {results[name]}", flush=True)
                time.sleep(1)
        finally:
            proc.terminate()
            proc.wait(timeout=40)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"slow_clients{'-' + args.label if args.label else ''}.json"
    path.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
