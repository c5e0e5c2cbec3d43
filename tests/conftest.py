"""Shared fixtures: every test gets a fresh real database (SQLite by default, PostgreSQL
when `PAMGATE_TEST_DATABASE_URL` is set), a fixed clock and an app built around them."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import falcon.testing
import psycopg2
import pytest

from config.partners import load_partners
from config.settings import Config
from gateway.app import create_app
from gateway.core.audit import genesis_seal
from gateway.core.clock import FixedClock
from gateway.store import models
from gateway.store.database import bind, open_database
from gateway.store.migrations import migrate
from tests.openapi_check import ResponseChecker, checking_client

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("PAMGATE_TEST_DATABASE_URL", "")
JWT_SECRET = "test-jwt-secret-with-at-least-32-characters"


def _with_db(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str | None]:
    """A PostgreSQL database of this test session's own, migrated once, dropped at the end."""
    if not PG_URL:
        yield None
        return
    name = f"pamgate_t_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = _with_db(PG_URL, name)
    db = open_database(url, pool_size=4)
    migrate(bind(db))
    db.close_all()
    yield url
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _truncate_postgres(db) -> None:  # type: ignore[no-untyped-def]
    kept = (models.SchemaMigration, *models.SEEDED_BY_MIGRATIONS)
    tables = [m._meta.table_name for m in models.MODELS if m not in kept]
    with db.atomic():
        db.execute_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        models.AuditSeal.insert(**genesis_seal(dt.datetime(2026, 1, 1))).execute()


@pytest.fixture
def db_url(tmp_path: Path, pg_database_url: str | None) -> str:
    return pg_database_url or f"sqlite:///{tmp_path / 'pamgate.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[object]:
    database = bind(open_database(db_url, pool_size=40))
    if db_url.startswith("postgresql"):
        _truncate_postgres(database)
    else:
        migrate(database)
    yield database
    if hasattr(database, "close_all"):
        database.close_all()
    elif not database.is_closed():
        database.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def config(db_url: str) -> Config:
    return Config(
        env="test",
        database_url=db_url,
        jwt_secret=JWT_SECRET,
        partners=load_partners(str(ROOT / "config" / "demo_partners.toml")),
        log_format="json",
        rejection_flush_s=0,
    )


@pytest.fixture
def app(config: Config, db: object, clock: FixedClock):  # type: ignore[no-untyped-def]
    return create_app(config, db=db, clock=clock)


@pytest.fixture
def client(app) -> Iterator[falcon.testing.TestClient]:  # type: ignore[no-untyped-def]
    """The app through falcon's TestClient; every answer is checked against the OpenAPI
    document (`tests/openapi_check.py`): a test whose calls got an undocumented status or a
    body outside its documented schema fails."""
    checker = ResponseChecker(app)
    yield checking_client(app, checker)
    if checker.problems:
        pytest.fail("answers outside the OpenAPI document:\n" + "\n".join(checker.problems))
