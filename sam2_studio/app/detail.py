"""The detail pass in the application: which objects ask for it, a cache of its results, and
the two ways to run it.

An object asks for the pass with the "Detail pass" switch of its refinement (saved in the
project). The pass itself is ``engine.detail``'s; here it is run

- on the calling thread, for the command line and benchmarks (:class:`DirectDetail`);
- by the model worker, in the editor, where one thread owns the model
  (:class:`DetailService`): the viewer asks for the frame it shows and draws the tracked
  mask until the answer comes (``RefineDetail`` → ``DetailRefined``); an export waits for
  each answer.

Results are cached per object and frame together with the mask they refined: when that
frame's mask changes (a click, a brush stroke, a propagation, an undo) the entry no longer
matches and the pass runs again; another model empties the cache. Nothing here touches
the tracking session: the pass refines what tracking produced.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sam2_studio.errors import StudioError
from sam2_studio.project import EncodedMask, TrackedObject

if TYPE_CHECKING:
    from sam2_studio.engine.detail import DetailParams, DetailResult

FrameOf = Callable[[int], np.ndarray]


class DetailError(StudioError):
    """A detail pass an export needs could not run (no model, a model failure)."""


def detail_enabled(obj: TrackedObject) -> bool:
    """Whether the object's refinement asks for the detail pass."""
    refinement = obj.refinement.value
    if not isinstance(refinement, dict):
        return False
    refine = refinement.get("refine")
    return isinstance(refine, dict) and refine.get("detail") is True


class DetailSource(Protocol):
    """The detailed matte of ``obj`` on frame ``index`` (float32 0..1, frame size), or None to
    keep the tracked mask (not computed yet, or nothing to gain)."""

    def __call__(self, obj: int, index: int, encoded: EncodedMask, frame: FrameOf) -> np.ndarray | None: ...


# == the cache =============================================================================
class DetailCache:
    """Results per (object, frame), kept with the mask they refined; bounded in bytes.
    Thread-safe: the worker fills it, the preview and export threads read it."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[int, int], tuple[EncodedMask, DetailResult]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, obj: int, index: int, mask: EncodedMask) -> DetailResult | None:
        key = (obj, index)
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] is not mask and item[0] != mask:  # that frame's mask changed since
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, obj: int, index: int, mask: EncodedMask, result: DetailResult) -> None:
        key = (obj, index)
        with self._lock:
            self._drop(key)
            self._items[key] = (mask, result)
            self._bytes += result.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, (_, old) = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def _drop(self, key: tuple[int, int]) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= item[1].nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class DetailStats:
    """What the passes of a run cost: for the command line's summary and the benchmarks
    (sums over the refined passes; skipped ones cost nothing worth counting)."""

    passes: int = 0  # object-frames looked at
    refined: int = 0
    seconds: float = 0.0  # wall
    cpu: float = 0.0  # this process's CPU time
    encoded: float = 0.0  # the frame fractions the encoder saw
    tiles: int = 0

    def add(self, result: DetailResult) -> None:
        self.passes += 1
        if result.refined:
            self.refined += 1
            self.seconds += result.seconds
            self.cpu += result.cpu_seconds
            self.encoded += result.encoded_fraction
            self.tiles += len(result.tiles)

    def __str__(self) -> str:
        if not self.refined:
            return f"detail pass: {self.passes} object-frames, none refined (nothing to gain)"
        n = self.refined
        return (f"detail pass: {n} of {self.passes} object-frames refined, {self.seconds / n:.2f} s "
                f"each ({self.cpu / n:.2f} s CPU), {self.tiles / n:.1f} tile(s), "
                f"{100 * self.encoded / n:.0f}% of the frame encoded on average")


def _matte(result: DetailResult, mask: EncodedMask) -> np.ndarray | None:
    return result.matte(mask.shape)


# == on the calling thread (command line, benchmarks) ======================================
class DirectDetail:
    """Runs the pass where it is asked for, with ``model`` (a ``Sam2Model``)."""

    def __init__(self, model: Any, params: DetailParams | None = None, cache_bytes: int = 64 << 20) -> None:
        from sam2_studio.engine.detail import DetailParams, PredictorSegmenter

        self.segmenter = PredictorSegmenter(model)
        self.params = params or DetailParams()
        self.cache = DetailCache(cache_bytes)
        self.stats = DetailStats()

    def __call__(self, obj: int, index: int, encoded: EncodedMask, frame: FrameOf) -> np.ndarray | None:
        from sam2_studio.engine.detail import detail_pass

        result = self.cache.get(obj, index, encoded)
        if result is None:
            result = detail_pass(frame(index), encoded.decode(), self.segmenter, self.params)
            self.cache.put(obj, index, encoded, result)
            self.stats.add(result)
        return _matte(result, encoded)


# == by the model worker (the editor) =======================================================
@dataclass(frozen=True)
class RefineDetail:
    """Worker command: the detail pass of one object on one frame. ``wanted`` is asked when
    the worker gets to it: a pass for a frame the viewer has left is dropped unrun."""

    request: int
    obj: int
    frame: int
    mask: EncodedMask  # the tracked mask it refines (also the cache key)
    image: np.ndarray  # the frame, RGB uint8
    params: Any = None  # DetailParams; None: the defaults
    wanted: Callable[[], bool] = field(default=lambda: True, compare=False)


@dataclass(frozen=True)
class DetailRefined:
    """Worker event: the answer to ``RefineDetail``. ``result`` None with ``problem``: it could
    not run; with ``dropped``: it was no longer wanted."""

    request: int
    obj: int
    frame: int
    mask: EncodedMask
    result: Any = None  # DetailResult
    problem: str | None = None
    dropped: bool = False


def refine_detail(loaded: Any, c: RefineDetail) -> DetailRefined:
    """What the worker does with ``RefineDetail`` (``loaded``: its ``LoadedModel`` or None).
    Never raises: whoever waits for the answer gets one."""
    if not c.wanted():
        return DetailRefined(c.request, c.obj, c.frame, c.mask, dropped=True)
    model = getattr(loaded, "model", None)
    if model is None:
        return DetailRefined(c.request, c.obj, c.frame, c.mask, problem="no model is loaded")
    try:
        from sam2_studio.engine.detail import DetailParams, PredictorSegmenter, detail_pass
        from sam2_studio.model import Sam2Model

        if not isinstance(model, Sam2Model):
            return DetailRefined(c.request, c.obj, c.frame, c.mask,
                                 problem=f"the model in use ({loaded.info.label}) has no image path")
        result = detail_pass(c.image, c.mask.decode(), PredictorSegmenter(model), c.params or DetailParams())
    except Exception as exc:  # noqa: BLE001 - reported to whoever asked
        return DetailRefined(c.request, c.obj, c.frame, c.mask, problem=str(exc) or type(exc).__name__)
    return DetailRefined(c.request, c.obj, c.frame, c.mask, result=result)


class DetailService:
    """The editor's detail passes, computed by the model worker (``submit`` queues a command
    on it). ``on_worker_event`` must see every worker event, on any thread."""

    def __init__(self, submit: Callable[[RefineDetail], None], params: DetailParams | None = None,
                 cache_bytes: int = 256 << 20) -> None:
        self._submit = submit
        self.params = params
        self.cache = DetailCache(cache_bytes)
        self._cond = threading.Condition()
        self._inflight: dict[tuple[int, int], EncodedMask] = {}
        self._problems: dict[tuple[int, int], tuple[EncodedMask, str]] = {}
        self._waiting: dict[tuple[int, int], int] = {}
        self._shown: int | None = None
        self._requests = itertools.count(1)

    # -- what the editor shows ---------------------------------------------------------------
    def show(self, frame: int | None) -> None:
        """The frame the viewer shows: previews of other frames are not computed."""
        self._shown = frame

    def preview(self, obj: int, index: int, encoded: EncodedMask, frame: FrameOf) -> np.ndarray | None:
        """A ``DetailSource`` that never waits: the cached matte, or None (and the pass is
        asked for when ``index`` is the frame shown)."""
        result = self.cache.get(obj, index, encoded)
        if result is not None:
            return _matte(result, encoded)
        key = (obj, index)
        with self._cond:
            if index != self._shown or self._failed(key, encoded) is not None:
                return None
        self._ask(obj, index, encoded, frame)
        return None

    def blocking(self, cancelled: Callable[[], bool] = lambda: False, poll: float = 0.1) -> DetailSource:
        """A ``DetailSource`` for exports: waits for each pass (None once ``cancelled``)."""

        def source(obj: int, index: int, encoded: EncodedMask, frame: FrameOf) -> np.ndarray | None:
            key = (obj, index)
            with self._cond:
                self._waiting[key] = self._waiting.get(key, 0) + 1
            try:
                while True:
                    result = self.cache.get(obj, index, encoded)
                    if result is not None:
                        return _matte(result, encoded)
                    with self._cond:
                        problem = self._failed(key, encoded)
                        if problem is not None:
                            self._problems.pop(key, None)
                            raise DetailError(f"the detail pass of object {obj} on frame {index} "
                                              f"could not run: {problem}")
                    if cancelled():
                        return None
                    self._ask(obj, index, encoded, frame)
                    with self._cond:
                        if key in self._inflight:
                            self._cond.wait(poll)
            finally:
                with self._cond:
                    self._waiting[key] -= 1
                    if not self._waiting[key]:
                        del self._waiting[key]

        return source

    def _failed(self, key: tuple[int, int], encoded: EncodedMask) -> str | None:
        failed = self._problems.get(key)
        return failed[1] if failed is not None and failed[0] == encoded else None

    def _ask(self, obj: int, index: int, encoded: EncodedMask, frame: FrameOf) -> None:
        key = (obj, index)
        with self._cond:
            if self._inflight.get(key) == encoded:
                return
            self._inflight[key] = encoded
        try:
            image = frame(index)
        except Exception:
            with self._cond:
                self._inflight.pop(key, None)
            raise

        def wanted() -> bool:
            return self._shown == index or key in self._waiting

        self._submit(RefineDetail(next(self._requests), obj, index, encoded, image, self.params, wanted))

    # -- answers (the worker's thread) -------------------------------------------------------
    def on_worker_event(self, event: object) -> None:
        if isinstance(event, DetailRefined):
            key = (event.obj, event.frame)
            with self._cond:
                if self._inflight.get(key) == event.mask:
                    del self._inflight[key]
                if event.result is not None:
                    self.cache.put(event.obj, event.frame, event.mask, event.result)
                    self._problems.pop(key, None)
                elif event.problem is not None:
                    self._problems[key] = (event.mask, event.problem)
                self._cond.notify_all()
        elif type(event).__name__ == "ModelLoaded":  # another model: other answers
            self.cache.clear()
            with self._cond:
                self._problems.clear()
                self._cond.notify_all()
