"""The model worker: one thread owns the model and the tracking session.

The editor never calls the model itself. It puts commands on the worker's queue; the worker
runs them one after another on its own thread and reports what happened as events through
one callback (called on the worker thread; the Qt layer re-emits them on the GUI thread).
A propagation streams one event per frame and stops at the next frame after ``cancel()``;
clicks that arrive while it runs are answered between two of its frames, not after it.
When nothing else is queued, the worker encodes the frame the playhead rests on
(``Prefetch``), so a click there answers from cached features.
A failing command (out of GPU memory, a bad prompt) becomes a ``CommandFailed`` event and
the worker carries on with the next one.

Qt-free on purpose: the same worker drives tests and could drive a command line tool.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from sam2_studio.app.command_queue import CommandQueue
from sam2_studio.app.detail import DetailRefined, RefineDetail, refine_detail
from sam2_studio.app.model_source import LoadedModel, ModelInfo, ModelSource
from sam2_studio.engine import FrameQuality, FrameResult, FrameSource
from sam2_studio.engine.errors import OutOfDeviceMemory, is_out_of_memory
from sam2_studio.errors import StudioError

log = logging.getLogger(__name__)


class TrackingSession(Protocol):
    """What the worker needs of a session; ``engine.VideoSession`` is one, tests bring a
    ground-truth one."""

    def add_points(self, frame: int, obj_id: int, points: Any, labels: Any, clear: bool = True) -> FrameResult: ...
    def add_box(self, frame: int, obj_id: int, box: Any, points: Any = None, labels: Any = None) -> FrameResult: ...
    def add_mask(self, frame: int, obj_id: int, mask: np.ndarray) -> FrameResult: ...
    def clear_frame(self, frame: int, obj_id: int | None = None) -> FrameResult: ...
    def remove_object(self, obj_id: int) -> list[int]: ...
    def reset(self) -> None: ...
    def set_range(self, in_point: int | None = None, out_point: int | None = None) -> None: ...
    def propagate(self, start: int | None = None, direction: str = "forward", end: int | None = None,
                  only_stale: bool = False) -> Iterator[FrameResult]: ...
    def stale_ranges(self) -> dict[int, list[tuple[int, int]]]: ...


# == commands ==============================================================================
@dataclass(frozen=True)
class LoadModel:
    source: ModelSource


@dataclass(frozen=True)
class OpenFrames:
    """Start a session on a clip (replaces any session); ``frame_range`` is (in, out)."""

    frames: FrameSource
    frame_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class CloseSession:
    pass


@dataclass(frozen=True)
class SetPrompts:
    """The prompts of one object on one frame, replacing what was there.

    ``points`` (N, 2) video pixels with ``labels`` 1/0, and an optional ``box``
    (x0, y0, x1, y1); or a ``mask`` (bool, video size) painted by the user; or nothing at
    all, which clears the frame for that object.
    """

    request: int
    obj: int
    frame: int
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = None

    @property
    def is_clear(self) -> bool:
        return self.mask is None and self.box is None and (self.points is None or len(self.points) == 0)


@dataclass(frozen=True)
class RemoveObject:
    obj: int


@dataclass(frozen=True)
class SetRange:
    first: int
    last: int


@dataclass(frozen=True)
class SetMemory:
    """The tracking memory for sessions from now on (``"sam2"`` or ``"distractor_aware"``);
    the open session starts over with it (send its prompts again)."""

    policy: str


@dataclass(frozen=True)
class Propagate:
    request: int
    start: int | None
    direction: str = "forward"  # "forward", "backward" or "both"
    only_stale: bool = False


@dataclass(frozen=True)
class MeasureSpeed:
    """Time one frame's heavy part at each working resolution on the loaded model
    (``app.resolution.measure_frame_seconds``)."""

    request: int
    resolutions: tuple[str, ...]


@dataclass(frozen=True)
class Prefetch:
    """Work a click on ``frame`` would start with, done while the user looks at the frame:
    encode it, and with ``obj`` on a frame that object has tracked, attend to its memory.
    Background work: it gives way to any other command queued, and is dropped during a
    propagation. Sessions without ``prefetch`` ignore it."""

    frame: int
    obj: int | None = None


Command = (LoadModel | OpenFrames | CloseSession | SetPrompts | RemoveObject | SetRange | SetMemory | Propagate
           | MeasureSpeed | Prefetch | RefineDetail)  # RefineDetail: the detail pass of one object-frame (app/detail.py)

# Answered between two frames of a propagation (a prefetch there is dropped). A new memory
# (SetMemory) starts a new session: it waits for the run to end.
BETWEEN_FRAMES = (SetPrompts, RemoveObject, Prefetch)


# == events ================================================================================
@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo


@dataclass(frozen=True)
class ModelFailed:
    message: str  # names the file and the problem
    path: str | None = None


@dataclass(frozen=True)
class PromptAnswered:
    """The model's mask for the object that was prompted (None when the frame was cleared)."""

    request: int
    obj: int
    frame: int
    mask: np.ndarray | None
    visible: bool
    from_mask: bool  # the prompt was a painted mask: the document already holds it
    quality: FrameQuality | None = None  # how sure the model was of ``mask``


@dataclass(frozen=True)
class PropagationStarted:
    request: int
    direction: str
    total: int  # frames this run will visit at most


@dataclass(frozen=True)
class FramePropagated:
    request: int
    frame: int
    masks: dict[int, np.ndarray]  # only the objects the model ran for on this frame
    visible: dict[int, bool]
    done: int
    total: int
    fps: float  # frames per second over the last few frames
    quality: dict[int, FrameQuality] = field(default_factory=dict)  # for the objects in ``masks``


@dataclass(frozen=True)
class PropagationEnded:
    request: int
    frames: int
    cancelled: bool
    error: str | None = None


@dataclass(frozen=True)
class StaleChanged:
    """Per object, inclusive frame ranges that an edit has outdated."""

    ranges: dict[int, list[tuple[int, int]]]


@dataclass(frozen=True)
class CommandFailed:
    command: str
    message: str
    out_of_memory: bool = False


@dataclass(frozen=True)
class SpeedMeasured:
    request: int
    seconds: dict[str, float]  # resolution name -> seconds a frame; empty without a model


@dataclass(frozen=True)
class Idle:
    """The queue ran dry: nothing is computing."""


Event = (ModelLoaded | ModelFailed | PromptAnswered | PropagationStarted | FramePropagated
         | PropagationEnded | StaleChanged | CommandFailed | SpeedMeasured | Idle | DetailRefined)
EventSink = Callable[[Event], None]

_STOP = object()


WORKER_NICENESS = 10


def lower_thread_priority(step: int = WORKER_NICENESS) -> bool:
    """Make the calling thread (and the compute threads it starts) yield the CPU to the GUI
    thread when both want it: on a laptop the model takes every idle cycle, and the editor
    still answers at once. Linux only (per-thread nice values); elsewhere a no-op."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + step))
        return True
    except (OSError, AttributeError):
        return False


def release_device_memory() -> None:
    """After an out-of-memory error, give cached GPU blocks back so the next try can fit."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass


@dataclass
class _Course:
    """Where a propagation is, so that it can go on after the worker answered prompts
    between two of its frames: the legs (start, direction) still to run."""

    start: int | None
    direction: str
    legs: list[tuple[int | None, str]] = field(default_factory=list)
    first: int | None = None  # the first frame seen: the start of a run without one
    last: int | None = None
    backward: bool = False  # the current leg has turned backward
    _leg: str = ""

    def __post_init__(self) -> None:
        self.legs = [(self.start, self.direction)]

    def next_leg(self, frame_count: int) -> tuple[int | None, str] | None:
        while self.legs:
            start, self._leg = self.legs.pop(0)
            self.last, self.backward = None, self._leg == "backward"
            if start is None or 0 <= start < frame_count:
                return start, self._leg
        return None

    def saw(self, frame: int) -> None:
        if self.first is None:
            self.first = frame
        # "both" runs forward, then backward from its start: the first frame not after
        # the one before is the turn
        if self._leg == "both" and self.last is not None and frame <= self.last:
            self.backward = True
        self.last = frame

    def interrupt(self) -> None:
        """The current leg stopped after ``last``: what is left of it goes first."""
        assert self.last is not None
        rest: list[tuple[int | None, str]] = []
        if self.backward:
            rest.append((self.last - 1, "backward"))
        else:
            rest.append((self.last + 1, "forward"))
            if self._leg == "both":
                rest.append((self.start if self.start is not None else self.first, "backward"))
        self.legs = rest + self.legs

    def stop(self) -> None:
        self.legs = []


@dataclass
class _Rate:
    """Frames per second over a sliding window of recent frames."""

    window: int = 8
    stamps: list[float] = field(default_factory=list)

    def tick(self) -> float:
        self.stamps.append(time.monotonic())
        del self.stamps[:-self.window]
        if len(self.stamps) < 2:
            return 0.0
        span = self.stamps[-1] - self.stamps[0]
        return (len(self.stamps) - 1) / span if span > 0 else 0.0


def failure_message(exc: Exception, doing: str, command: str) -> tuple[str, bool]:
    """What the user reads when a worker command fails, and whether device memory ran out
    (then the device's cached memory is released so the next command can run)."""
    if isinstance(exc, OutOfDeviceMemory):  # names the frame, the request and what to try
        release_device_memory()
        return str(exc), True
    if is_out_of_memory(exc):
        release_device_memory()
        return (f"the model ran out of memory{doing}. Close other programs using the GPU, "
                "choose a smaller model, or switch to the CPU in Models…"), True
    if isinstance(exc, StudioError | ValueError):
        return str(exc), False
    log.exception("model worker command %s failed", command)
    return f"{type(exc).__name__}: {exc}", False


class ModelWorker:
    """See the module docstring. ``submit`` is thread-safe; events go to ``sink``."""

    def __init__(self, sink: EventSink, *, name: str = "model-worker") -> None:
        self._sink = sink
        self._queue = CommandQueue()
        self._requests = itertools.count(1)
        self._cancel_below = 0  # propagations with a request id below this stop
        self._lock = threading.Lock()
        self.model: LoadedModel | None = None
        self.session: TrackingSession | None = None
        self._frames: FrameSource | None = None
        self._range: tuple[int, int] | None = None
        self._policy: str | None = None  # None: the model source's own
        self.busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- the GUI side ------------------------------------------------------------------------
    def next_request(self) -> int:
        with self._lock:
            return next(self._requests)

    def submit(self, command: Command) -> None:
        self._queue.put(command)

    def cancel(self) -> None:
        """Stop the running propagation at its next frame, and drop queued ones."""
        with self._lock:
            self._cancel_below = next(self._requests)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel, finish the command under way, end the thread."""
        self.cancel()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def pending(self) -> int:
        """Commands submitted and not yet finished (the one running included)."""
        return self._queue.unfinished_tasks

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until every command submitted so far has run (its events are emitted); False on
        timeout."""
        q = self._queue
        deadline = time.monotonic() + timeout
        with q.all_tasks_done:
            while q.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                q.all_tasks_done.wait(left)
        return True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the worker thread -------------------------------------------------------------------
    def _cancelled(self, request: int) -> bool:
        return request < self._cancel_below

    def _emit(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:  # a broken listener must not kill the worker
            log.exception("model worker listener failed on %r", type(event).__name__)

    def _run(self) -> None:
        lower_thread_priority()
        while True:
            command = self._queue.get()
            if command is _STOP:
                self._queue.task_done()
                return
            self.busy = True
            try:
                self._dispatch(command)
            except Exception as exc:  # noqa: BLE001 - reported, and the worker goes on
                self._failed(command, exc)
            finally:
                self.busy = False
                self._queue.task_done()
            if self._queue.empty():
                self._emit(Idle())

    def _failed(self, command: Command, exc: Exception) -> None:
        message, oom = failure_message(exc, "", type(command).__name__)
        self._emit(CommandFailed(type(command).__name__, message, oom))

    def _dispatch(self, command: Command) -> None:
        if isinstance(command, LoadModel):
            self._load(command.source)
        elif isinstance(command, OpenFrames):
            self._frames, self._range = command.frames, command.frame_range
            self._new_session()
        elif isinstance(command, CloseSession):
            self._frames = self.session = None
        elif isinstance(command, SetRange):
            self._range = (command.first, command.last)
            if self.session is not None:
                self.session.set_range(command.first, command.last)
        elif isinstance(command, SetMemory):
            if command.policy != self._policy:
                self._policy = command.policy
                if self.session is not None:
                    self._new_session()
        elif isinstance(command, RemoveObject):
            if self.session is not None:
                try:
                    self.session.remove_object(command.obj)
                except ValueError:
                    pass  # the session never heard of it: nothing to forget
                self._report_stale()
        elif isinstance(command, SetPrompts):
            self._prompt(command)
        elif isinstance(command, Propagate):
            self._propagate(command)
        elif isinstance(command, MeasureSpeed):
            from sam2_studio.app.resolution import measure_frame_seconds

            seconds = measure_frame_seconds(self.model.model, command.resolutions) if self.model else {}
            self._emit(SpeedMeasured(command.request, seconds))
        elif isinstance(command, Prefetch):
            self._prefetch(command)
        elif isinstance(command, RefineDetail):
            self._emit(refine_detail(self.model, command))

    def _load(self, source: ModelSource) -> None:
        try:
            loaded = source.load()
        except StudioError as exc:
            self._emit(ModelFailed(exc.reason, str(exc.path) if exc.path else None))
            return
        except Exception as exc:  # noqa: BLE001
            if is_out_of_memory(exc):
                release_device_memory()
            log.exception("loading the model failed")
            self._emit(ModelFailed(f"the model could not be loaded: {exc}"))
            return
        self.model = loaded
        self._new_session()
        self._emit(ModelLoaded(loaded.info))

    def _new_session(self) -> None:
        self.session = None
        if self.model is None or self._frames is None:
            return
        self.session = self.model.new_session(self._frames, self._policy)
        if self._range is not None:
            self.session.set_range(*self._range)

    def _prompt(self, c: SetPrompts) -> None:
        s = self.session
        if s is None:
            return
        if c.is_clear:
            try:
                s.clear_frame(c.frame, c.obj)
            except ValueError:
                pass  # an object the session does not know has nothing to clear
            self._emit(PromptAnswered(c.request, c.obj, c.frame, None, False, False))
        else:
            if c.mask is not None:
                result = s.add_mask(c.frame, c.obj, c.mask)
            elif c.box is not None:
                result = s.add_box(c.frame, c.obj, c.box, c.points if c.points is not None and len(c.points) else None,
                                   c.labels if c.points is not None and len(c.points) else None)
            else:
                result = s.add_points(c.frame, c.obj, c.points, c.labels, clear=True)
            self._emit(PromptAnswered(c.request, c.obj, c.frame, result.masks.get(c.obj),
                                      bool(result.visible.get(c.obj, False)), c.mask is not None,
                                      result.quality.get(c.obj)))
        self._report_stale()

    def _prefetch(self, c: Prefetch) -> None:
        """One model step at a time, and only while nothing else waits: a click never waits
        for more than the step in flight."""
        prefetch = getattr(self.session, "prefetch", None)
        if prefetch is None:
            return
        try:
            for obj in (None, c.obj) if c.obj is not None else (None,):
                if self._queue.waiting():
                    return
                prefetch(c.frame, obj)
        except Exception as exc:  # noqa: BLE001 - background work: the click will say what is wrong
            if is_out_of_memory(exc):
                release_device_memory()
            log.debug("prefetch of frame %s failed: %s", c.frame, exc)

    def _between_frames(self) -> bool:
        """Answer the clicks (and object removals) waiting at the head of the queue; True
        when there were any. Prefetches are dropped: the run is computing."""
        answered = False
        while commands := self._queue.take_leading(BETWEEN_FRAMES):
            for command in commands:
                try:
                    if not isinstance(command, Prefetch):
                        answered = True
                        self._dispatch(command)
                except Exception as exc:  # noqa: BLE001 - reported; the run goes on
                    self._failed(command, exc)
                finally:
                    self._queue.task_done()
        return answered

    def _propagate(self, c: Propagate) -> None:
        s = self.session
        if s is None or self._cancelled(c.request):
            self._emit(PropagationEnded(c.request, 0, cancelled=s is not None))
            return
        total = self._span(c)
        self._emit(PropagationStarted(c.request, c.direction, total))
        done = 0
        rate = _Rate()
        error: str | None = None
        course = _Course(c.start, c.direction)
        try:
            count = len(self._frames) if self._frames is not None else 0
            while not self._cancelled(c.request) and (leg := course.next_leg(count)) is not None:
                frames = s.propagate(start=leg[0], direction=leg[1], only_stale=c.only_stale)
                try:
                    for result in frames:
                        done += 1
                        course.saw(result.frame)
                        fresh = {obj: result.masks[obj] for obj in result.computed if obj in result.masks}
                        self._emit(FramePropagated(c.request, result.frame, fresh,
                                                   {obj: bool(result.visible.get(obj, False)) for obj in fresh},
                                                   done, max(total, done), rate.tick(),
                                                   {obj: result.quality[obj] for obj in fresh if obj in result.quality}))
                        if self._cancelled(c.request):
                            course.stop()
                            break
                        for _ in self._queue.take_leading(Prefetch):  # dropped: the run is computing
                            self._queue.task_done()
                        if self._queue.head_is(BETWEEN_FRAMES):
                            # the session answers a prompt with no run open; the run then
                            # goes on from the next frame, the new prompt in its memory
                            frames.close()
                            self._between_frames()
                            course.interrupt()
                            break
                finally:
                    frames.close()
        except Exception as exc:  # noqa: BLE001 - the session stays usable: report and go on
            error, _ = failure_message(exc, " while tracking", "Propagate")
        self._emit(PropagationEnded(c.request, done, self._cancelled(c.request) and error is None, error))
        self._report_stale()

    def _span(self, c: Propagate) -> int:
        if self._frames is None:
            return 0
        first, last = self._range or (0, len(self._frames) - 1)
        start = first if c.start is None else min(max(c.start, first), last)
        forward, backward = last - start + 1, start - first + 1
        return {"forward": forward, "backward": backward}.get(c.direction, forward + backward)

    def _report_stale(self) -> None:
        if self.session is not None:
            self._emit(StaleChanged(self.session.stale_ranges()))
