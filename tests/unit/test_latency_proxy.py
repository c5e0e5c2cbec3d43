"""The scale benchmark's latency proxy (`bench/latency_proxy.py`) delays, keeps order, and
passes a close on: its figures are only as good as that."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

from bench.scale_bench import start_proxy

DELAY_MS = 40


def _echo_server() -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)
        # the client closed: our side closes too

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def _connect(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_bytes_come_back_in_order_a_round_trip_later_and_close_passes_through() -> None:
    listener, target = _echo_server()
    proxy, port = start_proxy(target, DELAY_MS, Path(os.devnull))
    try:
        client = _connect(port, time.monotonic() + 10)
        with client:
            messages = [b"first,", b"x" * 200_000, b"last"]
            sent = time.monotonic()
            for message in messages:  # back to back: chunks overtake nothing
                client.sendall(message)
            expected = b"".join(messages)
            assert _read(client, len(expected)) == expected
            assert time.monotonic() - sent >= 2 * DELAY_MS / 1000
            client.shutdown(socket.SHUT_WR)  # the server sees the end, closes, so do we
            assert client.recv(10) == b""
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        listener.close()
