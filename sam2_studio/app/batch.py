"""Many shots on this machine: what to run (resume), retries and records, and the workers.

``make_plan`` skips the shots whose completion record says they are done and whose outputs
check out (``shot_record``). ``BatchState`` hands out the rest, retries a failed shot (once
by default) and writes a shot's record when it succeeds; every runner, the Ray one too
(``batch_ray.py``), drives it the same way.

``run_here`` runs the shots on this machine: one worker per GPU, or one on CPU, or as many
as ``workers`` says. One worker runs in this process; more are processes of their own (a
worker a GPU, or CPU threads shared out), each loading the model once and taking one shot at
a time. Ctrl+C (the caller's ``stop``) stops the shots in hand after the frame being
computed; they are left for the next run. A worker process that dies (killed for memory,
say) fails its shot, which is retried like any failure, and another worker takes its place.
"""

from __future__ import annotations

import dataclasses
import os
import queue
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sam2_studio.app.jobs import Jobs, Shot
from sam2_studio.app.shot_record import check, fingerprint, record_path, write_record
from sam2_studio.app.shot_run import (DONE, FAILED, INTERRUPTED, NOT_RUN, SKIPPED, ShotResult,
                                      WorkerNote, attempt_shot, model_blob, words)
from sam2_studio.errors import StudioError

Stop = Callable[[], bool]


class BatchError(StudioError):
    """The batch as a whole cannot go on (the model does not load in a worker, say)."""


@dataclass(frozen=True)
class Planned:
    shot: Shot
    fingerprint: str
    reason: str = "not done yet"  # why it runs


@dataclass
class Plan:
    jobs: Jobs
    todo: list[Planned]
    skipped: list[ShotResult]


def make_plan(jobs: Jobs, model: str, force: bool = False) -> Plan:
    """Which shots run: all with ``force``, else those not complete (``shot_record.check``)."""
    todo, skipped = [], []
    for shot in jobs.shots:
        finger = fingerprint(shot, model)
        complete, why = (False, "forced") if force else check(jobs, shot, finger)
        if complete:
            frames = _recorded_frames(jobs, shot)
            skipped.append(ShotResult(shot.name, SKIPPED, frames, note=why))
        else:
            todo.append(Planned(shot, finger, why))
    return Plan(jobs, todo, skipped)


def _recorded_frames(jobs: Jobs, shot: Shot) -> int | None:
    import json

    try:
        return int(json.loads(record_path(jobs, shot).read_text(encoding="utf-8"))["frames"])
    except (OSError, ValueError, KeyError):
        return None


def stages_of(shot: Shot) -> tuple[str, ...]:
    """What a shot's progress goes through, in order."""
    return ("segment",) + (("mattes",) if shot.mattes else ()) + (("video",) if shot.render else ())


class BatchState:
    """The shots still to run, their attempts and results; records written on success."""

    def __init__(self, plan: Plan, retries: int, reporter: Any) -> None:
        self.jobs = plan.jobs
        self.planned = {p.shot.name: p for p in plan.todo}
        self.queue: deque[Planned] = deque(plan.todo)
        self.retries = retries
        self.reporter = reporter
        self.attempts: dict[str, int] = {}
        self.results: dict[str, ShotResult] = {r.shot: r for r in plan.skipped}
        self.stopped = False

    def next(self) -> tuple[Shot, int] | None:
        """A shot to run and its attempt number, or None when nothing waits."""
        if self.stopped or not self.queue:
            return None
        planned = self.queue.popleft()
        name = planned.shot.name
        self.attempts[name] = self.attempts.get(name, 0) + 1
        return planned.shot, self.attempts[name]

    def open(self) -> int:
        """Shots to run that have no final result yet (waiting or in hand)."""
        return sum(name not in self.results for name in self.planned)

    def finish(self, result: ShotResult) -> bool:
        """Take a shot's result; True when it goes back in the queue for another attempt."""
        planned = self.planned[result.shot]
        if result.status == FAILED and not self.stopped and \
                self.attempts.get(result.shot, 1) <= self.retries:
            self.reporter.retrying(result)
            self.queue.append(planned)
            return True
        if result.status == DONE:
            try:
                write_record(self.jobs, planned.shot, planned.fingerprint, result.frames or 0,
                             result.seconds, result.outputs, result.worker)
            except OSError as exc:
                result = dataclasses.replace(
                    result, note=f"its completion record could not be written ({exc}); a "
                                 "rerun will do it again")
        self.results[result.shot] = result
        self.reporter.done(result)
        return False

    def stop(self) -> None:
        """No more shots: those waiting are not run (the shots in hand finish as they can)."""
        self.stopped = True
        while self.queue:
            name = self.queue.popleft().shot.name
            self.results[name] = ShotResult(name, NOT_RUN)

    def in_order(self) -> list[ShotResult]:
        return [self.results.get(s.name, ShotResult(s.name, NOT_RUN)) for s in self.jobs.shots]


# == where the workers run =================================================================
def worker_devices(workers: int | None, device: str | None) -> list[str | None]:
    """A device per worker: one worker per GPU by default, one on CPU (None: the default
    device of the model source, which is the CPU where there is no GPU)."""
    if device is not None:
        return [device] * (workers or 1)
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i % gpus}" if gpus else None for i in range(workers or max(1, gpus))]


def with_device(source: Any, device: str | None) -> Any:
    """The model source on ``device``, where it has a device of its own to set."""
    if device is None or not dataclasses.is_dataclass(source) or \
            "device" not in {f.name for f in dataclasses.fields(source)}:
        return source
    return dataclasses.replace(source, device=device)  # type: ignore[type-var]


def run_here(state: BatchState, source: Any, devices: list[str | None], reporter: Any,
             stop: Stop) -> None:
    if len(devices) == 1:
        _run_inline(state, with_device(source, devices[0]), reporter, stop)
    else:
        _Pool(state, model_blob(source), devices, reporter, stop).run()


def _run_inline(state: BatchState, source: Any, reporter: Any, stop: Stop) -> None:
    from sam2_studio.app.segment_command import load_model

    reporter.say(f"loading {source.description}")
    loaded = load_model(source, lambda text: reporter.handle(WorkerNote("this machine", text)))
    while not stop():
        nxt = state.next()
        if nxt is None:
            break
        shot, attempt = nxt
        state.finish(attempt_shot(shot, attempt, loaded, reporter.handle, stop, "this machine"))
    if stop():
        state.stop()


# == worker processes ======================================================================
@dataclass(frozen=True)
class _Ready:
    worker: int


@dataclass(frozen=True)
class _LoadFailed:
    worker: int
    message: str
    input_error: bool


@dataclass(frozen=True)
class _Finished:
    worker: int
    result: ShotResult


@dataclass
class _Worker:
    index: int
    label: str
    process: Any
    tasks: Any
    events: Any  # the reading end of the worker's pipe; None once it closed
    ready: bool = False
    shot: str | None = None


class _Pool:
    """Worker processes (spawned: safe with CUDA), a shot at a time each."""

    def __init__(self, state: BatchState, blob: bytes, devices: list[str | None], reporter: Any,
                 stop: Stop) -> None:
        import multiprocessing

        self.state, self.blob, self.devices, self.reporter, self.stop = state, blob, devices, reporter, stop
        self.mp = multiprocessing.get_context("spawn")
        # Each worker reports on a pipe of its own, and the halt flag is a lock-free byte: a
        # worker killed while writing (the OOM killer) must not leave a shared lock held, which
        # would silence every other worker (it did, with one shared events queue).
        self.halt = self.mp.RawValue("b", 0)
        cpu_workers = sum(d in (None, "cpu") for d in devices)
        self.threads = max(1, (os.cpu_count() or 1) // cpu_workers) if cpu_workers else 0
        self.workers: dict[int, _Worker] = {}

    def run(self) -> None:
        self.reporter.say(f"starting {len(self.devices)} workers")
        for i in range(len(self.devices)):
            self._start(i)
        try:
            while self.state.open():
                if self.stop() and not self.state.stopped:
                    self.halt.value = 1
                    self.state.stop()
                self._receive(timeout=0.2)
                self._check_workers()
        finally:
            self._shut_down()

    def _start(self, i: int) -> None:
        device = self.devices[i]
        label = f"worker {i + 1} ({device or 'cpu'})"
        tasks = self.mp.Queue()
        reader, writer = self.mp.Pipe(duplex=False)
        threads = self.threads if device in (None, "cpu") else 0
        process = self.mp.Process(target=_worker_main, name=f"sam2-studio {label}", daemon=True,
                                  args=(i, label, device, threads, self.blob, tasks, writer,
                                        self.halt, os.getpid()))
        process.start()
        writer.close()  # the worker holds the only writing end: its death reads as end of file
        self.workers[i] = _Worker(i, label, process, tasks, reader)

    def _receive(self, timeout: float) -> None:
        """Handle what the workers said, waiting up to ``timeout`` for the first word."""
        from multiprocessing.connection import wait

        open_pipes = {w.events: w for w in self.workers.values() if w.events is not None}
        for conn in wait(list(open_pipes), timeout=timeout):
            self._drain(open_pipes[conn])

    def _drain(self, worker: _Worker) -> None:
        while worker.events is not None and worker.events.poll():
            try:
                event = worker.events.recv()
            except (EOFError, OSError):
                worker.events.close()
                worker.events = None
                return
            self._handle(event)

    def _handle(self, event: Any) -> None:
        if isinstance(event, _Ready):
            self.workers[event.worker].ready = True
            self._dispatch(self.workers[event.worker])
        elif isinstance(event, _LoadFailed):
            from sam2_studio.app.exits import InputError

            error = InputError if event.input_error else BatchError
            raise error(f"{self.workers[event.worker].label}: the model did not load: "
                        f"{event.message}")
        elif isinstance(event, _Finished):
            worker = self.workers[event.worker]
            worker.shot = None
            self.state.finish(event.result)
            self._dispatch(worker)
        else:
            self.reporter.handle(event)

    def _dispatch(self, worker: _Worker) -> None:
        if worker.ready and worker.shot is None:
            nxt = self.state.next()
            if nxt is not None:
                worker.shot = nxt[0].name
                worker.tasks.put(nxt)

    def _check_workers(self) -> None:
        for worker in list(self.workers.values()):
            if worker.process.is_alive():
                continue
            self._drain(worker)  # what it said before it died comes first
            code = worker.process.exitcode
            if not worker.ready:
                raise BatchError(f"{worker.label} stopped while loading the model (exit code "
                                 f"{code})")
            if worker.shot is not None:
                died = f"the worker process died (exit code {code}"
                died += ": killed, out of memory?)" if code in (-9, 137) else ")"
                name, worker.shot = worker.shot, None
                self.state.finish(ShotResult(name, FAILED, attempts=self.state.attempts[name],
                                             error=died, worker=worker.label))
            del self.workers[worker.index]
            if self.state.queue and not self.state.stopped:
                self._start(worker.index)
        for worker in self.workers.values():
            self._dispatch(worker)

    def _shut_down(self) -> None:
        self.halt.value = 1
        for worker in self.workers.values():
            worker.tasks.put(None)
        for worker in self.workers.values():
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)


class _Sender:
    """A worker's end of its events pipe; the shot's threads may all report."""

    def __init__(self, conn: Any) -> None:
        import threading

        self.conn, self.lock = conn, threading.Lock()

    def put(self, event: Any) -> None:
        with self.lock:
            self.conn.send(event)


def _worker_main(index: int, label: str, device: str | None, threads: int, blob: bytes,
                 tasks: Any, conn: Any, halt: Any, parent: int) -> None:
    """A worker process: load the model once, then run the shots it is given."""
    import pickle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    from sam2_studio.app.cli import is_input_error
    from sam2_studio.app.segment_command import load_model

    def gone() -> bool:
        return os.getppid() != parent

    events = _Sender(conn)
    try:
        if threads:
            import torch

            torch.set_num_threads(threads)
        source = with_device(pickle.loads(blob), device)  # noqa: S301 - the parent's bytes
        loaded = load_model(source, lambda text: events.put(WorkerNote(label, text)))
    except Exception as exc:  # noqa: BLE001 - told to the parent, which stops the batch
        events.put(_LoadFailed(index, words(exc), is_input_error(exc)))
        return
    events.put(_Ready(index))
    while not gone():
        try:
            item = tasks.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is None:
            return
        shot, attempt = item
        result = attempt_shot(shot, attempt, loaded, events.put,
                              lambda: bool(halt.value) or gone(), label)
        events.put(_Finished(index, result))


__all__ = ["BatchError", "BatchState", "DONE", "FAILED", "INTERRUPTED", "NOT_RUN", "Plan",
           "Planned", "SKIPPED", "make_plan", "run_here", "stages_of", "with_device",
           "worker_devices"]
