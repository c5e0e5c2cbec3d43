"""Workers listen with SO_REUSEPORT, which would let a second instance share a running one's
port: `pamgate serve` refuses to start on an address something already listens on."""

from __future__ import annotations

import socket

import pytest

from gateway.http.server import refuse_taken_address


def _listening(reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


@pytest.mark.parametrize("reuse_port", [True, False])
def test_an_address_a_running_instance_listens_on_is_refused(reuse_port: bool) -> None:
    with _listening(reuse_port) as running:
        port = running.getsockname()[1]
        with pytest.raises(SystemExit, match=f"127.0.0.1:{port} is already in use"):
            refuse_taken_address(f"127.0.0.1:{port}")


def test_a_free_address_and_a_unix_socket_pass() -> None:
    with _listening(False) as taken:
        port = taken.getsockname()[1]
    refuse_taken_address(f"127.0.0.1:{port}")  # closed again: free
    refuse_taken_address("unix:/tmp/pamgate-test.sock")
