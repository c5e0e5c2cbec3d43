"""`pamgate demo`'s lottery walk, run in bash against gunicorn as a new user would: buy a
ticket, keep the receipt PNG, read its QR code back, verify the receipt, record results
that make it win, and find the books clean with the prize liability equal to the payout."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import zxingcpp
from PIL import Image

from gateway.demo import DEMO_PRIZES
from tests import live

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not shutil.which("curl"), reason="the demo's snippets need curl")
def test_the_demo_sells_a_ticket_that_wins(tmp_path):
    port = live.free_port()
    env = live.server_env(f"sqlite:///{tmp_path / 'demo.db'}", live.DEMO_PARTNERS, port)
    live.pamgate(env, "migrate")
    demo = live.pamgate(env, "demo", "--base-url", f"http://127.0.0.1:{port}")
    start = demo.stdout.index("# --- lottery")
    script = demo.stdout[start : demo.stdout.index("\n# --- ", start)]
    with live.serve(env, tmp_path / "serve.log"):
        result = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '"draw_number"' in out and '{"valid":true}' in out
    assert "reconciliation ok" in out
    results = json.loads(next(line for line in out.splitlines() if '"winners"' in line))
    image = re.search(r"image (\S+receipt\.png)", out)
    assert image is not None
    codes = zxingcpp.read_barcodes(Image.open(image.group(1)))
    purchase = json.loads((tmp_path / image.group(1).split("/")[-2] / "purchase.json").read_text())
    # the drawn numbers are the first board (6 matches in every table); the second board is
    # random and may match a few of them too
    boards = purchase["ticket"]["combination_numbers"].split("|")
    drawn = set(boards[0].split(","))
    expected = sum(
        table.get(str(len(drawn & set(board.split(",")))), 0)
        for board in boards
        for table in DEMO_PRIZES.values()
    )
    assert expected >= 5_000_000 + 1_000_000 + 200_000
    assert results["data"]["winners"] == 1
    assert results["data"]["payout_total"] == expected
    assert json.loads(codes[0].text) == {
        "reference_number": purchase["ticket"]["reference_number"],
        "security_number": purchase["ticket"]["security_number"],
    }
