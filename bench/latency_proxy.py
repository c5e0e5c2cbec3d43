"""A TCP proxy that adds a fixed delay each way: a database in another zone, on one box.

    .venv/bin/python bench/latency_proxy.py --listen 127.0.0.1:6543 \
        --target 127.0.0.1:5432 --delay-ms 5

Every chunk read from one side is written to the other `delay` later, in order; reading goes
on meanwhile, so the proxy adds latency (a round trip costs 2 x delay more) without limiting
bandwidth. asyncio, one process; `scale_bench.py` starts it as a child.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import time


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                break
        await sender
    finally:
        sender.cancel()


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _serve(listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        _nodelay(client_w)
        _nodelay(server_w)
        try:
            await asyncio.gather(_pipe(client_r, server_w, delay), _pipe(server_r, client_w, delay))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            client_w.close()
            server_w.close()

    server = await asyncio.start_server(handle, *listen, backlog=1024)
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
