"""Crash safety: gunicorn workers SIGKILLed in the middle of a load of signed `ticket_create`
and `ticket_win` calls. Every request the server acknowledged (200) must be in the ledger
exactly once, nothing may be half-written, and after a restart the bet engine's retries of
every request (acknowledged or cut off) settle the books exactly: the wallet ends at
deposit - tickets x price + tickets x payout, `pamgate reconcile` and `pamgate audit
verify` pass. On PostgreSQL when `PAMGATE_TEST_DATABASE_URL` is set, else SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from decimal import Decimal

import pytest
import requests

from signing import betstack
from tests import factories, live

pytestmark = pytest.mark.slow

THREADS = 4
TICKETS_PER_THREAD = 30
PRICE, PAYOUT = 500, 2602  # factories.ticket_data's amounts, cents


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def _signed(body: dict | None, timestamp: int) -> tuple[bytes, dict[str, str]]:
    raw = betstack.compact_json(body) if body is not None else b""
    headers = betstack.signed_headers(
        factories.SECRET, raw, timestamp=timestamp, operator=factories.OPERATOR
    )
    headers["Content-Type"] = "application/json"
    return raw, headers


def _ticket(base: str, ticket_id: str) -> dict | None:
    _, headers = _signed(None, int(time.time()))
    answer = requests.get(f"{base}/be/tickets/{ticket_id}", headers=headers, timeout=10)
    return answer.json() if answer.status_code == 200 else None


def test_killed_workers_lose_no_acknowledged_request_and_write_nothing_twice(tmp_path) -> None:
    port = live.free_port()
    with live.database_url(tmp_path, "crash") as url:
        env = live.server_env(url, live.DEMO_PARTNERS, port, PAMGATE_WORKERS="2")
        live.pamgate(env, "migrate")
        admin = live.pamgate(env, "token", "--role", "ADMIN").stdout.strip()
        auth = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
        bodies: list[dict] = []
        for n in range(THREADS * TICKETS_PER_THREAD):
            bodies.append({"action": "ticket_create", "data": {}})  # player filled in below
            ref = {"operator": factories.OPERATOR, "ticket_id": f"crash-{n}"}
            bodies.append({"action": "ticket_win", "data": ref})
        acknowledged: set[int] = set()
        rounds: list[list[int]] = []  # the workers killed, per round
        with live.serve(env, tmp_path / "serve.log") as srv:
            created = requests.post(
                f"{srv.base}/api/v1/players",
                json={
                    "operator": factories.OPERATOR,
                    "msisdn": "+50688880001",
                    "lang": "es",
                    "currency": "USD",
                },
                headers=auth,
                timeout=10,
            )
            player = created.json()["data"]["id"]
            deposit = requests.post(
                f"{srv.base}/api/v1/players/{player}/deposits",
                json={"amount": 100000, "idempotencyKey": "crash-funding"},
                headers=auth,
                timeout=10,
            )
            assert deposit.status_code == 201, deposit.text
            for n in range(THREADS * TICKETS_PER_THREAD):
                bodies[2 * n]["data"] = factories.ticket_data(f"crash-{n}", player)
            # signed once: a retry of a request cut off sends the same bytes
            signed = [_signed(body, int(time.time())) for body in bodies]
            done = threading.Event()
            lock = threading.Lock()

            in_flight = [0]  # requests sent and not yet answered
            cut: list[int] = []  # requests cut off (no answer)

            def load(first: int) -> None:
                session = requests.Session()
                for index in range(first, len(signed), THREADS * 2):
                    for i in (index, index + 1):  # create, then win, of one ticket
                        raw, headers = signed[i]
                        with lock:
                            in_flight[0] += 1
                        try:
                            answer = session.post(
                                f"{srv.base}/pam", data=raw, headers=headers, timeout=10
                            )
                        except requests.RequestException:  # cut off by a kill: not acknowledged
                            with lock:
                                cut.append(i)
                            time.sleep(0.05)  # as a bet engine backs off, not a tight loop
                            continue
                        finally:
                            with lock:
                                in_flight[0] -= 1
                        if answer.status_code == 200:
                            with lock:
                                acknowledged.add(i)

            def killer() -> None:
                # Every worker is killed at a moment a request is in flight (a worker killed
                # between requests proves nothing), in rounds, until a request was cut off
                # and there were two rounds: on a fast machine the load is over in a second.
                while not done.is_set() and len(rounds) < 12 and (len(rounds) < 2 or not cut):
                    time.sleep(0.3)  # requests go through; the master starts new workers
                    deadline = time.monotonic() + 5
                    while not done.is_set() and time.monotonic() < deadline:
                        with lock:
                            if in_flight[0] and acknowledged:
                                break
                        time.sleep(0.001)
                    else:
                        continue
                    pids = _workers(srv.proc.pid)
                    for pid in pids:
                        os.kill(pid, signal.SIGKILL)
                    rounds.append(pids)

            threads = [threading.Thread(target=load, args=(t * 2,)) for t in range(THREADS)]
            chaos = threading.Thread(target=killer)
            chaos.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            done.set()
            chaos.join()

        assert len(rounds) >= 2, "the load ended before the workers could be killed"
        # some requests got through and some were cut off: the kills landed mid-load
        assert 0 < len(acknowledged) < len(signed), len(acknowledged)
        # nothing half-written: the books hold right after the crashes
        assert live.pamgate(env, "reconcile", check=False).returncode == 0
        assert live.pamgate(env, "audit", "verify", check=False).returncode == 0

        port2 = live.free_port()
        env2 = {**env, "PAMGATE_BIND": f"127.0.0.1:{port2}"}
        with live.serve(env2, tmp_path / "serve2.log") as srv2:
            # every acknowledged request is there; the money matches the tickets' states
            tickets = {n: _ticket(srv2.base, f"crash-{n}") for n in range(len(bodies) // 2)}
            for i in acknowledged:
                ticket = tickets[i // 2]
                assert ticket is not None, f"acknowledged request {i} left no ticket"
                if i % 2:
                    assert ticket["result"] == "won", ticket
            opened = [t for t in tickets.values() if t is not None]
            won = [t for t in opened if t["result"] == "won"]
            wallet = requests.get(f"{srv2.base}/api/v1/players/{player}", headers=auth, timeout=10)
            balance = Decimal(str(wallet.json()["data"]["balance"])) * 100
            assert balance == 100000 * 100 - len(opened) * PRICE + len(won) * PAYOUT

            # the bet engine retries everything: the same bytes, then (for a request whose
            # refusal was remembered, e.g. a win that came before its ticket) a new signature
            for i, (raw, headers) in enumerate(signed):
                answer = requests.post(f"{srv2.base}/pam", data=raw, headers=headers, timeout=10)
                if answer.status_code != 200:
                    raw, headers = _signed(bodies[i], int(time.time()) + 1 + i % 50)
                    answer = requests.post(
                        f"{srv2.base}/pam", data=raw, headers=headers, timeout=10
                    )
                assert answer.status_code == 200, (i, answer.text)
            wallet = requests.get(f"{srv2.base}/api/v1/players/{player}", headers=auth, timeout=10)
        count = THREADS * TICKETS_PER_THREAD
        balance = Decimal(str(wallet.json()["data"]["balance"])) * 100
        assert balance == 100000 * 100 - count * PRICE + count * PAYOUT
        report = live.pamgate(env, "reconcile", check=False)
        assert report.returncode == 0, report.stdout
        chain = live.pamgate(env, "audit", "verify", check=False)
        assert chain.returncode == 0, chain.stdout
