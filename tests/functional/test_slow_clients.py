"""Through the real `pamgate serve` (gunicorn, 2 workers): chunked bodies reach the app
whole, slow senders are cut off with 408 and never keep `/healthz` waiting (SPEC 0)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from signing import betstack
from tests.functional.test_gunicorn_demo import server  # noqa: F401 - the live server

pytestmark = pytest.mark.slow

READ_TIMEOUT_S = 2


@pytest.fixture
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests must arrive within 2 s (the server fixture passes the environment on)."""
    monkeypatch.setenv("PAMGATE_READ_TIMEOUT_S", str(READ_TIMEOUT_S))


def _address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def _healthz_seconds(base: str) -> float:
    t0 = time.perf_counter()
    resp = requests.get(f"{base}/healthz", timeout=10)
    assert resp.status_code == 200
    return time.perf_counter() - t0


def _answer(sock: socket.socket, wait_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or `wait_s` passes), and when."""
    sock.settimeout(wait_s)
    t0 = time.perf_counter()
    data = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(4096):
            data += chunk
    return data, time.perf_counter() - t0


@contextlib.contextmanager
def _trickling(base: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that send one header byte every 0.3 s and never finish."""
    socks = [socket.create_connection(_address(base), timeout=5) for _ in range(count)]
    for s in socks:
        s.sendall(b"POST /pam HTTP/1.1\r\nHost: pamgate\r\nX-Slow: ")
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.3):
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"a")

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield socks
    finally:
        stop.set()
        thread.join()
        for s in socks:
            s.close()


def _signed_chunks(body: bytes) -> tuple[Iterator[bytes], dict[str, str]]:
    headers = betstack.signed_headers(
        "12345ABCDE", body, timestamp=int(time.time()), operator="acme"
    )
    headers["Content-Type"] = "application/json"
    return (body[i : i + 1000] for i in range(0, len(body), 1000)), headers


def test_chunked_bodies_are_read_whole_and_held_to_the_size_limit(server):  # noqa: F811
    base, *_ = server
    envelope = {
        "action": "ticket_create",
        "data": {
            "operator": "acme",
            "ticket_id": "chunked-1",
            "ticket_code": "CHUNK1",
            "player_id": "no-such-player",
            "price": 500,
            "stake": 444,
            "wht_amount": 240,
            "wht": 10,
            "ext_amount": 56,
            "ext": 12.5,
            "ext_type": "inclusive",
            "gross_payout": 2842,
            "net_payout": 2602,
            "currency": "USD",
            "ticket_type": "quickbet",
        },
    }
    chunks, headers = _signed_chunks(betstack.compact_json(envelope))
    resp = requests.post(f"{base}/pam", data=chunks, headers=headers, timeout=10)
    # the signature matched the chunked body: the request got as far as the player lookup
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert (resp.status_code, resp.json()) == (403, {"code": 101, "message": "User not found"})

    chunks, headers = _signed_chunks(b'{"action":"ping","pad":"' + b"x" * 70_000 + b'"}')
    resp = requests.post(f"{base}/pam", data=chunks, headers=headers, timeout=10)
    assert resp.status_code == 413
    assert resp.json() == {"code": 108, "message": "Request body exceeds the size limit"}


def test_fifty_slow_senders_neither_delay_healthz_nor_keep_their_connection(
    short_read_timeout,
    server,  # noqa: F811 - the live server fixture
):
    base, *_ = server
    with _trickling(base, 50) as socks:
        stalled = socket.create_connection(_address(base), timeout=5)
        stalled.sendall(
            b"POST /pam HTTP/1.1\r\nHost: pamgate\r\nContent-Type: "
            b"application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        time.sleep(0.5)  # every slow sender is connected and has started its request
        latencies = [_healthz_seconds(base) for _ in range(5)]
        assert max(latencies) < 1.0, latencies

        # the slow senders are cut off with 408 once their read deadline has passed
        answers = [_answer(s, READ_TIMEOUT_S + 5) for s in socks[:5]]
        body_answer, _ = _answer(stalled, READ_TIMEOUT_S + 5)
        stalled.close()
        assert _healthz_seconds(base) < 1.0

    for data, _ in answers:
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), data[:200]
        assert b"connection: close" in head.lower()
        assert json.loads(body)["error"]["message"] == "Request not received in time"
    head, _, body = body_answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), body_answer[:200]
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {"code": 108, "message": "Request body not received in time"}
