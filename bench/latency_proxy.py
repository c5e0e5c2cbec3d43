"""A TCP proxy that adds a fixed delay each way: a database in another zone, on one box.

    .venv/bin/python bench/latency_proxy.py --listen 127.0.0.1:6543 \
        --target 127.0.0.1:5432 --delay-ms 5

Every chunk read from one side is written to the other `delay` later, in order; reading goes
on meanwhile, so the proxy adds latency (a round trip costs 2 x delay more) without limiting
bandwidth. asyncio protocols in one process, no task or queue per chunk: each direction
keeps a deque of (due, bytes) and one timer for its head, so the proxy's own CPU stays small
beside the gateway it measures (it shares the box). `scale_bench.py` starts it as a child
and reports the CPU it used.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import socket
import time


class _Side(asyncio.Protocol):
    """One connection's end; what it reads reaches `peer`'s transport `delay` later."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self.loop = loop
        self.delay = delay
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False  # the peer is closed once what was read before is delivered
        self.connecting: asyncio.Task[None] | None = None  # the client's connect to the target

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._later(data)

    def eof_received(self) -> bool:
        self._later(None)
        return True  # keep our write side open until the delayed bytes are out

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._later(None)

    def _later(self, data: bytes | None) -> None:
        self.pending.append((time.monotonic() + self.delay, data))
        if self.timer is None:
            self.timer = self.loop.call_at(self.pending[0][0], self._deliver)

    def _deliver(self) -> None:
        self.timer = None
        peer = self.peer.transport if self.peer is not None else None
        if peer is None and self.closed:  # gone before its target connected
            self.pending.clear()
            return
        if peer is None:  # target not connected yet: try again shortly
            self.timer = self.loop.call_later(0.001, self._deliver)
            return
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            _, data = self.pending.popleft()
            if data is None:
                if self.closed:
                    peer.close()  # after what it still buffers
                elif peer.can_write_eof():
                    peer.write_eof()
            else:
                peer.write(data)
        if self.pending:
            self.timer = self.loop.call_at(self.pending[0][0], self._deliver)


async def _serve(listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
    loop = asyncio.get_running_loop()

    def accept() -> _Side:
        client = _Side(loop, delay)

        async def connect() -> None:
            try:
                _, server = await loop.create_connection(lambda: _Side(loop, delay), *target)
            except OSError:
                if client.transport is not None:
                    client.transport.close()
                return
            client.peer, server.peer = server, client

        client.connecting = loop.create_task(connect())
        return client

    server = await loop.create_server(accept, *listen, backlog=1024)
    async with server:
        where = f"{listen[0]}:{listen[1]} -> {target[0]}:{target[1]}"
        print(f"proxy {where}, +{delay * 1000:g} ms each way", flush=True)
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT to accept on")
    parser.add_argument("--target", default="127.0.0.1:5432", help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="added each way")
    args = parser.parse_args()
    asyncio.run(_serve(_address(args.listen), _address(args.target), args.delay_ms / 1000))


if __name__ == "__main__":
    main()
