"""The `pamgate` command line: one verb per operator task (SPEC section 11).

Each verb loads the configuration once, opens the database only if it needs it, prints a
readable result and exits non-zero on failure. A configuration problem is one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
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


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from gateway.http.server import serve

    serve(config, bind=args.bind, workers=args.workers)
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
    from gateway.core.rejections import summarise

    db = _database(config)
    clock = SystemClock()
    while True:
        expired = expire_reservations(clock.now())
        if expired:
            print(f"expired {expired} reservation(s)", flush=True)
        summarised = summarise(clock.now())
        if summarised:
            print(f"summarised {summarised} minute(s) of refused requests into the audit log",
                  flush=True)
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

    from gateway.core import idempotency, replays
    from gateway.core.clock import SystemClock
    from gateway.store.database import unit_of_work

    db = _current_database(config)
    if db is None:
        return 2
    days = config.idempotency_retention_days
    now = SystemClock().now()
    before = now - dt.timedelta(days=days)
    try:
        with unit_of_work(db):
            deleted = idempotency.prune(before)
            signatures = replays.prune(now)
    finally:
        _close(db)
    print(f"deleted {deleted} idempotency records created before "
          f"{before:%Y-%m-%d %H:%M:%S} UTC (retention {days} days)")
    print(f"deleted {signatures} signature records past their window")
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
