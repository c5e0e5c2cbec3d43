"""The partners file is validated in one place, at start-up: a key that cannot be used (a
`whsec_` whose base64 is broken, a `whpk_` of the wrong length) or any other bad entry is
one line on stderr and exit status 2 from every `pamgate` verb, `serve` included, never a
traceback and never the secret."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.partners import load_partners
from config.settings import ConfigError, load_config
from gateway.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_!!c2VjcmV0-not-base64"  # the prefix is right, the base64 is not

BAD_ENTRIES = [
    pytest.param(f'secret = "{SECRET}"', "whsec_ secret is not valid base64", id="whsec-base64"),
    pytest.param('secret = "whsec_"', "whsec_ secret is empty", id="whsec-empty"),
    pytest.param('secret = "whpk_AAAA"', "whpk_ key must decode to 32 bytes", id="whpk-length"),
    pytest.param('secret = "whpk_%%%"', "whpk_ key is not valid base64", id="whpk-base64"),
]


def _partners_file(tmp_path: Path, secret_line: str) -> Path:
    path = tmp_path / "partners.toml"
    path.write_text(
        '[[partners]]\nid = "hooks"\nprotocol = "standard-webhooks"\n'
        f'[[partners.keys]]\nkid = "k1"\n{secret_line}\n'
    )
    return path


@pytest.mark.parametrize(("secret_line", "message"), BAD_ENTRIES)
def test_an_unusable_key_is_refused_when_the_file_is_loaded(tmp_path, secret_line, message):
    path = _partners_file(tmp_path, secret_line)
    with pytest.raises(ConfigError) as info:
        load_partners(str(path))
    text = str(info.value)
    assert text.startswith(f"partners file {path}: partner 'hooks': key 'k1': ")
    assert message in text
    assert "\n" not in text
    assert SECRET not in text and "c2VjcmV0" not in text


def test_a_valid_whsec_key_still_loads(tmp_path):
    path = _partners_file(tmp_path, 'secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"')
    (partner,) = load_partners(str(path))
    assert (partner.id, partner.protocol, partner.keys[0].kid) == (
        "hooks",
        "standard-webhooks",
        "k1",
    )


def test_a_broken_signing_key_is_one_line_naming_its_kid():
    with pytest.raises(ConfigError) as info:
        load_config({"PAMGATE_SIGNING_KEY": "main:whsk_%%%"})
    assert str(info.value) == "PAMGATE_SIGNING_KEY key 'main': whsk_ key is not valid base64"


def _every_verb() -> list[list[str]]:
    """One argv per verb of the parser, with the arguments it requires."""
    required = {
        "token": ["--role", "ADMIN"],
        "receipts verify": ["-"],
        "outbox replay": ["--state", "dead"],
        "lottery results": ["100", "1", "2", "3", "4", "5", "6"],
    }
    argvs: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            argvs.append(prefix + required.get(" ".join(prefix), []))
            return
        for name, sub in subparsers[0].choices.items():
            walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return argvs


VERBS = _every_verb()


def test_every_verb_is_covered():
    assert {" ".join(argv[:2]) for argv in VERBS} >= {
        "migrate",
        "serve",
        "token --role",
        "demo",
        "keys generate",
        "receipts verify",
        "sweep",
        "reconcile",
        "audit verify",
        "prune",
        "dispatch",
        "outbox replay",
    }


@pytest.mark.parametrize("argv", VERBS, ids=[" ".join(a) for a in VERBS])
def test_every_verb_exits_2_with_one_line(tmp_path, monkeypatch, capsys, argv):
    path = _partners_file(tmp_path, f'secret = "{SECRET}"')
    monkeypatch.setenv("PAMGATE_PARTNERS_FILE", str(path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-opened.db'}")
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"pamgate: configuration error: partners file {path}: partner "
        "'hooks': key 'k1': whsec_ secret is not valid base64\n"
    )
    assert not (tmp_path / "never-opened.db").exists()


def test_pamgate_serve_prints_no_traceback(tmp_path):
    """The real process: what an operator sees when the service will not start."""
    path = _partners_file(tmp_path, f'secret = "{SECRET}"')
    env = {
        **os.environ,
        "PAMGATE_PARTNERS_FILE": str(path),
        "PAMGATE_LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "whsec_ secret is not valid base64" in done.stderr
    assert "Traceback" not in done.stderr and "c2VjcmV0" not in done.stderr
