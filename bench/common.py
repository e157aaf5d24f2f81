"""Shared helpers for the benchmarks: timing, memory sampling, the reference oracle."""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Timing:
    median: float  # wall seconds
    best: float
    runs: int
    cpu: float  # median CPU seconds of the process: robust when others load the machine

    def __str__(self) -> str:
        return f"{self.median * 1000:8.1f} ms (best {self.best * 1000:.1f}, cpu {self.cpu * 1000:.0f})"


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> Timing:
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return Timing(statistics.median(times), min(times), repeat, statistics.median(cpu))


def rss_mb() -> float:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss / 2**20


class PeakRss:
    """Samples the process's RSS in a thread: peak over a block, in MB."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.start = rss_mb()
        self.peak = self.start
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def growth(self) -> float:
        return self.peak - self.start
