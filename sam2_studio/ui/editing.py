"""What the tools do to the document: clicks and boxes become prompts (the model answers
into the same undo step), brush strokes paint the active object's mask (one undo step per
stroke, sent to the model as a mask prompt when the stroke ends).

Without an active object, the first click or stroke creates one, so a new user can simply
click the thing they want. Clicks, boxes and clearing work while tracking runs (the worker
answers them between two frames); the brush waits for the run to end.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from sam2_studio.app.tracking import Tracker
from sam2_studio.project import Document, ProjectError, StrokeEdit
from sam2_studio.ui.context import EditorContext
from sam2_studio.ui.viewer import Viewer


class EditController(QObject):
    message = Signal(str)  # for the status bar

    def __init__(self, ctx: EditorContext, viewer: Viewer, tracker: Tracker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.tracker = tracker
        self.viewer = viewer
        self._stroke: StrokeEdit | None = None
        self._stroke_key: tuple[int, int] | None = None
        self._pending_points: list[tuple[float, float]] = []
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(15)
        self._flush.timeout.connect(self._flush_points)
        viewer.pointClicked.connect(self.click)
        viewer.boxDrawn.connect(self.box)
        viewer.strokeStarted.connect(self.begin_stroke)
        viewer.strokeMoved.connect(self.stroke_to)
        viewer.strokeFinished.connect(self.end_stroke)

    # -- helpers ---------------------------------------------------------------------------------
    def _editable_object(self) -> int | None:
        """The active object, made if there is none; None (with a message) if it is locked."""
        doc = self.ctx.doc
        if doc is None:
            return None
        obj = self.ctx.active_object
        if obj is None:
            obj = doc.add_object().id  # the context makes it active
            return obj
        if doc.object(obj).locked:
            self.message.emit(f"{doc.object(obj).name} is locked: unlock it (Ctrl+L) to edit it")
            return None
        return obj

    def _busy(self) -> bool:
        if self.tracker.running:
            self.message.emit("Tracking is running: the brush waits for it (Esc stops it); "
                              "clicks and boxes work now")
            return True
        return False

    def _needs_model(self) -> bool:
        if self.tracker.has_model:
            return False
        if self.tracker.state.loading:
            self.message.emit(f"The model is still loading ({self.tracker.state.loading}); click again in a moment")
        else:
            self.message.emit("Clicks and boxes need a model: open Models… (Ctrl+M). The brush works without one.")
        return True

    # -- prompts ---------------------------------------------------------------------------------
    def click(self, x: float, y: float, positive: bool) -> None:
        self._prompt(lambda doc, obj: doc.add_point(obj, self.ctx.frame, x, y, positive))

    def box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self._prompt(lambda doc, obj: doc.add_box(obj, self.ctx.frame, x0, y0, x1, y1))

    def _prompt(self, add: Callable[[Document, int], object]) -> None:
        """A click or a box for the model: on the editable object, answered by the tracker."""
        if self.ctx.doc is None or self._needs_model():
            return
        try:
            with self.tracker.answering():  # first: during a run, the run's step closes
                obj = self._editable_object()
                if obj is not None:
                    add(self.ctx.doc, obj)
        except ProjectError as exc:
            self.message.emit(str(exc))

    def clear_prompts(self) -> None:
        doc, obj = self.ctx.doc, self.ctx.active_object
        if doc is None or obj is None:
            return
        try:
            with self.tracker.answering():  # during a run: a step of its own
                doc.clear_prompts(obj, self.ctx.frame)
        except ProjectError as exc:
            self.message.emit(str(exc))

    # -- brush -----------------------------------------------------------------------------------
    def begin_stroke(self, x: float, y: float, erase: bool) -> None:
        if self.ctx.doc is None or self._busy() or self._stroke is not None:
            return
        obj = self._editable_object()
        if obj is None:
            return
        frame = self.ctx.frame
        self._stroke_key = (obj, frame)
        self.tracker.hold(obj, frame)
        try:
            self._stroke = self.ctx.doc.begin_stroke(obj, frame, self.ctx.brush_radius, erase=erase)
            self._stroke.add_points((x, y))
        except ProjectError as exc:
            self._stroke = None
            self.tracker.release(obj, frame)
            self.message.emit(str(exc))

    def stroke_to(self, x: float, y: float) -> None:
        if self._stroke is None:
            return
        self._pending_points.append((x, y))
        if not self._flush.isActive():
            self._flush.start()

    def _flush_points(self) -> None:
        if self._stroke is not None and self._pending_points:
            points, self._pending_points = self._pending_points, []
            self._stroke.add_points(*points)

    def end_stroke(self) -> None:
        if self._stroke is None:
            return
        self._flush.stop()
        self._flush_points()
        stroke, self._stroke = self._stroke, None
        stroke.finish()
        if self._stroke_key is not None:
            self.tracker.release(*self._stroke_key)
        self._stroke_key = None

    def cancel_stroke(self) -> bool:
        if self._stroke is None:
            return False
        self._flush.stop()
        self._pending_points = []
        stroke, self._stroke = self._stroke, None
        stroke.cancel()
        if self._stroke_key is not None:
            self.tracker.release(*self._stroke_key)
        self._stroke_key = None
        return True

    @property
    def stroking(self) -> bool:
        return self._stroke is not None
