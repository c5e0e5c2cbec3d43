"""The real thing: `pamgate migrate`, `pamgate demo`, `pamgate serve` (gunicorn) on a free
port, then the printed curl snippets run in bash, as a newcomer would after `make run`."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests

from tests import live

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path):
    port = live.free_port()
    env = live.server_env(f"sqlite:///{tmp_path / 'demo.db'}", live.DEMO_PARTNERS, port)
    live.pamgate(env, "migrate")
    demo = live.pamgate(env, "demo", "--base-url", f"http://127.0.0.1:{port}")
    with live.serve(env, tmp_path / "serve.log") as srv:
        yield srv.base, demo.stdout, srv.log_path, env


def test_gunicorn_serves_health_and_readiness(server):
    base, _, _, _ = server
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert "X-Request-Id" in ready.headers


@pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("curl")),
    reason="the demo's snippets need openssl and curl",
)
def test_demo_curl_calls_walk_a_ticket_through_its_life(server):
    _base, script, log_path, env = server
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    balances = [int(b) for b in re.findall(r'"balance":(\d+)', result.stdout)]
    assert balances == [10000, 9500, 12102, 9500]
    assert result.stdout.count("[HTTP 200]") == 10
    logs = log_path.read_text()
    assert '"event": "http_request"' in logs and '"request_id"' in logs
    assert "12345ABCDE" not in logs
    # a second `make run` announces the balance the player really has now (9500), and its
    # walk finds exactly the balances it announced
    again = live.pamgate(env, "demo", "--base-url", _base).stdout
    assert "# 1. identify: balance is 9500 cents (95.00 USD)" in again
    assert "# 6. identify again: 11602" in again
    second = subprocess.run(["bash", "-c", again], capture_output=True, text=True, timeout=60)
    assert [int(b) for b in re.findall(r'"balance":(\d+)', second.stdout)] == [
        9500,
        9000,
        11602,
        9000,
    ]
