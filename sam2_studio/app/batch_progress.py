"""What a batch shows while it runs, and the table it ends with.

Lines for what happens to shots (started, done, failed and retried, skipped) and a status
line with the overall progress (shots done of all, a bar, time left) and each running shot's
stage and frames. On a terminal the status line is redrawn in place under the lines; into a
log it is written every ten seconds. The summary table (shot, frames, time, result) goes to
stdout, everything else to stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sam2_studio.app.progress import format_duration
from sam2_studio.app.shot_run import (DONE, FAILED, INTERRUPTED, SKIPPED, ShotProgress,
                                      ShotResult, ShotStarted, WorkerNote)

@dataclass
class _Running:
    attempt: int
    worker: str
    stage: str = "segment"
    done: int = 0
    total: int = 0


class BatchReporter:
    def __init__(self, total: int, stream: TextIO, *,
                 stages: Callable[[str], Sequence[str]] = lambda shot: ("segment",),
                 clock: Callable[[], float] = time.monotonic, width: int = 20,
                 log_interval_s: float = 10.0) -> None:
        self.total = total  # shots to run (the skipped ones are not counted)
        self.stream = stream
        self.stages = stages  # a shot's stages in order: segment, then its outputs
        self.clock = clock
        self.width = width
        self.finished = 0
        self.failed = 0
        self.running: dict[str, _Running] = {}
        self._t0 = clock()
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._interval = 0.1 if self._tty else log_interval_s
        self._last_draw = clock()
        self._drawn = 0
        self._notes: set[str] = set()
        self._ended: set[tuple[str, int]] = set()

    # -- events -----------------------------------------------------------------------------
    def handle(self, event: Any) -> None:
        if isinstance(event, ShotStarted):
            if (event.shot, event.attempt) in self._ended:  # told late (Ray): already over
                return
            self.running[event.shot] = _Running(event.attempt, event.worker)
            again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            self.say(f"{event.shot}: started{again} on {event.worker}")
        elif isinstance(event, ShotProgress):
            r = self.running.get(event.shot)
            if r is not None:
                r.stage, r.done, r.total = event.stage, event.done, event.total
            self.draw()
        elif isinstance(event, WorkerNote):
            text = event.text.rstrip()
            if text not in self._notes:  # every worker loads the same model: say it once
                self._notes.add(text)
                self.say(text)

    def skipped(self, result: ShotResult) -> None:
        self.say(f"{result.shot}: skipped, {result.note}")

    def retrying(self, result: ShotResult) -> None:
        self.running.pop(result.shot, None)
        self._ended.add((result.shot, result.attempts))
        self.say(f"{result.shot}: attempt {result.attempts} failed: {result.error}; "
                 "trying again")

    def done(self, result: ShotResult) -> None:
        self.running.pop(result.shot, None)
        self._ended.add((result.shot, result.attempts))
        self.finished += 1
        where = f" on {result.worker}" if result.worker else ""
        if result.status == DONE:
            self.say(f"{result.shot}: done, {result.frames} frames in "
                     f"{format_duration(result.seconds)}{where}")
        elif result.status == FAILED:
            self.failed += 1
            tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
            self.say(f"{result.shot}: FAILED{tries}: {result.error}")
        else:
            self.say(f"{result.shot}: {result.status}")
        if result.note and result.status != SKIPPED:
            self.say(f"{result.shot}: warning: {result.note}")

    # -- drawing ----------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.draw(force=self._tty)

    def fraction(self) -> float:
        """Shots done, counting each running shot by how far it is."""
        part = 0.0
        for name, r in self.running.items():
            stages = self.stages(name) or ("segment",)
            index = stages.index(r.stage) if r.stage in stages else 0
            part += (index + (r.done / r.total if r.total else 0.0)) / len(stages)
        return min(self.finished + part, self.total)

    def line(self) -> str:
        frac = self.fraction() / self.total if self.total else 1.0
        filled = int(frac * self.width)
        parts = [f"batch [{'#' * filled}{'-' * (self.width - filled)}] {self.finished}/"
                 f"{self.total} shots"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        elapsed = self.clock() - self._t0
        if 0 < frac < 1 and elapsed > 1:
            parts.append(f"{format_duration(elapsed * (1 - frac) / frac)} left")
        for name, r in sorted(self.running.items()):
            parts.append(f"{name} {r.stage} {r.done}/{r.total}" if r.total else f"{name} {r.stage}")
        return "  ".join(parts)

    def draw(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        text = self.line()
        if self._tty:
            self._clear()
            self.stream.write(text)
            self._drawn = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self._tty and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    def close(self) -> None:
        self._clear()
        self.stream.flush()


def summary(results: Sequence[ShotResult], seconds: float) -> str:
    """The table a batch ends with, and a line of totals (shots per hour among them)."""
    rows = [("SHOT", "FRAMES", "TIME", "RESULT")]
    for r in results:
        frames = str(r.frames) if r.frames is not None else "-"
        took = format_duration(r.seconds) if r.status not in (SKIPPED,) and r.seconds else "-"
        if r.status == FAILED:
            tries = f" after {r.attempts} attempts" if r.attempts > 1 else ""
            result = f"FAILED{tries}: {r.error}"
        elif r.status == SKIPPED:
            result = f"skipped ({r.note})"
        elif r.status == DONE and r.attempts > 1:
            result = f"done (attempt {r.attempts})"
        else:
            result = r.status
        rows.append((r.shot, frames, took, result))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    lines = [f"{a:<{w0}}  {b:>{w1}}  {c:>{w2}}  {d}" for a, b, c, d in rows]
    counts = {s: sum(r.status == s for r in results) for s in (DONE, SKIPPED, FAILED, INTERRUPTED)}
    done = counts[DONE]
    rate = f", {done / seconds * 3600:.1f} shots/hour" if done and seconds > 0 else ""
    told = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    not_run = len(results) - sum(counts.values())
    if not_run:
        told += f", {not_run} not run"
    lines.append(f"{len(results)} shots: {told} in {format_duration(seconds)}{rate}")
    return "\n".join(lines) + "\n"
