"""The viewer: the current frame with zoom and pan, the mask overlay, the prompts where they
are, and the tools' mouse work (clicks, box drags, brush strokes with a visible cursor).

The viewer is passive about content: a controller gives it the picture (``set_picture``),
the overlay (``set_overlay``) and the prompts (``set_prompts``) and listens to its signals
for what the user did, in video pixel coordinates (x right, y down, origin at the top-left
corner of the top-left pixel).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen,
                           QPixmap, QResizeEvent, QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from sam2_studio.ui import theme
from sam2_studio.ui.context import Tool
from sam2_studio.ui.qt_bridge import rgb_image, rgba_image, straight_rgba_image

MIN_SCALE, MAX_SCALE = 0.05, 32.0


@dataclass(frozen=True)
class PromptMark:
    """A prompt to draw: a point (x, y, positive) or a box (x0, y0, x1, y1)."""

    kind: str  # "point" or "box"
    coords: tuple[float, ...]
    color: tuple[int, int, int]
    positive: bool = True
    active: bool = True


class Viewer(QWidget):
    pointClicked = Signal(float, float, bool)  # x, y, positive
    boxDrawn = Signal(float, float, float, float)
    strokeStarted = Signal(float, float, bool)  # x, y, erase
    strokeMoved = Signal(float, float)
    strokeFinished = Signal()
    zoomChanged = Signal(float)
    brushResized = Signal(float)  # Ctrl+wheel with a brush
    painted = Signal(int, float)  # frame shown, milliseconds since it was asked for

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Viewer")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 200)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.tool = Tool.POINT
        self.brush_radius = 12.0
        self.frame_index: int | None = None
        self.badge = ""  # "ORIGINAL", "MATTE": what the picture is, when it is not the result
        self.empty_text = "Drop a video here, or open one with File › Open (Ctrl+O)"
        self._image: QImage | None = None
        self._image_keep: object = None
        self._overlay: QImage | None = None
        self._overlay_keep: object = None
        self._size: tuple[int, int] | None = None  # video (w, h)
        self._prompts: list[PromptMark] = []
        self._scale = 1.0
        self._offset = QPointF(0, 0)
        self._fit = True
        self._pan_from: tuple[QPointF, QPointF] | None = None
        self._box_from: QPointF | None = None
        self._box_to: QPointF | None = None
        self._stroking = False
        self._mouse: QPointF | None = None
        self._asked_at: dict[int, float] = {}
        self.last_latency_ms: float | None = None
        self._checker = _checker_pixmap()

    # -- content -------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(960, 540)

    def asked_for(self, frame: int) -> None:
        """Note when a frame was asked for, to measure how long it takes to show."""
        self._asked_at[frame] = time.perf_counter()
        if len(self._asked_at) > 64:
            self._asked_at.pop(next(iter(self._asked_at)))

    def set_picture(self, frame: int | None, rgb: np.ndarray | None, alpha: np.ndarray | None = None) -> None:
        if rgb is None:
            self._image = self._image_keep = None
        elif alpha is not None:
            self._image, self._image_keep = straight_rgba_image(rgb, alpha)
        else:
            keep = rgb if rgb.flags.c_contiguous else np.ascontiguousarray(rgb)
            self._image, self._image_keep = rgb_image(keep), keep
        self.frame_index = frame
        size = None if rgb is None else (int(rgb.shape[1]), int(rgb.shape[0]))
        if size != self._size:
            self._size = size
            if self._fit or size is None:
                self.zoom_fit()
        self.update()

    def clear(self) -> None:
        self.set_picture(None, None)
        self.set_overlay(None)
        self.set_prompts([])

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        if rgba is None:
            self._overlay = self._overlay_keep = None
        else:
            self._overlay, self._overlay_keep = rgba_image(rgba), rgba
        self.update()

    def set_prompts(self, prompts: list[PromptMark]) -> None:
        self._prompts = list(prompts)
        self.update()

    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self.cancel_gesture()
        self.setCursor(_cursor_for(tool))
        self.update()

    def set_brush_radius(self, radius: float) -> None:
        self.brush_radius = radius
        self.update()

    @property
    def has_picture(self) -> bool:
        return self._image is not None

    @property
    def drawing(self) -> bool:
        return self._stroking or self._box_from is not None

    # -- zoom and pan --------------------------------------------------------------------------
    @property
    def scale(self) -> float:
        return self._scale

    def zoom_fit(self) -> None:
        self._fit = True
        if self._size is None:
            self._scale, self._offset = 1.0, QPointF(0, 0)
        else:
            w, h = self._size
            margin = 16
            s = min((self.width() - margin) / w, (self.height() - margin) / h)
            self._scale = max(MIN_SCALE, min(MAX_SCALE, s))
            self._offset = QPointF((self.width() - w * self._scale) / 2, (self.height() - h * self._scale) / 2)
        self.zoomChanged.emit(self._scale)
        self.update()

    def zoom_to(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the video point under ``anchor`` (a widget position) in place."""
        if self._size is None:
            return
        scale = max(MIN_SCALE, min(MAX_SCALE, scale))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        video = self.to_video(anchor)
        self._scale = scale
        self._offset = anchor - QPointF(video.x() * scale, video.y() * scale)
        self._fit = False
        self.zoomChanged.emit(scale)
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.zoom_to(self._scale * factor, anchor)

    def pan_by(self, dx: float, dy: float) -> None:
        self._offset += QPointF(dx, dy)
        self._fit = False
        self.update()

    def to_video(self, p: QPointF) -> QPointF:
        return QPointF((p.x() - self._offset.x()) / self._scale, (p.y() - self._offset.y()) / self._scale)

    def to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(self._offset.x() + x * self._scale, self._offset.y() + y * self._scale)

    def _inside(self, v: QPointF) -> bool:
        return self._size is not None and 0 <= v.x() <= self._size[0] and 0 <= v.y() <= self._size[1]

    def _clamped(self, v: QPointF) -> QPointF:
        w, h = self._size or (0, 0)
        return QPointF(min(max(v.x(), 0.0), float(w)), min(max(v.y(), 0.0), float(h)))

    # -- events --------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        if self._fit:
            self.zoom_fit()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if not steps:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier and self.tool.paints:
            self.brushResized.emit(self.brush_radius * (1.15 ** steps))
        else:
            self.zoom_by(1.25 ** steps, event.position())
        event.accept()

    def cancel_gesture(self) -> bool:
        """Esc: forget a box being dragged or a stroke under way (the stroke's owner takes it
        back); True if there was one."""
        had = self.drawing
        self._stroking = False
        self._box_from = self._box_to = None
        self.update()
        return had

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (self.tool is Tool.HAND and button == Qt.MouseButton.LeftButton):
            self._pan_from = (pos, QPointF(self._offset))
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if self._size is None:
            return
        v = self.to_video(pos)
        if self.tool is Tool.POINT and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            if self._inside(v):
                negative = button == Qt.MouseButton.RightButton or bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
                self.pointClicked.emit(v.x(), v.y(), not negative)
        elif self.tool is Tool.BOX and button == Qt.MouseButton.LeftButton:
            self._box_from = self._box_to = self._clamped(v)
        elif self.tool.paints and button == Qt.MouseButton.LeftButton:
            self._stroking = True
            self.strokeStarted.emit(v.x(), v.y(), self.tool is Tool.ERASER)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        self._mouse = pos
        if self._pan_from is not None:
            start, offset = self._pan_from
            self._offset = offset + (pos - start)
            self._fit = False
        elif self._box_from is not None:
            self._box_to = self._clamped(self.to_video(pos))
        elif self._stroking:
            v = self.to_video(pos)
            self.strokeMoved.emit(v.x(), v.y())
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            self.setCursor(_cursor_for(self.tool))
            return
        if self._box_from is not None:
            a, b = self._box_from, self._clamped(self.to_video(event.position()))
            self._box_from = self._box_to = None
            x0, x1 = sorted((a.x(), b.x()))
            y0, y1 = sorted((a.y(), b.y()))
            if (x1 - x0) * self._scale >= 3 and (y1 - y0) * self._scale >= 3:
                self.boxDrawn.emit(x0, y0, x1, y1)
        elif self._stroking:
            self._stroking = False
            self.strokeFinished.emit()
        self.update()

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        self._mouse = None
        self.update()

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), theme.BASE)
        if self._image is None:
            p.setPen(theme.DIM_TEXT)
            f = QFont(self.font())
            f.setPointSizeF(f.pointSizeF() * 1.2)
            p.setFont(f)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            p.end()
            return
        w, h = self._size or (1, 1)
        target = QRectF(self._offset.x(), self._offset.y(), w * self._scale, h * self._scale)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._scale < 2.0)
        if self._image.hasAlphaChannel():
            p.drawTiledPixmap(target, self._checker)
        p.drawImage(target, self._image)
        if self._overlay is not None:
            p.drawImage(target, self._overlay)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_prompts(p)
        self._paint_gesture(p)
        if self.badge:
            self._paint_badge(p, self.badge)
        p.end()
        if self.frame_index is not None and self.frame_index in self._asked_at:
            self.last_latency_ms = (time.perf_counter() - self._asked_at.pop(self.frame_index)) * 1000
            self.painted.emit(self.frame_index, self.last_latency_ms)

    def _paint_prompts(self, p: QPainter) -> None:
        for mark in self._prompts:
            color = QColor(*mark.color)
            if mark.kind == "box":
                x0, y0, x1, y1 = mark.coords
                a, b = self.to_widget(x0, y0), self.to_widget(x1, y1)
                pen = QPen(color, 2.0 if mark.active else 1.2, Qt.PenStyle.DashLine)
                p.setPen(pen)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(QRectF(a, b))
                continue
            x, y = mark.coords
            c = self.to_widget(x, y)
            r = 7.0 if mark.active else 5.0
            fill = theme.POSITIVE if mark.positive else theme.NEGATIVE
            p.setPen(QPen(QColor(255, 255, 255), 2.0))
            p.setBrush(QBrush(fill if mark.active else fill.darker(140)))
            p.drawEllipse(c, r, r)
            p.setPen(QPen(QColor(255, 255, 255), 2.0))
            d = r * 0.55
            p.drawLine(QPointF(c.x() - d, c.y()), QPointF(c.x() + d, c.y()))
            if mark.positive:
                p.drawLine(QPointF(c.x(), c.y() - d), QPointF(c.x(), c.y() + d))

    def _paint_gesture(self, p: QPainter) -> None:
        if self._box_from is not None and self._box_to is not None:
            a = self.to_widget(self._box_from.x(), self._box_from.y())
            b = self.to_widget(self._box_to.x(), self._box_to.y())
            p.setPen(QPen(theme.ACCENT, 1.5, Qt.PenStyle.DashLine))
            p.setBrush(QColor(79, 179, 255, 40))
            p.drawRect(QRectF(a, b).normalized())
        if self.tool.paints and self._mouse is not None:
            r = self.brush_radius * self._scale
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(0, 0, 0, 160), 3.0))
            p.drawEllipse(self._mouse, r, r)
            p.setPen(QPen(QColor(255, 255, 255) if self.tool is Tool.BRUSH else theme.NEGATIVE, 1.5))
            p.drawEllipse(self._mouse, r, r)

    def _paint_badge(self, p: QPainter, text: str) -> None:
        f = QFont(self.font())
        f.setBold(True)
        p.setFont(f)
        rect = p.fontMetrics().boundingRect(text).adjusted(-8, -4, 8, 4)
        rect.moveTopLeft(self.rect().topLeft() + QPointF(10, 10).toPoint())
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 170))
        p.drawRoundedRect(rect, 4, 4)
        p.setPen(theme.IN_OUT)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


def _cursor_for(tool: Tool) -> Qt.CursorShape:
    return {Tool.POINT: Qt.CursorShape.CrossCursor, Tool.BOX: Qt.CursorShape.CrossCursor,
            Tool.HAND: Qt.CursorShape.OpenHandCursor}.get(tool, Qt.CursorShape.BlankCursor)


def _checker_pixmap(cell: int = 8) -> QPixmap:
    pm = QPixmap(cell * 2, cell * 2)
    pm.fill(QColor(90, 90, 90))
    p = QPainter(pm)
    p.fillRect(0, 0, cell, cell, QColor(60, 60, 60))
    p.fillRect(cell, cell, cell, cell, QColor(60, 60, 60))
    p.end()
    return pm
