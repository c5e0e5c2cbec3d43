"""Progress of a long command on a terminal: done (of the total, when known), rate, time
left, redrawn in place on stderr. When stderr is not a terminal (a pipe, a file, cron,
systemd) nothing at all is written, so logs and scripts see only the command's result.

Commands hand `Progress.update` to the core as its progress callback (`(done, total)`;
total None when unknown); work whose progress cannot be observed is shown `ticking`: the
elapsed time, redrawn by a background thread until it ends.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

# What the core calls as the work goes: (done, total), total None when unknown.
ProgressCallback = Callable[[int, int | None], None]

REDRAW_S = 0.2  # at most this often (the last state is always drawn at the end)
_CLEAR = "\r\x1b[K"


def _duration(seconds: float) -> str:
    seconds = max(int(seconds + 0.5), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


class Progress:
    """`with Progress("prune", unit="messages") as p: core.work(progress=p.update)`."""

    def __init__(
        self,
        label: str,
        *,
        unit: str = "",
        total: int | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        ticking: bool = False,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self.enabled = _is_terminal(self._stream)
        self._started = clock()
        self._drawn_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.enabled and ticking:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="progress")
            self._ticker.start()

    # --- what commands and the core call ---

    def update(self, done: int, total: int | None = None) -> None:
        """The work's state: `done` so far, of `total` (None: keep the last known)."""
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            self._draw(force=False)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def close(self) -> None:
        """Draw the final state and end the line (nothing when not on a terminal)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self.enabled and self._drawn_at != -1.0:
                self._stream.write(_CLEAR + self.render(final=True) + "\n")
                self._stream.flush()
                self._drawn_at = -1.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- drawing ---

    def render(self, now: float | None = None, *, final: bool = False) -> str:
        elapsed = max((self._clock() if now is None else now) - self._started, 1e-9)
        unit = f" {self.unit}" if self.unit else ""
        if final:
            count = f"{self.done:,}{unit}, " if self.done or self.total else ""
            return f"{self.label}: {count}done in {_duration(elapsed)}"
        if self.total is None and not self.done:
            return f"{self.label}: working… {_duration(elapsed)}"
        rate = self.done / elapsed
        parts = [f"{self.done:,}{unit}" if self.total is None else f"{self.done:,}/{self.total:,}"]
        if self.total:
            parts[0] += f"{unit} ({min(self.done / self.total, 1):.0%})"
        parts.append(f"{rate:,.0f}{unit}/s")
        if self.total and rate > 0:
            parts.append(f"{_duration(max(self.total - self.done, 0) / rate)} left")
        else:
            parts.append(_duration(elapsed))
        return f"{self.label}: " + ", ".join(parts)

    def _draw(self, *, force: bool) -> None:
        if not self.enabled or self._drawn_at == -1.0:
            return
        if self.total == 0 and not self.done:  # nothing to do: only the final line
            return
        now = self._clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_S:
            return
        self._drawn_at = now
        self._stream.write(_CLEAR + self.render(now))
        self._stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW_S):
            with self._lock:
                self._draw(force=True)
