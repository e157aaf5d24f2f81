"""The editor's shared state as one QObject: the open document and clip, the current frame,
the active object, the tool and the view options.

Widgets read it and listen to its signals instead of to each other. The document's own
(Qt-free) events are relayed here as Qt signals, so a widget connects once and keeps
working when another document is opened.
"""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QObject, Signal

from sam2_studio.app.clip import Clip
from sam2_studio.project import Document, HistoryEvent, MasksEvent, ObjectEvent, PromptsEvent


class Tool(enum.Enum):
    POINT = "point"
    BOX = "box"
    BRUSH = "brush"
    ERASER = "eraser"
    HAND = "hand"

    @property
    def needs_model(self) -> bool:
        return self in (Tool.POINT, Tool.BOX)

    @property
    def paints(self) -> bool:
        return self in (Tool.BRUSH, Tool.ERASER)


class EditorContext(QObject):
    documentChanged = Signal()  # a new document (or none): everything refreshes
    frameChanged = Signal(int)
    activeObjectChanged = Signal(object)  # int | None
    toolChanged = Signal(object)  # Tool
    viewChanged = Signal()  # overlay opacity, outlines, effects, matte view
    brushChanged = Signal(float)
    # relayed document events
    objectsChanged = Signal(object)  # ObjectEvent
    promptsChanged = Signal(object)  # PromptsEvent
    masksChanged = Signal(object)  # MasksEvent
    settingsChanged = Signal(str)
    historyChanged = Signal(object)  # HistoryEvent

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.clip: Clip | None = None
        self.frame = 0
        self.active_object: int | None = None
        self.tool = Tool.POINT
        self.overlay_opacity = 0.5
        self.show_overlay = True
        self.show_outlines = True
        self.show_effects = True
        self.matte_view = False
        self.brush_radius = 12.0
        self._disconnect: list[Any] = []

    # -- the document ------------------------------------------------------------------------
    def set_document(self, doc: Document | None, clip: Clip | None) -> None:
        for disconnect in self._disconnect:
            disconnect()
        self._disconnect = []
        self.doc, self.clip = doc, clip
        self.frame = 0
        self.active_object = None
        if doc is not None:
            ev = doc.events
            self._disconnect = [
                ev.objects.connect(self._on_objects),
                ev.prompts.connect(lambda e: self.promptsChanged.emit(e)),
                ev.masks.connect(lambda e: self.masksChanged.emit(e)),
                ev.settings.connect(lambda name: self.settingsChanged.emit(name)),
                ev.history.connect(lambda e: self.historyChanged.emit(e)),
            ]
            if doc.objects:
                self.active_object = doc.objects[0].id
        self.documentChanged.emit()
        self.frameChanged.emit(self.frame)
        self.activeObjectChanged.emit(self.active_object)

    def _on_objects(self, event: ObjectEvent) -> None:
        doc = self.doc
        if doc is not None:
            ids = [o.id for o in doc.objects]
            if event.kind == "added":
                self.set_active_object(event.object_id)
            elif event.kind == "removed" and event.object_id == self.active_object:
                self.set_active_object(ids[-1] if ids else None)
        self.objectsChanged.emit(event)

    @property
    def frame_count(self) -> int:
        return self.doc.video.frame_count if self.doc is not None else 0

    @property
    def fps(self) -> float:
        return float(self.doc.video.fps) if self.doc is not None else 24.0

    # -- navigation --------------------------------------------------------------------------
    def set_frame(self, frame: int) -> None:
        if self.doc is None:
            return
        frame = max(0, min(int(frame), self.frame_count - 1))
        if frame != self.frame:
            self.frame = frame
            self.frameChanged.emit(frame)

    def set_active_object(self, object_id: int | None) -> None:
        if object_id != self.active_object:
            self.active_object = object_id
            self.activeObjectChanged.emit(object_id)

    def set_tool(self, tool: Tool) -> None:
        if tool is not self.tool:
            self.tool = tool
            self.toolChanged.emit(tool)

    def set_brush_radius(self, radius: float) -> None:
        radius = max(1.0, min(float(radius), 400.0))
        if radius != self.brush_radius:
            self.brush_radius = radius
            self.brushChanged.emit(radius)

    def set_view(self, **options: Any) -> None:
        changed = False
        for name, value in options.items():
            if not hasattr(self, name):
                raise AttributeError(name)
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed = True
        if changed:
            self.viewChanged.emit()

    def keyframes(self) -> list[int]:
        """Prompted frames of every object, for previous/next keyframe."""
        doc = self.doc
        if doc is None:
            return []
        return sorted({f for o in doc.objects for f in doc.prompt_frames(o.id)})


__all__ = ["EditorContext", "HistoryEvent", "MasksEvent", "ObjectEvent", "PromptsEvent", "Tool"]
