"""gunicorn as `pamgate serve` runs it, with the settings shipped in the package
(`gunicorn.conf.py` in a checkout only re-exports them), so it works from a plain
`pip install`.

The worker is gunicorn's gevent worker (psycopg2 made cooperative with psycogreen) with a
read deadline on every request: a client waiting between requests costs a greenlet, not a
worker, and one that has started a request must send all of it (headers and body) within
`PAMGATE_READ_TIMEOUT_S` or be answered 408. See bench/README.md ("Slow senders").
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import tempfile
from contextvars import ContextVar

from config.settings import Config, load_config

WRITE_TIMEOUT_S = 30.0  # a client that does not read its response is dropped after this


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
_ERROR_PATH: ContextVar[str] = ContextVar("pamgate_error_path", default="")


def _write_json_error(sock, status: int, reason: str, mesg: str) -> None:  # type: ignore[no-untyped-def]
    """What gunicorn answers itself (a request it cannot parse, a line or header too long,
    a body not received in time), in the error shape of the path's protocol family."""
    from gateway.app import PROTOCOLS
    from gateway.http.protocol import GENERIC, Protocols

    message = GENERIC.get(status, (None, reason))[1]
    body = json.dumps(
        Protocols(PROTOCOLS).body(_ERROR_PATH.get(), status, message), separators=(",", ":")
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode("latin-1") + body)


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
            self.read_timeout_s = load_config().read_timeout_s

        def patch(self) -> None:
            from gunicorn import util

            util.write_error = _write_json_error  # gunicorn's own errors in JSON, not HTML
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

            _ERROR_PATH.set(getattr(req, "path", None) or "")
            if not isinstance(exc, ReadTimeout):
                super().handle_error(req, client, addr, exc)  # answers via _write_json_error
                return
            with contextlib.suppress(OSError):
                _write_json_error(client, 408, "Request Timeout", "")

    _WORKER = GatewayWorker
    return _WORKER


def gateway_logger() -> type:
    """gunicorn's logger class, except that it builds no access-log line that its logger
    would drop: pamgate writes its own access line, and gunicorn's, enabled by any
    `logconfig_dict`, cost a dictionary of ~20 atoms per request only to be filtered out
    at WARNING."""
    import logging

    from gunicorn.glogging import Logger

    class GatewayLogger(Logger):
        def setup(self, cfg) -> None:  # type: ignore[no-untyped-def]
            super().setup(cfg)  # applies `logconfig_dict`, which sets the access log's level
            self._access_log_enabled = bool(
                self._compute_access_log_enabled() and self.access_log.isEnabledFor(logging.INFO)
            )

    return GatewayLogger


def _child_exit(server, worker) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _seal_audit_log(interval_s: float) -> None:
    """Each worker seals the audit rows written since the last seal every `interval_s`
    (a greenlet of its own; sealers of all workers and hosts take turns on one advisory
    lock, so this costs one short query when another sealer got there first)."""
    import gevent

    from gateway.core.audit import seal
    from gateway.core.clock import SystemClock
    from gateway.logs import get_logger
    from gateway.store.database import database, is_postgres

    log, clock = get_logger("pamgate.audit"), SystemClock()
    while True:
        gevent.sleep(interval_s)
        try:
            seal(clock.now())
        except Exception:  # the database is down or busy: try again next time
            log.warning("audit_seal_failed", exc_info=True)
        finally:
            if is_postgres(database) and not database.is_closed():
                database.close()  # back to the pool; SQLite keeps its connection


def refuse_taken_address(bind: str) -> None:
    """Each worker listens on its own socket (`SO_REUSEPORT`), which would also let a second
    instance share the port with a running one, splitting its traffic: refuse to start when
    anything already listens on a TCP `bind` address (a plain bind fails on a listening
    port; connections of an earlier instance in TIME_WAIT do not count)."""
    if bind.startswith(("unix:", "fd://")) or ":" not in bind:
        return
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - the operator's own bind address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise SystemExit(
                f"pamgate: {bind} is already in use ({exc.strerror}): is another instance running?"
            ) from None


def gunicorn_settings(config: Config) -> dict[str, object]:
    """gunicorn's settings for `pamgate serve` (and `gunicorn.conf.py`)."""
    from gateway.logs import configure_logging, logging_dict

    def on_starting(server) -> None:  # type: ignore[no-untyped-def]
        for address in server.cfg.bind:
            refuse_taken_address(address)

    def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
        configure_logging(config.log_level, config.log_format)
        import gevent

        gevent.spawn(_seal_audit_log, config.audit_seal_interval_s)

    return {
        "bind": config.bind,
        "workers": config.workers,
        "worker_class": gateway_worker(),
        "worker_connections": 1000,
        "timeout": config.timeout_s,
        "graceful_timeout": config.graceful_timeout_s,
        "keepalive": 5,
        "reuse_port": True,  # a socket per worker: the kernel spreads connections over them
        "on_starting": on_starting,
        "max_requests": 0,
        "accesslog": None,  # pamgate writes its own access line (with request id) per request
        "logger_class": gateway_logger(),
        "logconfig_dict": logging_dict(config.log_level, config.log_format),
        "proc_name": "pamgate",
        "child_exit": _child_exit,
        "post_worker_init": post_worker_init,
    }


def instance_settings(config: Config) -> dict[str, object]:
    """What belongs to this one server instance: its working directory (`PAMGATE_RUN_DIR`,
    else a new temporary one), holding the workers' metrics files and gunicorn's control
    socket, so two instances on a host share neither. A temporary directory is removed when
    the master exits; in `PAMGATE_RUN_DIR` only the metrics files are cleared, at start and
    exit. Sets `PROMETHEUS_MULTIPROC_DIR` (unless the operator did), which must happen before
    any import of prometheus_client: the app is loaded in each worker, after this."""
    owned = not config.run_dir
    directory = tempfile.mkdtemp(prefix="pamgate-") if owned else str(config.run_dir)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    metrics = os.path.join(directory, "metrics")
    ours = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    if ours:
        shutil.rmtree(metrics, ignore_errors=True)  # a killed predecessor's counters
        os.makedirs(metrics, mode=0o700)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    master = os.getpid()

    def clean_up() -> None:
        if os.getpid() != master:  # a forked worker exiting runs atexit handlers too
            return
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
        elif ours:
            shutil.rmtree(metrics, ignore_errors=True)

    def on_exit(server: object) -> None:
        clean_up()

    atexit.register(clean_up)  # also when gunicorn stops before its hooks run
    return {"control_socket": os.path.join(directory, "gunicorn.ctl"), "on_exit": on_exit}


def serve(config: Config, *, bind: str | None = None, workers: int | None = None) -> None:
    """Run gunicorn in this process until it is stopped (each worker builds its app)."""
    from gunicorn.app.base import BaseApplication

    settings = {**gunicorn_settings(config), **instance_settings(config)}
    if bind:
        settings["bind"] = bind
    if workers:
        settings["workers"] = workers

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from gateway.app import create_app

            return create_app(load_config())

    Server().run()
