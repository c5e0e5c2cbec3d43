"""The `pamgate` command line: one verb per operator task (SPEC section 11).

Each verb loads the configuration once, opens the database only if it needs it, prints a
readable result and exits non-zero on failure. A configuration problem is one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from config.settings import Config, ConfigError, load_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]

Handler = Callable[[argparse.Namespace, Config], int]


def _database(config: Config):  # type: ignore[no-untyped-def]
    from gateway.store.database import bind, open_database

    return bind(open_database(config.database_url, pool_size=config.db_pool_size))


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from gateway.store.migrations import LATEST, migrate

    db = _database(config)
    applied = migrate(db)
    if applied:
        for m in applied:
            print(f"applied migration {m.version}: {m.name}")
    print(f"schema is current (version {LATEST})")
    return 0


# --- serve -------------------------------------------------------------------------------
#
# gunicorn with the settings shipped in the package (`gunicorn.conf.py` in a checkout only
# re-exports them), so `pamgate serve` works from a plain `pip install`.
#
# The worker is gunicorn's gevent worker (psycopg2 made cooperative with psycogreen) with
# a read deadline on every request: a client waiting between requests costs a greenlet,
# not a worker, and one that has started a request must send all of it (headers and body)
# within `READ_TIMEOUT_S` or be answered 408. See bench/README.md ("Slow senders").

READ_TIMEOUT_S = 10.0  # a request, from its first byte to the end of its body
WRITE_TIMEOUT_S = 30.0  # a client that does not read its response is dropped after this


def _read_timeout() -> float:
    text = os.environ.get("PAMGATE_READ_TIMEOUT_S", "")
    try:
        value = float(text) if text else READ_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"PAMGATE_READ_TIMEOUT_S must be a number, got {text!r}") from None
    if value <= 0:
        raise ConfigError(f"PAMGATE_READ_TIMEOUT_S must be positive, got {text!r}")
    return value


class _DeadlineSocket:
    """A client socket as gunicorn's parser and `wsgi.input` see it, with deadlines.

    Between requests a read waits `idle_s` (the keep-alive) and then ends the connection
    quietly. The first byte of a request starts its read deadline: a read past it raises
    `ReadTimeout` (408) and the connection is done. Everything else is the socket's own.
    """

    def __init__(self, sock, idle_s: float, read_s: float) -> None:  # type: ignore[no-untyped-def]
        self._sock = sock
        self._idle_s = idle_s
        self._read_s = read_s
        self._deadline: float | None = None
        self.expired = False
        self.request = None  # gunicorn's request being served (its body is read from here)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._sock, name)

    def abandon(self) -> None:
        """The request's body could not be read: answer it, then close the connection."""
        self.expired = True
        if self.request is not None:
            self.request.must_close = True

    def end_request(self) -> None:
        self._deadline = None
        self.request = None

    def recv(self, size: int) -> bytes:
        import time

        from gateway.http.middleware import ReadTimeout

        if self.expired:
            return b""
        if self._deadline is None:
            self._sock.settimeout(self._idle_s or None)
            try:
                data = self._sock.recv(size)
            except TimeoutError:
                return b""  # idle between requests: close without an answer
            if data:
                self._deadline = time.monotonic() + self._read_s
            return data
        remaining = self._deadline - time.monotonic()
        if remaining > 0:
            self._sock.settimeout(remaining)
            try:
                return self._sock.recv(size)
            except TimeoutError:
                pass
        self.expired = True
        if self.request is not None:
            self.request.must_close = True  # the 408 says "Connection: close"
        raise ReadTimeout(f"request not received within {self._read_s:g} s")

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(WRITE_TIMEOUT_S)
        self._sock.sendall(data)


_WORKER: type | None = None


def gateway_worker() -> type:
    """The gunicorn worker class `pamgate serve` runs (imports gevent, so built on demand)."""
    global _WORKER
    if _WORKER is not None:
        return _WORKER
    import contextlib

    from gunicorn.workers.base_async import AsyncWorker
    from gunicorn.workers.ggevent import GeventWorker

    class GatewayWorker(GeventWorker):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self.read_timeout_s = _read_timeout()

        def patch(self) -> None:
            super().patch()  # gevent's monkey.patch_all()
            from psycogreen.gevent import patch_psycopg

            patch_psycopg()  # psycopg2 waits on its socket cooperatively

        def timeout_ctx(self):  # type: ignore[no-untyped-def]
            return contextlib.nullcontext()  # _DeadlineSocket keeps time instead

        def handle(self, listener, client, addr):  # type: ignore[no-untyped-def]
            client.setblocking(1)
            guarded = _DeadlineSocket(client, self.cfg.keepalive, self.read_timeout_s)
            AsyncWorker.handle(self, listener, guarded, addr)

        def handle_request(self, listener_name, req, sock, addr):  # type: ignore[no-untyped-def]
            if isinstance(sock, _DeadlineSocket):
                sock.request = req
            try:
                super().handle_request(listener_name, req, sock, addr)
            finally:
                if isinstance(sock, _DeadlineSocket):
                    if sock.expired:  # the rest of the body never came: nothing to drain
                        raise StopIteration()
                    sock.end_request()

        def handle_error(self, req, client, addr, exc):  # type: ignore[no-untyped-def]
            from gateway.http.middleware import ReadTimeout

            if not isinstance(exc, ReadTimeout):
                super().handle_error(req, client, addr, exc)
                return
            import json

            from gateway.http.errors import BACKOFFICE, generic_body

            body = json.dumps(generic_body(BACKOFFICE, 408, "Request not received in time"),
                              separators=(",", ":")).encode()
            head = ("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            with contextlib.suppress(OSError):
                client.sendall(head + body)

    _WORKER = GatewayWorker
    return _WORKER


def _child_exit(server, worker) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def gunicorn_settings(config: Config) -> dict[str, object]:
    """gunicorn's settings for `pamgate serve` (and `gunicorn.conf.py`)."""
    from gateway.logs import configure_logging, logging_dict

    def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
        configure_logging(config.log_level, config.log_format)

    _read_timeout()  # a bad value stops start-up here, not in every worker
    return {
        "bind": config.bind,
        "workers": config.workers,
        "worker_class": gateway_worker(),
        "worker_connections": 1000,
        "timeout": config.timeout_s,
        "graceful_timeout": config.graceful_timeout_s,
        "keepalive": 5,
        "max_requests": 0,
        "accesslog": None,  # pamgate writes its own access line (with request id) per request
        "logconfig_dict": logging_dict(config.log_level, config.log_format),
        "proc_name": "pamgate",
        "child_exit": _child_exit,
        "post_worker_init": post_worker_init,
    }


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    import tempfile

    from gunicorn.app.base import BaseApplication

    # Metrics of every worker are aggregated through files; must be set before any import
    # of prometheus_client (the app is loaded in each worker, after this).
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pamgate-metrics-"))
    config = load_config()
    settings = gunicorn_settings(config)
    if args.bind:
        settings["bind"] = args.bind
    if args.workers:
        settings["workers"] = args.workers

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from gateway.app import create_app

            return create_app(load_config())

    Server().run()
    return 0  # pragma: no cover - gunicorn exits the process


def cmd_token(args: argparse.Namespace, config: Config) -> int:
    from gateway.core.clock import SystemClock
    from gateway.core.principal import Principal
    from gateway.http.auth import TokenService

    principal = Principal(
        user_id=args.sub,
        role=args.role,
        banca_id=args.banca,
        ventana_id=args.ventana,
        vendedor_id=args.vendedor,
        permissions=frozenset(args.permission or ()),
    )
    print(TokenService(config.jwt_secret, SystemClock(), ttl_s=args.ttl).mint(principal))
    return 0


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from gateway import demo
    from gateway.core.clock import SystemClock

    _database(config)
    print(demo.render(demo.seed(config, SystemClock()), base=args.base_url))
    return 0


def cmd_keys_generate(args: argparse.Namespace, config: Config) -> int:
    from signing.keys import generate_keypair

    secret, public = generate_keypair()
    print(f"PAMGATE_SIGNING_KEY={secret}")
    print(f"# public key (publish to receivers): {public}")
    return 0


def cmd_receipts_verify(args: argparse.Namespace, config: Config) -> int:
    import json

    from signing.keys import Keyring
    from signing.receipts import verify_receipt

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    try:
        document = json.loads(text)
    except ValueError:
        print("invalid: not JSON")
        return 1
    receipt = document.get("receipt", document) if isinstance(document, dict) else document
    valid, reason = verify_receipt(Keyring.from_texts(list(config.signing_keys)).verify_keys(),
                                   receipt)
    print("valid" if valid else f"invalid: {reason}")
    return 0 if valid else 1


def cmd_sweep(args: argparse.Namespace, config: Config) -> int:
    import time

    from gateway.core.betting import expire_reservations
    from gateway.core.clock import SystemClock

    db = _database(config)
    clock = SystemClock()
    while True:
        expired = expire_reservations(clock.now())
        if expired:
            print(f"expired {expired} reservation(s)", flush=True)
        db.close()
        if args.once:
            return 0
        time.sleep(args.interval)


def _close(db) -> None:  # type: ignore[no-untyped-def]
    """Give back every connection a verb opened (pooled PostgreSQL or one SQLite file)."""
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()


def _current_database(config: Config):  # type: ignore[no-untyped-def]
    """The database, or None (after one line on stderr) when its schema is not current."""
    from gateway.store.migrations import LATEST, applied_version

    db = _database(config)
    version = applied_version(db)
    if version < LATEST:
        _close(db)
        print(f"pamgate: database schema is at version {version}, expected {LATEST}: "
              "run `pamgate migrate` first", file=sys.stderr)
        return None
    return db


def cmd_reconcile(args: argparse.Namespace, config: Config) -> int:
    import json

    from gateway.core.reconcile import reconcile

    db = _current_database(config)
    if db is None:
        return 2
    try:
        report = reconcile()
    finally:
        _close(db)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


def cmd_audit_verify(args: argparse.Namespace, config: Config) -> int:
    from gateway.core.audit import verify

    db = _current_database(config)
    if db is None:
        return 2
    try:
        report = verify()  # one read snapshot: appends may go on meanwhile
    finally:
        _close(db)
    print(f"audit chain: {report.checked} rows checked, {len(report.problems)} problems")
    for problem in report.problems:
        print(f"  - {problem}")
    return 0 if report.ok else 1


def cmd_prune(args: argparse.Namespace, config: Config) -> int:
    import datetime as dt

    from gateway.core.clock import SystemClock
    from gateway.core.idempotency import prune
    from gateway.store.database import unit_of_work

    db = _current_database(config)
    if db is None:
        return 2
    days = config.idempotency_retention_days
    before = SystemClock().now() - dt.timedelta(days=days)
    try:
        with unit_of_work(db):
            deleted = prune(before)
    finally:
        _close(db)
    print(f"deleted {deleted} idempotency records created before "
          f"{before:%Y-%m-%d %H:%M:%S} UTC (retention {days} days)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pamgate", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("migrate", help="create or upgrade the database schema (idempotent)")
    p.set_defaults(handler=cmd_migrate)

    p = verbs.add_parser("serve", help="run the gateway under gunicorn")
    p.add_argument("--bind", help="host:port (default PAMGATE_BIND or 127.0.0.1:8000)")
    p.add_argument("--workers", type=int, help="worker processes (default PAMGATE_WORKERS)")
    p.set_defaults(handler=cmd_serve)

    p = verbs.add_parser("token", help="mint a back-office access token for scripts")
    p.add_argument("--role", required=True, choices=("ADMIN", "VENTANA", "VENDEDOR"))
    p.add_argument("--sub", default="cli", help="user id (the token's sub claim)")
    p.add_argument("--banca")
    p.add_argument("--ventana")
    p.add_argument("--vendedor")
    p.add_argument("--permission", action="append", help="repeatable, e.g. payments_read")
    p.add_argument("--ttl", type=int, default=900, help="lifetime in seconds (default 900)")
    p.set_defaults(handler=cmd_token)

    p = verbs.add_parser("demo", help="seed demo data and print signed curl calls")
    p.add_argument("--base-url", default="http://127.0.0.1:8000")
    p.set_defaults(handler=cmd_demo)

    keys = verbs.add_parser("keys", help="pamgate's own Ed25519 keys")
    keys_verbs = keys.add_subparsers(dest="keys_verb", required=True, metavar="VERB")
    p = keys_verbs.add_parser("generate", help="print a new whsk_/whpk_ key pair")
    p.set_defaults(handler=cmd_keys_generate)

    receipts = verbs.add_parser("receipts", help="lottery receipts")
    receipts_verbs = receipts.add_subparsers(dest="receipts_verb", required=True,
                                             metavar="VERB")
    p = receipts_verbs.add_parser("verify", help="check a receipt offline (FILE or -)")
    p.add_argument("file", help="a purchase response or its receipt object, '-' for stdin")
    p.set_defaults(handler=cmd_receipts_verify)

    p = verbs.add_parser("sweep", help="expire reservations past their deadline")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    p.set_defaults(handler=cmd_sweep)

    p = verbs.add_parser("reconcile", help="check every ledger and ticket invariant "
                         "(exit 1 on a breach)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_reconcile)

    audit = verbs.add_parser("audit", help="the hash-chained audit log")
    audit_verbs = audit.add_subparsers(dest="audit_verb", required=True, metavar="VERB")
    p = audit_verbs.add_parser("verify", help="walk the chain; exit 1 on an edited or "
                               "deleted row")
    p.set_defaults(handler=cmd_audit_verify)

    p = verbs.add_parser("prune", help="delete idempotency records older than "
                         "PAMGATE_IDEMPOTENCY_RETENTION_DAYS")
    p.set_defaults(handler=cmd_prune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"pamgate: configuration error: {exc}", file=sys.stderr)
        return 2
    from gateway.logs import configure_logging

    configure_logging(config.log_level, "console" if sys.stderr.isatty() else config.log_format)
    try:
        return int(args.handler(args, config))
    except ConfigError as exc:
        print(f"pamgate: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
