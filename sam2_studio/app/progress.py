"""A text progress bar for long command-line work: frames or bytes, rate and time left.

On a terminal it redraws one line; into a file or a pipe (CI logs) it writes a line now and
then instead, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, Protocol, TextIO

Unit = Literal["frames", "bytes"]


class ProgressContext(Protocol):
    """Where long work gets its progress bar: ``cli.CliContext``, or a batch shot's reporter.
    The bar is used as a context manager, with ``advance`` or ``update``."""

    def progress(self, total: int | None, *, label: str = "") -> Any: ...


def format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """``update(done)`` with the position (or ``advance(n)``), ``close()`` at the end.

    The rate is measured over the last few seconds (a resumed download does not count the
    bytes it already had), and the time left follows from it.
    """

    def __init__(self, total: int | None, *, unit: Unit = "frames", label: str = "",
                 initial: int = 0, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, width: int = 28,
                 min_interval_s: float = 0.1, log_interval_s: float = 10.0) -> None:
        self.total = total
        self.unit = unit
        self.label = label
        self.done = initial
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._width = width
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._interval = min_interval_s if self._tty else log_interval_s
        self._samples: deque[tuple[float, int]] = deque([(clock(), initial)])
        self._last_draw = float("-inf")
        self._last_len = 0
        self._closed = False
        self._started = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Stop without a final report (an error message follows on a line of its own)."""
        if not self._closed:
            self._closed = True
            if self._tty and self._last_len:
                self._stream.write("\n")
                self._stream.flush()

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.done = done
        now = self._clock()
        if not self._started:  # the first report sets the baseline (a resume's bytes are old)
            self._started = True
            self._samples.clear()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 5.0:
            self._samples.popleft()
        if now - self._last_draw >= self._interval:
            self._draw(self.line())
            self._last_draw = now

    @property
    def rate(self) -> float | None:
        """Units per second over the recent window; None until measurable."""
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 >= d0 else None

    def line(self) -> str:
        parts = [self.label] if self.label else []
        fmt = format_bytes if self.unit == "bytes" else (lambda n: f"{n:.0f}")
        if self.total:
            frac = min(max(self.done / self.total, 0.0), 1.0)
            filled = int(frac * self._width)
            parts.append("[" + "#" * filled + "-" * (self._width - filled) + "]")
            parts.append(f"{frac * 100:5.1f}%")
            count = (f"{format_bytes(self.done)} / {format_bytes(self.total)}" if self.unit == "bytes"
                     else f"{self.done}/{self.total} frames")
        else:
            count = f"{fmt(self.done)}" + (" frames" if self.unit == "frames" else "")
        parts.append(count)
        rate = self.rate
        if rate is not None:
            parts.append(f"{format_bytes(rate)}/s" if self.unit == "bytes" else f"{rate:.1f} frames/s")
            if self.total and rate > 0 and self.done < self.total:
                parts.append(f"{format_duration((self.total - self.done) / rate)} left")
        return "  ".join(parts)

    def _draw(self, text: str) -> None:
        if self._tty:
            pad = max(self._last_len - len(text), 0)
            self._stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def close(self, message: str | None = None) -> None:
        """Draw the final state (and a closing message) and end the line."""
        if self._closed:
            return
        self._closed = True
        text = self.line() + (f"  {message}" if message else "")
        if self._tty:
            self._draw(text)
            self._stream.write("\n")
            self._stream.flush()
        else:
            self._draw(text)
