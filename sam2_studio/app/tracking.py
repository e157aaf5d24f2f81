"""Between the document and the model worker: prompts go out, masks come back.

The document is the truth; the worker's session is a cache of it. Whenever the prompts of
an object on a frame change (a click, a box, a brush stroke, an undo) the tracker sends the
worker that frame's prompts anew, so the two never drift apart. Answers to what the user
just did are written into the document as part of the same undo step (``amend``); answers
to an undo or a reload are not written (the document already holds the right masks), and
an answer overtaken by a newer edit of the same frame is dropped.

A propagation's frames are written into the document as they arrive, all in one undo step
("Track forward"), so the timeline fills in live and one Ctrl+Z takes the run back. A click
during a run is its own step, answered between two frames of the run: the run's step closes
before the click, frames that arrive before its answer wait (so the answer joins the click's
step), then the rest of the run is a step of its own.

When the playhead rests on a frame the editor calls ``prefetch``: the worker encodes that
frame while it has nothing else to do, so a click there answers at once.

Qt-free: the Qt layer calls ``handle(event)`` on the GUI thread for every worker event.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from sam2_studio.app.model_source import ModelInfo, ModelSource
from sam2_studio.app.resolution import at_resolution, follows_resolution, merge_ranges, resolution_of
from sam2_studio.app.review import record_result
from sam2_studio.app.worker import (CloseSession, CommandFailed, Event, FramePropagated, Idle,
                                    LoadModel, MeasureSpeed, ModelFailed, ModelLoaded, ModelWorker,
                                    OpenFrames, Prefetch, PromptAnswered, Propagate, PropagationEnded,
                                    PropagationStarted, RemoveObject, SetMemory, SetPrompts, SetRange,
                                    SpeedMeasured, StaleChanged)
from sam2_studio.project import (BoxPrompt, BrushStroke, Document, ObjectEvent, PointPrompt,
                                 ProjectError, PromptsEvent, Signal)
from sam2_studio.project.resolution import describe, to_ranges

log = logging.getLogger(__name__)

DIRECTION_LABELS = {"forward": "Track forward", "backward": "Track backward", "both": "Track both ways"}


@dataclass
class Run:
    """A propagation under way, for the progress bar."""

    request: int
    direction: str
    done: int = 0
    total: int = 0
    fps: float = 0.0
    frame: int | None = None
    written: int = 0
    frames: set[int] = field(default_factory=set)  # distinct frames visited ("both" visits the start twice)
    tracked: dict[int, set[int]] = field(default_factory=dict)  # object -> frames the model wrote
    memory: str | None = None  # the project's tracking memory when the run started


@dataclass(frozen=True)
class Notice:
    """Something to tell the user: ``level`` decides between the status bar and a dialog."""

    level: Literal["info", "warning", "error"]
    text: str
    path: str | None = None


RANDOM_WEIGHTS_NOTICE = "Developer mode: random weights, so the masks mean nothing."


@dataclass
class _Pending:
    request: int
    write_back: bool
    history_state: int | None


@dataclass
class TrackerState:
    model: ModelInfo | None = None
    loading: str | None = None  # what is being loaded, while it loads
    model_error: str | None = None
    run: Run | None = None
    stale: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # edits' and resolution's
    busy: bool = False  # the worker is computing (a prompt answer or a run)
    session_stale: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # the engine's


def prompt_command(doc: Document, obj: int, frame: int, request: int) -> SetPrompts:
    """The worker command that tells the session everything the document holds for ``obj``
    on ``frame``.

    Points and a box go as they are. If the newest prompt is a brush stroke, the frame's
    mask (which already includes every stroke) goes as a mask prompt: painting corrects the
    mask, and the correction flows through the clip. A click after a stroke starts over
    from the clicks.
    """
    prompts = doc.prompts(obj, frame)
    if not prompts:
        return SetPrompts(request, obj, frame)
    points = [(p.x, p.y) for p in prompts if isinstance(p, PointPrompt)]
    labels = [1 if p.positive else 0 for p in prompts if isinstance(p, PointPrompt)]
    boxes = [p for p in prompts if isinstance(p, BoxPrompt)]
    if isinstance(prompts[-1], BrushStroke) or (not points and not boxes):
        mask = doc.mask(obj, frame)
        if mask is None:
            mask = np.zeros((doc.video.height, doc.video.width), bool)
        return SetPrompts(request, obj, frame, mask=mask)
    box = (boxes[-1].x0, boxes[-1].y0, boxes[-1].x1, boxes[-1].y1) if boxes else None
    return SetPrompts(request, obj, frame,
                      points=np.asarray(points, np.float32).reshape(-1, 2),
                      labels=np.asarray(labels, np.int32), box=box)


class Tracker:
    """See the module docstring. One per editor window; ``attach`` a document to work on."""

    def __init__(self, worker: ModelWorker) -> None:
        self.worker = worker
        self.doc: Document | None = None
        self.state = TrackerState()
        self.changed: Signal[TrackerState] = Signal("tracker")
        self.notices: Signal[Notice] = Signal("notices")
        self.frame_written: Signal[int] = Signal("frame written")  # a propagated frame landed
        self.speed_measured: Signal[dict[str, float]] = Signal("speed measured")
        self._resynced = False  # prompts already sent to the session a pending load makes
        self._pending: dict[tuple[int, int], _Pending] = {}
        self._answering = 0
        self._fresh: list[_Pending] = []
        self._held: dict[tuple[int, int], bool] = {}
        self._disconnect: list[Any] = []
        self._group_open = False
        self._source: ModelSource | None = None
        # clicks during a run: their answers to wait for, and the run's frames held meanwhile
        self._awaiting: set[int] = set()
        self._held_frames: list[FramePropagated] = []
        self._answered_during_hold: set[tuple[int, int]] = set()
        self._paused_for: str | None = None  # the disk problem a run was stopped for
        # frames tracked under another memory than the project's now, until tracked again
        self._outdated: dict[int, set[int]] = {}

    # -- model -----------------------------------------------------------------------------
    @property
    def has_model(self) -> bool:
        return self.state.model is not None

    def load_model(self, source: ModelSource) -> None:
        """Load ``source``; a checkpoint runs at the document's working resolution."""
        if self.doc is not None:
            source = at_resolution(source, self.doc.working_resolution)
        self._source = source
        self.state.loading = source.description
        self.state.model_error = None
        self.worker.submit(LoadModel(source))
        self._notify()

    # -- documents ---------------------------------------------------------------------------
    def attach(self, doc: Document | None, frames: Any | None) -> None:
        """Work on ``doc`` whose video ``frames`` (an independent reader) the worker reads;
        ``None`` detaches."""
        self.cancel()
        self._finish_run(None)
        for disconnect in self._disconnect:
            disconnect()
        self._disconnect = []
        self._pending.clear()
        self.state.stale = {}
        self.state.session_stale = {}
        self._outdated = {}
        self.doc = doc
        if doc is None:
            self.worker.submit(CloseSession())
            self._notify()
            return
        fr = doc.frame_range
        self.worker.submit(SetMemory(doc.memory_policy))
        if self._source is not None and at_resolution(self._source, doc.working_resolution) != self._source:
            self.load_model(self._source)  # this project works at another resolution
        self.worker.submit(OpenFrames(frames, (fr.first, fr.last)))
        self._disconnect = [
            doc.events.prompts.connect(self._on_prompts),
            doc.events.objects.connect(self._on_objects),
            doc.events.settings.connect(self._on_settings),
            doc.events.storage.connect(self._on_storage),
        ]
        self.resync()
        self._notify()

    def resync(self) -> None:
        """Send every prompt of the document to the session (after opening a project, or
        when a model arrives). Answers are not written: the document has the masks."""
        doc = self.doc
        if doc is None:
            return
        for obj in doc.objects:
            for frame in doc.prompt_frames(obj.id):
                self._send(obj.id, frame, write_back=False)

    def prefetch(self, frame: int, obj: int | None = None) -> None:
        """The playhead rests on ``frame``: let the worker prepare a click there (for ``obj``,
        the active object, also its memory on a tracked frame). Nothing without a model, and
        nothing during a run (it has the worker)."""
        if self.doc is None or not self.has_model or self.state.run is not None:
            return
        if not 0 <= frame < self.doc.video.frame_count:
            return
        self.worker.submit(Prefetch(frame, obj))

    @contextmanager
    def answering(self):  # noqa: ANN201
        """Prompt edits made inside are the user's: the model's answers join their step."""
        if self._group_open and self.doc is not None:
            self._group_open = False  # a click during a run: the run's step so far closes
            self.doc.history.end_group()
        self._answering += 1
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering and self.doc is not None:
                # the step is on the undo stack only now (events fire while it is applied)
                state = self.doc.history.state
                for pending in self._fresh:
                    pending.history_state = state
                self._fresh.clear()

    def hold(self, obj: int, frame: int) -> None:
        """Brush strokes change the frame's prompts at every dab: hold the frame back from
        the model until ``release``, then send it once."""
        self._held[(obj, frame)] = False

    def release(self, obj: int, frame: int) -> None:
        touched = self._held.pop((obj, frame), False)
        if touched and self.doc is not None:
            self._send(obj, frame, write_back=False)

    def _send(self, obj: int, frame: int, write_back: bool) -> None:
        doc = self.doc
        assert doc is not None
        request = self.worker.next_request()
        pending = self._pending[(obj, frame)] = _Pending(request, write_back, None)
        if write_back:
            self._fresh.append(pending)
            if self.state.run is not None:
                self._awaiting.add(request)
        self.worker.submit(prompt_command(doc, obj, frame, request))

    def _on_prompts(self, event: PromptsEvent) -> None:
        key = (event.object_id, event.frame)
        if key in self._held:
            self._held[key] = True
            return
        self._send(event.object_id, event.frame, write_back=self._answering > 0)

    def _on_objects(self, event: ObjectEvent) -> None:
        doc = self.doc
        if doc is None:
            return
        if event.kind == "removed":
            self.worker.submit(RemoveObject(event.object_id))
            self.state.session_stale.pop(event.object_id, None)
            self._outdated.pop(event.object_id, None)
        elif event.kind == "added":  # new, or back by an undo with its prompts
            for frame in doc.prompt_frames(event.object_id):
                self._send(event.object_id, frame, write_back=False)

    def _on_settings(self, name: str) -> None:
        doc = self.doc
        if name == "frame_range" and doc is not None:
            fr = doc.frame_range
            self.worker.submit(SetRange(fr.first, fr.last))
        elif name == "working_resolution" and doc is not None:
            self._resolution_changed()
        elif name == "memory_policy" and doc is not None:
            self._memory_changed()

    def _memory_changed(self) -> None:
        """A new session with the project's other memory: the prompts go again, and every
        tracked frame is outdated (hatched as stale) until it is tracked with it."""
        doc = self.doc
        assert doc is not None
        self.cancel()  # a run under way would go on with the old memory
        self.worker.submit(SetMemory(doc.memory_policy))
        self.resync()
        for obj in doc.objects:
            prompted = set(doc.prompt_frames(obj.id))
            self._outdated[obj.id] = {f for f in doc.mask_frames(obj.id) if f not in prompted}
        self._notify()

    def _resolution_changed(self) -> None:
        """Reload the model at the project's new input size; say what became stale."""
        doc = self.doc
        assert doc is not None
        self.cancel()
        if follows_resolution(self._source):
            self.load_model(self._source)  # type: ignore[arg-type]  # a new session: nothing tracked
            # The prompts go now, ahead of any propagation the user asks for next.
            self.resync()
            self._resynced = True
        stale = doc.resolution_stale()
        frames = sum(b - a + 1 for ranges in stale.values() for a, b in ranges)
        text = f"Working resolution: {describe(doc.working_resolution)}."
        if frames:
            # the point first: the status bar elides what does not fit beside its labels
            text += (f" {frames} tracked frames marked stale ({len(stale)} object(s), made at "
                     "another resolution) until you track again.")
        self.notices.emit(Notice("info", text))
        self._notify()

    def _on_storage(self, problem: str) -> None:
        """The disk store of masks refused a write: masks stay in memory, nothing is lost;
        a run pauses so it does not fill RAM behind the user's back."""
        text = problem[:1].upper() + problem[1:]
        if self.state.run is not None:
            self._paused_for = problem
            self.worker.cancel()
            self.notices.emit(Notice("error", f"Tracking paused. {text}. Nothing tracked is lost: "
                                     "free some disk space, then track again from the last tracked frame."))
        else:
            self.notices.emit(Notice("warning", f"{text}. Nothing is lost; free some disk space."))

    # -- propagation -------------------------------------------------------------------------
    def propagate(self, direction: str = "forward", start: int | None = None,
                  only_stale: bool = False) -> int | None:
        """Track every prompted object from ``start`` (inside the in/out points)."""
        if self.doc is None or not self.has_model or self.state.run is not None:
            return None
        request = self.worker.next_request()
        self.state.run = Run(request, direction, memory=self.doc.memory_policy)
        self.worker.submit(Propagate(request, start, direction, only_stale))
        self._notify()
        return request

    def measure_speed(self, resolutions: tuple[str, ...]) -> None:
        """Time a frame at each resolution on the loaded model; ``speed_measured`` answers."""
        self.worker.submit(MeasureSpeed(self.worker.next_request(), resolutions))

    def cancel(self) -> None:
        """Esc: stop the run at its next frame (what is tracked so far stays)."""
        self.worker.cancel()

    @property
    def running(self) -> bool:
        return self.state.run is not None

    def _finish_run(self, event: PropagationEnded | None) -> None:
        self._awaiting.clear()
        self._release_frames()
        if self._group_open and self.doc is not None:
            self._record_resolution()
            self._group_open = False
            self.doc.history.end_group()
        self.state.run = None

    def _record_resolution(self) -> None:
        """Note, in the run's undo step, at which resolution each object's frames were
        tracked; a track left mixed is said out loud (its other frames show as stale)."""
        doc, run = self.doc, self.state.run
        if doc is None or run is None or not run.tracked:
            return
        name = resolution_of(self.state.model.image_size if self.state.model else None, doc.working_resolution)
        for obj_id, frames in run.tracked.items():
            try:
                obj = doc.object(obj_id)
            except ProjectError:
                continue
            after = obj.tracked_at.with_frames(name, frames)
            if after == obj.tracked_at or obj.locked:
                continue
            doc.update_object(obj_id, tracked_at=after)
            if after.mixed:
                others = after.count() - after.count(name)
                self.notices.emit(Notice(
                    "warning", f"{obj.name} is now tracked partly at {describe(name)} and partly "
                    f"at another resolution ({others} frames, marked stale): track it through the "
                    "whole clip (Ctrl+T) to make it one."))

    # -- events from the worker (GUI thread) -------------------------------------------------
    def handle(self, event: Event) -> None:
        try:
            self._handle(event)
        finally:
            self._notify()

    def _handle(self, event: Event) -> None:
        if isinstance(event, ModelLoaded):
            self.state.model, self.state.loading, self.state.model_error = event.info, None, None
            if not self._resynced:
                self.resync()
            self._resynced = False
            if event.info.notice:
                self.notices.emit(Notice("info", f"CPU engine: {event.info.notice}."))
            if event.info.random_weights:
                # short: the orange badge beside it already names the variant and device
                self.notices.emit(Notice("warning", RANDOM_WEIGHTS_NOTICE))
            if event.info.precision_notice:
                self.notices.emit(Notice("warning", f"Precision: {event.info.precision_notice}."))
        elif isinstance(event, ModelFailed):
            self.state.loading = None
            self.state.model_error = event.message
            self.notices.emit(Notice("error", event.message, event.path))
        elif isinstance(event, PromptAnswered):
            self._answer(event)
        elif isinstance(event, PropagationStarted):
            run = self.state.run
            if run is None or run.request != event.request:
                return
            run.total = event.total
            doc = self.doc
            if doc is not None and not self._group_open:
                doc.history.begin_group(DIRECTION_LABELS.get(event.direction, "Track"))
                self._group_open = True
        elif isinstance(event, FramePropagated):
            self._frame(event)
        elif isinstance(event, PropagationEnded):
            run = self.state.run
            if run is None or run.request != event.request:
                return
            self._finish_run(event)
            frames = len(run.frames)
            paused, self._paused_for = self._paused_for, None
            if event.error:
                self.notices.emit(Notice("error", f"Tracking stopped: {event.error}"))
            elif event.cancelled and paused:
                self.notices.emit(Notice("info", f"Tracking paused after {frames} frames (the disk is "
                                         "full); what was tracked is kept."))
            elif event.cancelled:
                self.notices.emit(Notice("info", f"Tracking cancelled after {frames} frames; "
                                         "what was tracked is kept."))
            else:
                self.notices.emit(Notice("info", f"Tracked {frames} frames."))
        elif isinstance(event, SpeedMeasured):
            self.speed_measured.emit(event.seconds)
        elif isinstance(event, StaleChanged):
            self.state.session_stale = {k: v for k, v in event.ranges.items() if v}
        elif isinstance(event, CommandFailed):
            if event.command == "Propagate" and self.state.run is not None:
                self._finish_run(None)
            elif event.command == "SetPrompts" and self._awaiting:
                self._awaiting.clear()  # no answer is coming: the held frames go in
                self._release_frames()
            self.notices.emit(Notice("error", f"The model could not do that: {event.message}"))
        elif isinstance(event, Idle):
            self.state.busy = False
            return
        self.state.busy = self.worker.busy or self.state.run is not None

    def _answer(self, event: PromptAnswered) -> None:
        try:
            self._write_answer(event)
        finally:
            if event.request in self._awaiting:
                self._awaiting.discard(event.request)
                self._answered_during_hold.add((event.obj, event.frame))
                if not self._awaiting:
                    self._release_frames()

    def _write_answer(self, event: PromptAnswered) -> None:
        key = (event.obj, event.frame)
        pending = self._pending.get(key)
        if pending is None or pending.request != event.request:
            return  # overtaken by a newer edit of the same frame
        del self._pending[key]
        doc = self.doc
        if doc is None or not pending.write_back or event.from_mask or event.mask is None:
            return
        try:
            obj = doc.object(event.obj)
        except ProjectError:
            return
        if obj.locked:
            return
        amend = pending.history_state is not None and doc.history.state == pending.history_state
        try:
            record_result(doc, event.frame, {event.obj: event.mask}, {event.obj: event.quality},
                          "Segment", amend=amend)
        except ProjectError as exc:
            self.notices.emit(Notice("warning", str(exc)))

    def _frame(self, event: FramePropagated) -> None:
        run = self.state.run
        if run is None or run.request != event.request:
            return
        run.done, run.total, run.fps, run.frame = event.done, event.total, event.fps, event.frame
        run.frames.add(event.frame)
        if self._awaiting:
            self._held_frames.append(event)  # after the click's answer, in its own step
        else:
            self._write_frame(event)

    def _release_frames(self) -> None:
        """Write the frames held while a click's answer was awaited; a mask the answer gave
        is newer than a frame computed before it."""
        held, self._held_frames = self._held_frames, []
        answered, self._answered_during_hold = self._answered_during_hold, set()
        for event in held:
            masks = {obj: m for obj, m in event.masks.items() if (obj, event.frame) not in answered}
            self._write_frame(replace(event, masks=masks))

    def _write_frame(self, event: FramePropagated) -> None:
        run = self.state.run
        doc = self.doc
        if run is None or doc is None or not event.masks:
            return
        editable = {o.id for o in doc.objects if not o.locked}
        masks = {obj: m for obj, m in event.masks.items() if obj in editable}
        if run.memory == doc.memory_policy:  # not a run the memory changed under
            for obj in event.masks:
                self._outdated.get(obj, set()).discard(event.frame)
        if masks:
            if not self._group_open:  # the run's step, again after a click closed it
                doc.history.begin_group(DIRECTION_LABELS.get(run.direction, "Track"))
                self._group_open = True
            record_result(doc, event.frame, masks, event.quality,
                          DIRECTION_LABELS.get(run.direction, "Track"))
            for obj in masks:
                run.tracked.setdefault(obj, set()).add(event.frame)
            run.written += 1
            self.frame_written.emit(event.frame)

    def _notify(self) -> None:
        """What the timeline hatches as stale: the engine's outdated ranges, the frames made
        at another resolution and those tracked under another memory."""
        own = self.doc.resolution_stale() if self.doc is not None else {}
        outdated = {obj: to_ranges(frames) for obj, frames in self._outdated.items() if frames}
        self.state.stale = merge_ranges(self.state.session_stale, own, outdated)
        self.changed.emit(self.state)

    def close(self) -> None:
        self.attach(None, None)
