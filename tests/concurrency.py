"""Run one piece of work in many threads released together, for the race tests.

`in_threads(n, work)` runs `work(i)` for i in 0..n-1, each in its own thread, all waiting on
one barrier so they hit the database at the same moment; it returns each thread's result or
the exception it raised, in order. `race(n, arm)` is the same for work that needs a setup
first (a test client, a signed request): `arm(i)` runs before the barrier and returns the
call to make after it; any exception is raised once every thread has finished.

Each thread gives its database connection back when it ends (`database.close()`), and a
thread still running after `timeout` seconds fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from gateway.store.database import database

T = TypeVar("T")

TIMEOUT_S = 120.0


def _run(n: int, arm: Callable[[int], Callable[[], T]], timeout: float) -> list[T | Exception]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        try:
            try:
                shot = arm(i)
            except BaseException:
                barrier.abort()  # the others would wait for this thread forever
                raise
            barrier.wait()
            results[i] = shot()
        except Exception as exc:  # the caller inspects or raises every outcome
            results[i] = exc
        finally:
            database.close()

    threads = [threading.Thread(target=worker, args=(i,), name=f"worker-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return results


def in_threads(n: int, work: Callable[[int], T], *, timeout: float = TIMEOUT_S) -> list[Any]:
    """Run `work(i)` in n threads released together; each result or raised exception."""
    return _run(n, lambda i: lambda: work(i), timeout)


def race(n: int, arm: Callable[[int], Callable[[], T]], *, timeout: float = TIMEOUT_S) -> list[T]:
    """Prepare with `arm(i)` in n threads, then make every returned call at once; the
    results in order, or the first exception raised (after all threads are done)."""
    results = _run(n, arm, timeout)
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:  # the cause, not the broken barrier it left the other threads with
        raise next(
            (e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0]
        )
    return results  # type: ignore[return-value]
