"""A local SMS provider for trying pamgate's dispatcher, its tests and its benchmark: an HTTP
server that accepts the `webhook` provider's signed JSON and counts each message by its
`webhook-id` (Twilio's idempotency token for the `twilio` form post).

    .venv/bin/python bench/sms_receiver.py --port 8025 [--fail-first 2] [--secret whsec_…]

prints one line per request (id, traceparent, status, body); `--fail-first N` answers 503
to the first N requests (the dispatcher retries them with the same id); with `--secret` (pamgate's
`PAMGATE_SMS_SECRET`) each request's `v1` signature is checked with the official
`standardwebhooks` package and a bad one is refused with 401.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Counts deliveries per message id; thread-safe; `url` once started."""

    def __init__(
        self,
        *,
        fail_first: int = 0,
        hold_first_s: float = 0.0,
        delay_s: float = 0.0,
        secret: str | None = None,
        echo: bool = False,
    ) -> None:
        self.fail_first = fail_first
        self.hold_first_s = hold_first_s
        self.delay_s = delay_s
        self.secret = secret
        self.echo = echo
        self.lock = threading.Lock()
        self.requests = 0
        self.accepted: Counter[str] = Counter()  # id → 2xx answers given
        self.seen: Counter[str] = Counter()  # id → requests received
        self.first_arrived = threading.Event()
        self.bodies: dict[str, Any] = {}
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/sms"

    def _answer(self, headers: Any, body: bytes) -> int:
        msg_id = headers.get("webhook-id") or headers.get("I-Twilio-Idempotency-Token") or ""
        with self.lock:
            self.requests += 1
            n = self.requests
            self.seen[msg_id] += 1
        if n == 1:
            self.first_arrived.set()
            if self.hold_first_s:
                time.sleep(self.hold_first_s)
        if self.delay_s:
            time.sleep(self.delay_s)
        if n <= self.fail_first:
            return 503
        if self.secret:
            from standardwebhooks import Webhook

            try:
                Webhook(self.secret).verify(body, {k.lower(): v for k, v in headers.items()})
            except Exception:
                return 401
        with self.lock:
            self.accepted[msg_id] += 1
            if msg_id not in self.bodies:
                try:
                    self.bodies[msg_id] = json.loads(body)
                except ValueError:
                    self.bodies[msg_id] = body.decode("utf-8", "replace")
        return 200

    def start(self, port: int = 0) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection per dispatcher thread

            def setup(self) -> None:
                super().setup()
                # headers and body leave in two writes: without this, Nagle's algorithm and
                # the client's delayed ACK hold every answer back ~40 ms
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._answer(self.headers, body)
                reply = b'{"id":"r-%d"}' % receiver.requests
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                if receiver.echo:
                    print(
                        json.dumps(
                            {
                                "webhook-id": self.headers.get("webhook-id"),
                                "traceparent": self.headers.get("traceparent"),
                                "status": status,
                                "body": receiver.bodies.get(self.headers.get("webhook-id", "")),
                            },
                            ensure_ascii=False,
                        ),
                        flush=True,
                    )

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def running(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--secret", help="whsec_…: check the v1 signature")
    args = parser.parse_args()
    receiver = Receiver(fail_first=args.fail_first, secret=args.secret, echo=True)
    receiver.start(args.port)
    print(f"listening on {receiver.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
