"""The `pamgate` command line: one verb per operator task (SPEC section 11).

Each verb loads the configuration once and builds what it needs through the app's own
composition root (`gateway.app.build_services`), opening the database only if it needs it;
it prints a readable result and exits non-zero on failure. A configuration, database or file
problem is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse, urlunparse

from config.settings import Config, ConfigError, load_config

if TYPE_CHECKING:
    from gateway.app import Services

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONNECT_TIMEOUT_S = 5  # an unreachable PostgreSQL is reported after this, not minutes later

Handler = Callable[[argparse.Namespace, Config], int]


class CommandError(Exception):
    """A verb cannot do its work (database or file); the message is one line, exit 2."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _safe_url(url: str) -> str:
    """The database URL without its password, for error lines."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = (parsed.username or "") + ":***@" + (parsed.hostname or "")
    if parsed.port:
        netloc += f":{parsed.port}"
    return urlunparse(parsed._replace(netloc=netloc))


def _services(config: Config, *, database: bool = True) -> Services:
    """The collaborators the app is built from (`build_services`), for one verb.

    The database is built with a short connect timeout; with `database`, a SQLite file whose
    directory is missing is refused here, before anything tries to open it."""
    from gateway.app import build_services
    from gateway.store.database import open_database

    url = config.database_url
    if database and url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:" and not Path(path).resolve().parent.is_dir():
            raise CommandError(
                f"database directory {Path(path).parent} does not exist (DATABASE_URL={url})"
            )
    db = open_database(url, pool_size=config.db_pool_size, connect_timeout=CONNECT_TIMEOUT_S)
    return build_services(config, db=db)


def _close(db: Any) -> None:
    """Give back every connection a verb opened (pooled PostgreSQL or one SQLite file)."""
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()


def _current(config: Config) -> Services:
    """Services on a database whose schema is current; `CommandError` otherwise."""
    from gateway.store.migrations import LATEST, applied_version

    services = _services(config)
    try:
        version = applied_version(services.db)
    except Exception:
        _close(services.db)
        raise
    if version < LATEST:
        _close(services.db)
        raise CommandError(
            f"database schema is at version {version}, expected {LATEST}: "
            "run `pamgate migrate` first"
        )
    return services


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from gateway.store.migrations import LATEST, migrate

    db = _services(config).db
    try:
        applied = migrate(db)
    finally:
        _close(db)
    if applied:
        for m in applied:
            print(f"applied migration {m.version}: {m.name}")
    print(f"schema is current (version {LATEST})")
    return 0


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from gateway.http.server import serve

    serve(config, bind=args.bind, workers=args.workers)
    return 0  # pragma: no cover - gunicorn exits the process


def cmd_token(args: argparse.Namespace, config: Config) -> int:
    from gateway.core.principal import Principal

    principal = Principal(
        user_id=args.sub,
        role=args.role,
        banca_id=args.banca,
        ventana_id=args.ventana,
        vendedor_id=args.vendedor,
        permissions=frozenset(args.permission or ()),
    )
    services = _services(config.replace(jwt_ttl_s=args.ttl), database=False)
    print(services.tokens.mint(principal))
    return 0


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from gateway import demo

    services = _current(config)
    try:
        data = demo.seed(config, services.clock)
    finally:
        _close(services.db)
    print(demo.render(data, base=args.base_url))
    return 0


def cmd_keys_generate(args: argparse.Namespace, config: Config) -> int:
    import datetime as dt
    import secrets

    from signing.keys import generate_keypair

    secret, public = generate_keypair()
    kid = args.kid or f"{dt.datetime.now(dt.UTC):%Y-%m-%d}-{secrets.token_hex(2)}"
    if not kid.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise CommandError("keys generate: --kid may hold letters, digits, '-', '_' and '.'")
    print(f"PAMGATE_SIGNING_KEY={kid}:{secret}")
    print(f"# public key (publish to receivers): {public}")
    print(f"# kid: {kid} (as /.well-known/pamgate-keys lists it)")
    print(
        "# rotation: PAMGATE_SIGNING_KEY=NEW_KID:whsk_…,OLD_KID:whsk_…:inactive "
        "(the first active key signs)"
    )
    return 0


def _read_receipt(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"receipt file {name}: not found") from None
    except UnicodeDecodeError:
        raise CommandError(f"receipt file {name}: not UTF-8 text") from None
    except OSError as exc:
        raise CommandError(
            f"receipt file {name}: cannot be read ({exc.strerror or _one_line(exc)})"
        ) from None


def cmd_receipts_verify(args: argparse.Namespace, config: Config) -> int:
    import json

    from signing.receipts import verify_receipt

    text = _read_receipt(args.file)
    keys = _services(config, database=False).keys
    try:
        document = json.loads(text)
    except ValueError:
        print("invalid: not JSON")
        return 1
    receipt = document.get("receipt", document) if isinstance(document, dict) else document
    valid, reason = verify_receipt(keys.verify_keys(), receipt)
    print("valid" if valid else f"invalid: {reason}")
    return 0 if valid else 1


def _read_password(args: argparse.Namespace) -> str:
    """The new user's password: one line of stdin (`--password-stdin`), else typed twice at
    a prompt that does not echo. Never printed, never logged."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace, config: Config) -> int:
    from gateway.core import users
    from gateway.core.audit import Actor
    from gateway.core.commands import Context
    from gateway.core.errors import CoreError

    if not args.username or not args.role:
        raise CommandError("users add needs USERNAME and --role ADMIN|VENTANA|VENDEDOR")
    password = _read_password(args)
    services = _current(config)
    try:
        ctx = Context(actor=Actor("system", "cli"), now=services.clock.now())
        created = users.add_user(
            ctx,
            users.NewUser(
                username=args.username,
                password=password,
                role=args.role,
                banca_id=args.banca,
                ventana_id=args.ventana,
                vendedor_id=args.vendedor,
                permissions=tuple(args.permission) if args.permission else None,
            ),
        )
    except CoreError as exc:
        print(f"pamgate: users add: {exc.message}", file=sys.stderr)
        return 1
    finally:
        _close(services.db)
    scope = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("banca", created.banca_id),
            ("ventana", created.ventana_id),
            ("vendedor", created.vendedor_id),
        )
        if value
    )
    print(f"created user {created.username} ({created.role}{', ' + scope if scope else ''})")
    print(f"id: {created.id}")
    print(f"permissions: {', '.join(created.permissions) or '-'}")
    return 0


def cmd_sweep(args: argparse.Namespace, config: Config) -> int:
    import time

    from gateway.core.audit import seal
    from gateway.core.betengine import expire_reservations
    from gateway.core.rejections import summarise

    services = _current(config)
    db, clock = services.db, services.clock
    while True:
        expired = expire_reservations(clock.now())
        summarised = summarise(clock.now())
        seal(clock.now())  # the audit rows these passes wrote (and any left unsealed)
        db.close()
        if args.once or expired or summarised:  # a polling sweep says only what it did
            print(
                f"sweep: expired {expired} reservation(s); summarised {summarised} minute(s) "
                "of refused requests into the audit log",
                flush=True,
            )
        if args.once:
            _close(db)
            return 0
        time.sleep(args.interval)


def cmd_reconcile(args: argparse.Namespace, config: Config) -> int:
    import json

    from gateway.core.reconcile import reconcile
    from gateway.progress import Progress

    db = _current(config).db
    try:
        with Progress("reconcile", unit="checks") as progress:
            report = reconcile(progress=progress.update)
    finally:
        _close(db)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


def cmd_payments_books(args: argparse.Namespace, config: Config) -> int:
    from gateway.core.money import to_units_fixed
    from gateway.core.registry.books import books

    db = _current(config).db
    try:
        lines = books()
    finally:
        _close(db)
    if not lines:
        print("payments registry: no payments recorded")
        return 0
    for b in lines:
        verdict = "agree" if b.agrees else "DIFFER"
        total = f"{to_units_fixed(b.registry_total, b.currency):f}"
        received = f"{to_units_fixed(b.received, b.currency):f}"
        print(
            f"{b.currency}: {b.payments} live payments total {total}; "
            f"ledger payments received {received} ({verdict})"
        )
        for method, balance in b.clearing.items():
            print(f"  clearing {method}: {to_units_fixed(balance, b.currency):f}")
    return 0 if all(b.agrees for b in lines) else 1


def cmd_audit_verify(args: argparse.Namespace, config: Config) -> int:
    from gateway.core.audit import verify
    from gateway.progress import Progress

    db = _current(config).db
    try:
        # the chain is walked inside one call: its elapsed time is what can be shown
        with Progress("audit verify", ticking=True):
            report = verify()  # one read snapshot: appends may go on meanwhile
    finally:
        _close(db)
    print(f"audit chain: {report.checked} rows checked, {len(report.problems)} problems")
    pending = f"; {report.pending} rows not sealed yet" if report.pending else ""
    print(f"  sealed through seq {report.sealed_through} ({report.seals} seals){pending}")
    for problem in report.problems:
        print(f"  - {problem}")
    return 0 if report.ok else 1


def cmd_audit_seal(args: argparse.Namespace, config: Config) -> int:
    from gateway.core.audit import seal

    services = _current(config)
    try:
        sealed = seal(services.clock.now())
    finally:
        _close(services.db)
    print(f"audit log: sealed {sealed} rows")
    return 0


def cmd_prune(args: argparse.Namespace, config: Config) -> int:
    import datetime as dt

    from gateway.core import idempotency, outbox_admin, replays, sms
    from gateway.progress import Progress
    from gateway.store.database import unit_of_work

    services = _current(config)
    db = services.db
    days = config.idempotency_retention_days
    outbox_days = config.outbox_retention_days
    now = services.clock.now()
    before = now - dt.timedelta(days=days)
    outbox_before = now - dt.timedelta(days=outbox_days)
    try:
        deleted = idempotency.prune(before)  # these two: a batch per transaction
        signatures = replays.prune(now)
        with unit_of_work(db):
            dedup = sms.prune(now)
        with Progress("prune: sent outbox messages", unit="messages") as progress:
            outbox = outbox_admin.prune(outbox_before, progress=progress.update)
    finally:
        _close(db)
    print(
        f"deleted {deleted} idempotency records created before "
        f"{before:%Y-%m-%d %H:%M:%S} UTC (retention {days} days)"
    )
    print(f"deleted {signatures} signature records past their window")
    print(
        f"deleted {outbox.messages} sent outbox messages older than "
        f"{outbox_before:%Y-%m-%d %H:%M:%S} UTC (retention {outbox_days} days) and their "
        f"{outbox.attempts} delivery attempts"
    )
    print(f"deleted {dedup} SMS deduplication records past their 24 hours")
    return 0


def cmd_dispatch(args: argparse.Namespace, config: Config) -> int:
    import signal
    import threading

    from adapters.sms.dispatcher import build, build_events, run_all

    services = _current(config)
    stop = threading.Event()
    try:
        dispatchers = [build(services, stop=stop)] if args.kind in ("all", "sms") else []
        if args.kind in ("all", "event"):
            events = build_events(services, stop=stop)
            if events is None and args.kind == "event":
                raise ValueError("--kind event needs PAMGATE_EVENTS_URL")
            dispatchers += [events] if events is not None else []
    except ValueError as exc:
        _close(services.db)
        raise CommandError(f"dispatch: {exc}") from None

    def finish(signum: int, frame: object) -> None:  # the batch in hand completes first
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    try:
        sent = run_all(dispatchers, once=args.once, poll_s=config.dispatch_poll_s)
    finally:
        for dispatcher in dispatchers:
            dispatcher.close()
        _close(services.db)
    print(f"sent {sent} message(s)", flush=True)
    return 0


def cmd_outbox_replay(args: argparse.Namespace, config: Config) -> int:
    from gateway.core import outbox_admin
    from gateway.progress import Progress

    services = _current(config)
    try:
        with Progress("outbox replay", unit="messages") as progress:
            count = outbox_admin.replay(
                services.clock.now(),
                state=args.state,
                dry_run=args.dry_run,
                progress=progress.update,
            )
    finally:
        _close(services.db)
    if args.dry_run:
        print(f"{count} {args.state} message(s) would be sent again")
    else:
        print(f"{count} {args.state} message(s) queued to be sent again")
    return 0


def cmd_lottery_results(args: argparse.Namespace, config: Config) -> int:
    from gateway.core.audit import Actor
    from gateway.core.commands import Context
    from gateway.core.errors import CoreError
    from gateway.core.lottery import draws
    from gateway.core.money import to_units_fixed
    from gateway.core.principal import ADMIN, Principal
    from gateway.progress import Progress

    services = _current(config)
    try:
        ctx = Context(actor=Actor("system", "cli"), now=services.clock.now())
        with Progress(f"draw {args.draw}: evaluating", unit="tickets") as progress:
            outcome = draws.record_results(
                ctx,
                Principal(user_id="cli", role=ADMIN),
                args.draw,
                args.numbers,
                progress=progress.update,
            )
    except CoreError as exc:
        print(f"pamgate: lottery results: {exc.message}", file=sys.stderr)
        return 1
    finally:
        _close(services.db)
    d = outcome.result
    prizes = f"{to_units_fixed(d.payout_total, d.currency):f} {d.currency}"
    print(
        f"draw {d.draw_number}: numbers {' '.join(str(n) for n in d.numbers or [])}; "
        f"{d.evaluated} tickets evaluated, {d.winners} winners, prizes {prizes}"
    )
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pamgate")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pamgate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pamgate {_version()}")
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

    users_parser = verbs.add_parser("users", help="back-office users (logins)")
    users_verbs = users_parser.add_subparsers(dest="users_verb", required=True, metavar="VERB")
    p = users_verbs.add_parser("add", help="create a user; the password is asked for")
    # USERNAME and --role are checked by the verb, after the configuration (one line, exit 2).
    p.add_argument("username", nargs="?", metavar="USERNAME")
    p.add_argument("--role", choices=("ADMIN", "VENTANA", "VENDEDOR"), help="required")
    p.add_argument("--banca", help="banca id (ADMIN may name one)")
    p.add_argument("--ventana", help="ventana id (required for VENTANA)")
    p.add_argument("--vendedor", help="vendedor id (required for VENDEDOR)")
    p.add_argument(
        "--permission", action="append", help="repeatable; default: the role's usual set"
    )
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    p.set_defaults(handler=cmd_users_add)

    p = verbs.add_parser("demo", help="seed demo data and print signed curl calls")
    p.add_argument("--base-url", default="http://127.0.0.1:8000")
    p.set_defaults(handler=cmd_demo)

    keys = verbs.add_parser("keys", help="pamgate's own Ed25519 keys")
    keys_verbs = keys.add_subparsers(dest="keys_verb", required=True, metavar="VERB")
    p = keys_verbs.add_parser("generate", help="print a new whsk_/whpk_ key pair and its kid")
    p.add_argument("--kid", help="the key id (default: today's date and 4 random hex digits)")
    p.set_defaults(handler=cmd_keys_generate)

    receipts = verbs.add_parser("receipts", help="lottery receipts")
    receipts_verbs = receipts.add_subparsers(dest="receipts_verb", required=True, metavar="VERB")
    p = receipts_verbs.add_parser("verify", help="check a receipt offline (FILE or -)")
    p.add_argument("file", help="a purchase response or its receipt object, '-' for stdin")
    p.set_defaults(handler=cmd_receipts_verify)

    p = verbs.add_parser("sweep", help="expire reservations past their deadline")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    p.set_defaults(handler=cmd_sweep)

    p = verbs.add_parser(
        "dispatch", help="deliver the outbox: SMS through the provider, events to the operator"
    )
    p.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    p.add_argument(
        "--kind",
        choices=("all", "sms", "event"),
        default="all",
        help="what to deliver (default all: SMS, and events when PAMGATE_EVENTS_URL is set)",
    )
    p.set_defaults(handler=cmd_dispatch)

    outbox_parser = verbs.add_parser("outbox", help="the outbox of messages to deliver")
    outbox_verbs = outbox_parser.add_subparsers(dest="outbox_verb", required=True, metavar="VERB")
    p = outbox_verbs.add_parser("replay", help="send every dead letter again")
    p.add_argument("--state", required=True, choices=("dead",), help="dead (the dead letters)")
    p.add_argument("--dry-run", action="store_true", help="only print how many there are")
    p.set_defaults(handler=cmd_outbox_replay)

    lottery_parser = verbs.add_parser("lottery", help="lottery draws")
    lottery_verbs = lottery_parser.add_subparsers(
        dest="lottery_verb", required=True, metavar="VERB"
    )
    p = lottery_verbs.add_parser(
        "results", help="record a draw's numbers: evaluate its tickets and book the prizes"
    )
    p.add_argument("draw", metavar="DRAW_NUMBER")
    p.add_argument("numbers", metavar="N", type=int, nargs=6, help="the 6 numbers drawn")
    p.set_defaults(handler=cmd_lottery_results)

    p = verbs.add_parser(
        "reconcile", help="check every ledger and ticket invariant (exit 1 on a breach)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_reconcile)

    payments = verbs.add_parser("payments", help="the payments registry")
    payments_verbs = payments.add_subparsers(dest="payments_verb", required=True, metavar="VERB")
    p = payments_verbs.add_parser(
        "books", help="registry totals against the ledger, per currency; exit 1 if they differ"
    )
    p.set_defaults(handler=cmd_payments_books)

    audit = verbs.add_parser("audit", help="the hash-chained audit log")
    audit_verbs = audit.add_subparsers(dest="audit_verb", required=True, metavar="VERB")
    p = audit_verbs.add_parser("verify", help="walk the chain; exit 1 on an edited or deleted row")
    p.set_defaults(handler=cmd_audit_verify)
    p = audit_verbs.add_parser(
        "seal", help="seal the rows written since the last seal (the server does it every second)"
    )
    p.set_defaults(handler=cmd_audit_seal)

    p = verbs.add_parser(
        "prune",
        help="delete expired records: idempotency keys, signatures, sent outbox messages, "
        "SMS deduplication",
    )
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
    except CommandError as exc:
        print(f"pamgate: {exc}", file=sys.stderr)
    except Exception as exc:
        if not _environment_problem(exc):
            raise
        print(
            f"pamgate: database {_safe_url(config.database_url)}: {_one_line(exc)}", file=sys.stderr
        )
    return 2


def _environment_problem(exc: Exception) -> bool:
    """A database error the operator can act on (cannot connect, cannot open or read the
    file, a table the schema lacks), not a bug of pamgate's, which keeps its traceback.

    peewee is looked up, never imported, here: `pamgate serve` must not load it (and its
    thread-local connection state) in gunicorn's master before the gevent workers patch."""
    peewee = sys.modules.get("peewee")
    if peewee is None:
        return False
    if isinstance(exc, (peewee.IntegrityError, peewee.DataError, peewee.InternalError)):
        return False
    return isinstance(exc, (peewee.DatabaseError, peewee.InterfaceError))


if __name__ == "__main__":
    sys.exit(main())
