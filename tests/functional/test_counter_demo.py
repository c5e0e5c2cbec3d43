"""`pamgate demo`'s counter walk, run in bash against gunicorn as a new cashier would: log in
as the window's cashier, pay the demo's winning ticket in two parts (the first request sent
twice), see it `PAID` and in the day's statement, and be refused at another window."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal

import pytest

from tests import live

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not shutil.which("curl"), reason="the demo's snippets need curl")
def test_a_cashier_pays_the_demo_winner_in_two_parts(tmp_path):
    port = live.free_port()
    env = live.server_env(f"sqlite:///{tmp_path / 'demo.db'}", live.DEMO_PARTNERS, port)
    live.pamgate(env, "migrate")
    demo = live.pamgate(env, "demo", "--base-url", f"http://127.0.0.1:{port}")
    script = demo.stdout[demo.stdout.index("# --- the counter") :]
    assert "demo-cajero " in script and "demo-vendedor " in script
    with live.serve(env, tmp_path / "serve.log"):
        result = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    first, replay, final, history, statement, refused = answers
    assert Decimal(str(first["data"]["amountPaid"])) == 20000 and "meta" not in first
    assert replay["meta"] == {"cached": True} and replay["data"] == first["data"]
    assert final["data"]["isFinal"] is True
    h = history["data"]
    assert h["status"] == "PAID"
    assert [Decimal(str(h[k])) for k in ("totalPayout", "totalPaid", "remainingAmount")] == [
        50000,
        50000,
        0,
    ]
    assert len(h["payments"]) == 2
    (day,) = statement["data"]
    assert Decimal(str(day["totalPayouts"])) == 50000
    assert Decimal(str(day["totalSales"])) == 15  # the winning ticket, sold by the seller
    assert refused["error"]["code"] == "TKT_PAY_006"
    # the winner is paid: a second run of the demo sells and draws a new one
    again = live.pamgate(env, "demo", "--base-url", f"http://127.0.0.1:{port}")
    winner = re.compile(r"# winning ticket (\S+) ")
    first_winner, next_winner = winner.search(demo.stdout), winner.search(again.stdout)
    assert first_winner and next_winner and first_winner.group(1) != next_winner.group(1)
