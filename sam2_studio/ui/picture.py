"""What the viewer shows, kept current: the frame (decoded and rendered on the preview
thread), the mask overlay (composed here from the document), and the prompts.

The overlay is made for the frame whose picture has just arrived, so picture and masks
always match, and again whenever a mask of the shown frame changes (a click's answer, a
brush dab, a propagated frame).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from sam2_studio.app.detail import DetailRefined, DetailService
from sam2_studio.app.preview import PreviewFrame, PreviewRequest, PreviewService
from sam2_studio.app.worker import ModelLoaded
from sam2_studio.app.rendering import DocumentFrames, has_effects
from sam2_studio.project import BoxPrompt, MasksEvent, PointPrompt, PromptsEvent
from sam2_studio.ui.context import EditorContext
from sam2_studio.ui.overlay import Layer, compose, matte_to_grey
from sam2_studio.ui.qt_bridge import MainThreadRelay
from sam2_studio.ui.viewer import PromptMark, Viewer

log = logging.getLogger(__name__)


class PictureController(QObject):
    problem = Signal(str)  # an effect or a frame could not be shown: for the status bar
    shown = Signal(int)  # a frame's picture reached the viewer

    def __init__(self, ctx: EditorContext, viewer: Viewer, parent: QObject | None = None,
                 detail: DetailService | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.viewer = viewer
        self.detail = detail  # the detail pass of the frame shown (app/detail.py)
        self._detail_problem: str | None = None
        self.preview: PreviewService | None = None
        self._relay = MainThreadRelay(self)
        self._relay.delivered.connect(self._on_preview)
        self._last: PreviewFrame | None = None
        self._effects_error_shown = False
        ctx.documentChanged.connect(self._reset)
        ctx.frameChanged.connect(self.request)
        ctx.masksChanged.connect(self._on_masks)
        ctx.objectsChanged.connect(self._on_objects)
        ctx.promptsChanged.connect(self._on_prompts)
        ctx.viewChanged.connect(self._on_view)
        ctx.activeObjectChanged.connect(self._on_active)

    # -- set-up ----------------------------------------------------------------------------------
    def _reset(self) -> None:
        if self.preview is not None:
            self.preview.stop()
            self.preview = None
        self._last = None
        doc, clip = self.ctx.doc, self.ctx.clip
        if doc is None or clip is None:
            self.viewer.clear()
            return
        renderer = None
        try:
            from sam2_studio.app.rendering import make_renderer

            renderer = make_renderer(doc, clip.frame, detail=self._detail_source)
        except ImportError:
            log.info("effects are not available: previews show the frames as they are")
        except Exception as exc:  # noqa: BLE001 - effects must not keep a video from opening
            log.exception("the effects renderer could not start")
            self.problem.emit(f"Effects are off: {exc}")
        raw = DocumentFrames(doc, clip.frame, include_hidden=True, detail=self._detail_source)
        self.preview = PreviewService(clip.frame, self._relay, renderer, raw.matte)
        self.request()

    @property
    def _detail_source(self):  # noqa: ANN202 - a DetailSource or None
        return self.detail.preview if self.detail is not None else None

    def stop(self) -> None:
        if self.preview is not None:
            self.preview.stop()
            self.preview = None

    @property
    def effects_available(self) -> bool:
        return self.preview is not None and self.preview.has_renderer

    # -- asking ------------------------------------------------------------------------------------
    def request(self, *_: object) -> None:
        if self.preview is None or self.ctx.doc is None:
            return
        ctx = self.ctx
        effects = ctx.show_effects and not ctx.matte_view and has_effects(ctx.doc)
        matte = None
        if ctx.matte_view:
            if ctx.active_object is not None:
                matte = (ctx.active_object,)
            else:
                matte = tuple(o.id for o in ctx.doc.objects if o.visible)
        self.viewer.asked_for(ctx.frame)
        if self.detail is not None:
            self.detail.show(ctx.frame)
        self.preview.request(PreviewRequest(ctx.frame, effects, matte))

    def _stacks_changed(self) -> None:
        doc = self.ctx.doc
        if self.preview is None or doc is None or not self.preview.has_renderer:
            return
        from sam2_studio.app.rendering import registry, stacks_of

        try:
            stacks = stacks_of(doc, registry())
        except Exception as exc:  # noqa: BLE001 - a stack that cannot load: say so once
            self.problem.emit(f"Effects could not be read: {exc}")
            return
        self.preview.set_stacks(stacks, [o.id for o in doc.objects if o.visible])

    # -- answers -----------------------------------------------------------------------------------
    def _on_preview(self, frame: PreviewFrame) -> None:
        if self.ctx.doc is None:
            return
        self._last = frame
        ctx = self.ctx
        if frame.matte is not None or frame.request.matte_objects is not None:
            import numpy as np

            h, w = frame.source.shape[:2]
            matte = frame.matte if frame.matte is not None else np.zeros((h, w), np.float32)
            self.viewer.badge = "MATTE (ALPHA)"
            self.viewer.set_picture(frame.index, matte_to_grey(matte))
        elif frame.rendered is not None:
            self.viewer.badge = ""
            self.viewer.set_picture(frame.index, frame.rendered, frame.alpha)
        else:
            self.viewer.badge = "ORIGINAL" if (not ctx.show_effects and has_effects(ctx.doc)) else ""
            self.viewer.set_picture(frame.index, frame.source)
        self._overlay(frame.index)
        self._prompts(frame.index)
        for problem in frame.problems:
            self.problem.emit(problem)
        self.shown.emit(frame.index)

    def _overlay(self, index: int | None = None) -> None:
        ctx = self.ctx
        doc = ctx.doc
        index = self.viewer.frame_index if index is None else index
        if doc is None or index is None or ctx.matte_view or not (ctx.show_overlay or ctx.show_outlines):
            self.viewer.set_overlay(None)
            return
        layers = []
        for obj in doc.objects:
            if not obj.visible:
                continue
            encoded = doc.encoded_mask(obj.id, index)
            if encoded is None or encoded.area == 0:
                continue
            layers.append(Layer(encoded.decode(), obj.color, obj.id == ctx.active_object))
        if not layers:
            self.viewer.set_overlay(None)
            return
        with_effects = self._last is not None and self._last.rendered is not None
        opacity = ctx.overlay_opacity if ctx.show_overlay and not with_effects else 0.0
        outlines = ctx.show_outlines or (ctx.show_overlay and with_effects)
        if opacity <= 0 and not outlines:
            self.viewer.set_overlay(None)
            return
        self.viewer.set_overlay(compose(layers, (doc.video.width, doc.video.height), opacity, outlines))

    def _prompts(self, index: int | None = None) -> None:
        doc = self.ctx.doc
        index = self.viewer.frame_index if index is None else index
        if doc is None or index is None:
            self.viewer.set_prompts([])
            return
        marks = []
        for obj in doc.objects:
            if not obj.visible:
                continue
            active = obj.id == self.ctx.active_object
            for p in doc.prompts(obj.id, index):
                if isinstance(p, PointPrompt):
                    marks.append(PromptMark("point", (p.x, p.y), obj.color, p.positive, active))
                elif isinstance(p, BoxPrompt):
                    marks.append(PromptMark("box", (p.x0, p.y0, p.x1, p.y1), obj.color, True, active))
        marks.sort(key=lambda m: m.active)  # the active object's on top
        self.viewer.set_prompts(marks)

    # -- changes -----------------------------------------------------------------------------------
    def _on_masks(self, event: MasksEvent) -> None:
        if self.preview is not None:
            self.preview.invalidate(event.object_id, list(event.frames))
        shown = self.viewer.frame_index
        if shown is not None and shown in event.frames:
            self._overlay(shown)
            if self.ctx.matte_view or (self.ctx.show_effects and self.ctx.doc is not None and has_effects(self.ctx.doc)):
                self.request()

    def on_worker_event(self, event: object) -> None:
        """A detail pass came back (GUI thread): show it if it is for the frame shown."""
        if isinstance(event, ModelLoaded) and self.preview is not None:
            self.preview.invalidate()  # another model: other details
            self._detail_problem = None
            return
        if not isinstance(event, DetailRefined) or self.preview is None:
            return
        if event.problem is not None and event.problem != self._detail_problem:
            self._detail_problem = event.problem  # once, not at every frame
            self.problem.emit(f"The detail pass could not run: {event.problem}")
        if event.result is not None and event.result.refined:
            self.preview.invalidate(event.obj, [event.frame])
            if event.frame == self.ctx.frame:
                self.request()

    def _on_objects(self, _event: object) -> None:
        self._stacks_changed()
        self._overlay()
        self._prompts()
        self.request()

    def _on_prompts(self, event: PromptsEvent) -> None:
        if event.frame == self.viewer.frame_index:
            self._prompts(event.frame)

    def _on_view(self) -> None:
        self._overlay()
        self.request()

    def _on_active(self, _obj: object) -> None:
        self._overlay()
        self._prompts()
        if self.ctx.matte_view:
            self.request()
