"""`pamgate users add`, run in-process against the test database: the user it creates can
log in, and the password never appears in what it prints or logs."""

from __future__ import annotations

import io
from typing import Any

import falcon.testing
import pytest
from structlog.testing import capture_logs

from gateway.cli import main
from gateway.store.database import bind
from gateway.store.models import AuditRecord, User
from tests import factories as f

PASSWORD = "s3cret window password"


@pytest.fixture
def pamgate(
    db: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """`pamgate(*argv, stdin=…)` → (exit status, stdout, stderr) on the test database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PAMGATE_LOG_FORMAT", "json")

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        try:
            status = main(list(argv))
        finally:
            bind(db)
        out = capsys.readouterr()
        return status, out.out, out.err

    return run


def test_users_add_then_login(pamgate, app, clock):
    _banca, ventana = f.banca_and_ventana(clock)
    with capture_logs() as logs:
        status, out, err = pamgate(
            "users",
            "add",
            "caja1",
            "--role",
            "VENTANA",
            "--ventana",
            ventana,
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    assert status == 0, err
    assert "created user caja1 (VENTANA, " in out
    assert PASSWORD not in out + err + repr(logs)
    user = User.get(User.username == "caja1")
    assert user.ventana_id == ventana
    assert user.password_hash.startswith("$argon2id$")
    assert AuditRecord.get(AuditRecord.action == "user.create").target_id == user.id

    client = falcon.testing.TestClient(app)
    resp = client.simulate_post(
        "/api/v1/auth/login", json={"username": "caja1", "password": PASSWORD}
    )
    assert resp.status_code == 200, resp.text
    principal = app.services.tokens.verify(resp.json["data"]["accessToken"])
    assert (principal.user_id, principal.role, principal.ventana_id) == (
        user.id,
        "VENTANA",
        ventana,
    )


def test_an_admin_needs_no_ids(pamgate, app):
    status, _out, err = pamgate(
        "users", "add", "root", "--role", "ADMIN", "--password-stdin", stdin=PASSWORD
    )
    assert status == 0, err
    client = falcon.testing.TestClient(app)
    resp = client.simulate_post(
        "/api/v1/auth/login", json={"username": "root", "password": PASSWORD}
    )
    assert resp.status_code == 200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--role", "VENTANA"), "must name its ventana"),
        (("--role", "VENTANA", "--ventana", "nope"), "unknown ventana"),
        (("--role", "ADMIN", "--permission", "fly"), "unknown permission fly"),
    ],
)
def test_users_add_refuses_what_would_not_resolve(pamgate, argv, message):
    status, _out, err = pamgate("users", "add", "x1", *argv, "--password-stdin", stdin=PASSWORD)
    assert status == 1
    assert message in err
    assert User.select().count() == 0


def test_a_short_password_and_a_taken_username_are_refused(pamgate):
    status, _out, err = pamgate(
        "users", "add", "a", "--role", "ADMIN", "--password-stdin", stdin="short"
    )
    assert status == 1 and "password must be" in err
    assert (
        pamgate("users", "add", "a", "--role", "ADMIN", "--password-stdin", stdin=PASSWORD)[0] == 0
    )
    status, _out, err = pamgate(
        "users", "add", "a", "--role", "ADMIN", "--password-stdin", stdin=PASSWORD
    )
    assert status == 1 and "exists already" in err


def test_users_add_without_username_or_role_is_one_line_exit_2(pamgate):
    status, _out, err = pamgate(
        "users", "add", "--role", "ADMIN", "--password-stdin", stdin=PASSWORD
    )
    assert status == 2
    assert err.strip() == ("pamgate: users add needs USERNAME and --role ADMIN|VENTANA|VENDEDOR")
    assert pamgate("users", "add", "x1", "--password-stdin", stdin=PASSWORD)[0] == 2
