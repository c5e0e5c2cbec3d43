"""`pamgate demo`'s payments walk, run in bash against gunicorn as a new user would: with the
printed cookie token, record a Lightning payment in BTC, link it to two orders, correct its
amount; then `pamgate payments books` and `pamgate reconcile` find the ledger in agreement."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests import live

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not shutil.which("curl"), reason="the demo's snippets need curl")
def test_the_demo_records_corrects_and_links_a_lightning_payment(tmp_path):
    port = live.free_port()
    with live.database_url(tmp_path, "payments") as url:
        env = live.server_env(url, live.DEMO_PARTNERS, port)
        live.pamgate(env, "migrate")
        demo = live.pamgate(env, "demo", "--base-url", f"http://127.0.0.1:{port}")
        start = demo.stdout.index("# --- payments registry")
        end = demo.stdout.find("\n# --- ", start)
        script = demo.stdout[start : end if end > 0 else None]
        assert "accessToken=" in script and "Authorization" not in script
        with live.serve(env, tmp_path / "serve.log"):
            result = subprocess.run(
                ["bash", "-c", "set -e\n" + script],
                capture_output=True,
                text=True,
                timeout=60,
                env={"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
            )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        links = [json.loads(line) for line in lines if '"ticketId"' in line]
        assert [link["ticketId"] for link in links] == ["order-1001", "order-1002"]
        assert '"Payment updated successfully"' in lines
        payment = next(line for line in lines if line.startswith('{"id"'))
        assert '"amount":0.00030000' in payment
        books = live.pamgate(env, "payments", "books")
        assert books.stdout.splitlines() == [
            "BTC: 1 live payments total 0.00030000; ledger payments received 0.00030000 (agree)",
            "  clearing lightning: 0.00030000",
        ]
        report = live.pamgate(env, "reconcile", "--json")
        assert json.loads(report.stdout)["ok"] is True
