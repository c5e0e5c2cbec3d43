"""The real thing: `pamgate migrate`, `pamgate demo`, `pamgate serve` (gunicorn) on a free
port, then the printed curl snippets run in bash, as a newcomer would after `make run`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PAMGATE = [sys.executable, "-m", "gateway.cli"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "PAMGATE_PARTNERS_FILE": str(ROOT / "config" / "demo_partners.toml"),
        "PAMGATE_BIND": f"127.0.0.1:{port}",
        "PAMGATE_WORKERS": "2",
        "PAMGATE_LOG_FORMAT": "json",
    }
    env.pop("PAMGATE_TEST_DATABASE_URL", None)
    subprocess.run([*PAMGATE, "migrate"], env=env, check=True, cwd=ROOT, capture_output=True)
    demo = subprocess.run([*PAMGATE, "demo", "--base-url", f"http://127.0.0.1:{port}"],
                          env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen([*PAMGATE, "serve"], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.terminate()
        pytest.fail("gunicorn did not start: " + (tmp_path / "serve.log").read_text()[-2000:])
    yield base, demo.stdout, tmp_path / "serve.log"
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_gunicorn_serves_health_and_readiness(server):
    base, _, _ = server
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert "X-Request-Id" in ready.headers


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("curl")),
                    reason="the demo's snippets need openssl and curl")
def test_demo_curl_calls_walk_a_ticket_through_its_life(server):
    _base, script, log_path = server
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    balances = [int(b) for b in re.findall(r'"balance":(\d+)', result.stdout)]
    assert balances == [10000, 9500, 12102, 9500]
    assert result.stdout.count("[HTTP 200]") == 10
    logs = log_path.read_text()
    assert '"event": "http_request"' in logs and '"request_id"' in logs
    assert "12345ABCDE" not in logs
