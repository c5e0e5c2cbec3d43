"""What an operator sees when a `pamgate` verb cannot reach its database or read its file:
one line on stderr naming the problem, exit status 2, never a traceback; and every verb
builds what it uses through the app's composition root (`gateway.app.build_services`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gateway.app
from gateway import cli
from gateway.cli import main
from gateway.store.database import bind


@pytest.fixture
def pamgate(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`pamgate(url, *argv)` → (exit status, stdout, stderr) with DATABASE_URL=url."""
    monkeypatch.setenv("PAMGATE_LOG_FORMAT", "json")

    def run(url: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", url)
        capsys.readouterr()
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def _one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


# --- the database -----------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["migrate"], ["reconcile"], ["sweep", "--once"], ["demo"]])
def test_a_missing_database_directory_is_one_line(tmp_path, pamgate, argv) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'pamgate.db'}"
    status, out, err = pamgate(url, *argv)
    assert status == 2 and out == ""
    assert _one_line(err) == (
        f"pamgate: database directory {tmp_path / 'no' / 'such' / 'dir'} "
        f"does not exist (DATABASE_URL={url})\n"
    )
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("argv", [["sweep", "--once"], ["sweep"], ["demo"]])
def test_sweep_and_demo_refuse_an_unmigrated_database(tmp_path, pamgate, argv) -> None:
    status, out, err = pamgate(f"sqlite:///{tmp_path / 'empty.db'}", *argv)
    assert status == 2 and out == ""
    assert "database schema is at version 0, expected" in _one_line(err)
    assert "run `pamgate migrate` first" in err


def test_a_database_path_that_cannot_be_opened_is_one_line(tmp_path, pamgate) -> None:
    (tmp_path / "pamgate.db").mkdir()  # a directory where the file should be
    url = f"sqlite:///{tmp_path / 'pamgate.db'}"
    status, out, err = pamgate(url, "reconcile")
    assert status == 2 and out == ""
    assert _one_line(err) == f"pamgate: database {url}: unable to open database file\n"


def test_a_refused_postgresql_connection_is_one_line_without_the_password(pamgate) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, out, err = pamgate(f"postgresql://ops:hunter2@127.0.0.1:{port}/books", "reconcile")
    assert status == 2 and out == ""
    assert _one_line(err).startswith(
        f"pamgate: database postgresql://ops:***@127.0.0.1:{port}/books: connection to server at "
    )
    assert "hunter2" not in err


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung or firewalled host)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_an_unanswering_postgresql_gives_up_after_the_connect_timeout(
    silent_server, pamgate, monkeypatch
) -> None:
    monkeypatch.setattr(cli, "CONNECT_TIMEOUT_S", 2)
    started = time.monotonic()
    status, out, err = pamgate(f"postgresql://postgres@127.0.0.1:{silent_server}/x", "migrate")
    elapsed = time.monotonic() - started
    assert status == 2 and out == ""
    assert "timeout expired" in _one_line(err)
    assert elapsed < 15


def test_the_cli_connect_timeout_is_short() -> None:
    assert 0 < cli.CONNECT_TIMEOUT_S <= 10


# --- the receipt file -------------------------------------------------------------------


def test_a_missing_receipt_file_is_one_line(tmp_path, pamgate) -> None:
    status, out, err = pamgate(
        "sqlite:///unused.db", "receipts", "verify", str(tmp_path / "nope.json")
    )
    assert status == 2 and out == ""
    assert _one_line(err) == f"pamgate: receipt file {tmp_path / 'nope.json'}: not found\n"


def test_a_receipt_path_that_is_a_directory_is_one_line(tmp_path, pamgate) -> None:
    status, out, err = pamgate("sqlite:///unused.db", "receipts", "verify", str(tmp_path))
    assert status == 2 and out == ""
    assert _one_line(err) == f"pamgate: receipt file {tmp_path}: cannot be read (Is a directory)\n"


def test_a_receipt_file_that_is_not_text_is_one_line(tmp_path, pamgate) -> None:
    path = tmp_path / "receipt.bin"
    path.write_bytes(b"\xff\xfe\x00binary")
    status, out, err = pamgate("sqlite:///unused.db", "receipts", "verify", str(path))
    assert status == 2 and out == ""
    assert _one_line(err) == f"pamgate: receipt file {path}: not UTF-8 text\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_receipt_file_is_one_line(tmp_path, pamgate) -> None:
    path = tmp_path / "receipt.json"
    path.write_text("{}")
    path.chmod(0)
    status, out, err = pamgate("sqlite:///unused.db", "receipts", "verify", str(path))
    assert status == 2 and out == ""
    assert _one_line(err) == f"pamgate: receipt file {path}: cannot be read (Permission denied)\n"


# --- one composition root ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate"],
        ["reconcile"],
        ["audit", "verify"],
        ["prune"],
        ["sweep", "--once"],
        ["token", "--role", "ADMIN"],
        ["receipts", "verify", "-"],
    ],
)
def test_verbs_build_their_services_like_the_app(db, db_url, pamgate, monkeypatch, argv) -> None:
    built: list[Any] = []
    real = gateway.app.build_services

    def spy(config: Any, **kwargs: Any) -> Any:
        services = real(config, **kwargs)
        built.append(services)
        return services

    monkeypatch.setattr(gateway.app, "build_services", spy)
    monkeypatch.setattr("sys.stdin", _Stdin('{"receipt": {}}'))
    try:
        status, _, err = pamgate(db_url, *argv)
    finally:
        bind(db)
    assert err == ""
    assert status in (0, 1)  # receipts verify of an empty receipt: 1, invalid
    assert len(built) == 1
    assert built[0].config.database_url == db_url


class _Stdin:
    def __init__(self, text: str) -> None:
        self._text = text

    def read(self) -> str:
        return self._text


def test_a_broken_database_file_is_not_reported_as_a_missing_directory(tmp_path, pamgate) -> None:
    path = tmp_path / "pamgate.db"
    path.write_bytes(b"this is not a database" * 100)
    status, _, err = pamgate(f"sqlite:///{path}", "reconcile")
    assert status == 2
    assert "file is not a database" in _one_line(err)


def test_the_database_directory_check_resolves_relative_paths(
    tmp_path, pamgate, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = pamgate("sqlite:///relative.db", "migrate")
    assert status == 0 and "schema is current" in out
    assert Path(tmp_path / "relative.db").exists()


def test_serve_leaves_the_database_driver_to_the_workers() -> None:
    """gunicorn's gevent workers patch `threading.local` when they start: peewee (whose
    connection state is thread-local) must not be imported in the master before that, or
    every greenlet of a worker would share one connection."""
    code = (
        "import sys\n"
        "import gateway.http.server as server\n"
        "server.serve = lambda *a, **k: print(sorted({'peewee', 'psycopg2', 'playhouse'}"
        " & set(sys.modules)))\n"
        "from gateway.cli import main\n"
        "main(['serve'])\n"
    )
    env = {**os.environ, "PAMGATE_LOG_FORMAT": "json"}
    env.pop("PAMGATE_PARTNERS_FILE", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(cli.__file__).parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stderr
