"""The timeline: a ruler, a thumbnail strip, and one lane per object.

A lane shows, frame by frame, where the object has a mask (its colour), where it is
tracked but absent (dark), the prompted frames as keyframe diamonds, and hatched ranges
that a later edit has made stale. Below the mask bar runs the confidence band: a bar per
tracked frame, as tall as the tracking confidence, red below the review threshold (the
dashed line); suspect frames carry a red marker on top (grey once checked). Hover a lane
for the frame's confidence and why it is suspect. The in/out range is bright, the rest
dimmed. Click or drag anywhere to scrub; Ctrl+wheel zooms around the mouse, the wheel scrolls.

Lane states live in small numpy arrays updated from mask events (only the frames that
changed), so a propagation filling a long clip repaints cheaply.
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QHelpEvent, QImage, QMouseEvent, QPainter,
                           QPaintEvent, QPen, QPixmap, QPolygonF, QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from sam2_studio.app.review import Review
from sam2_studio.project import MasksEvent
from sam2_studio.ui import theme
from sam2_studio.ui.context import EditorContext
from sam2_studio.ui.qt_bridge import MainThreadRelay, rgb_image

HEADER_W = 132
RULER_H = 22
THUMB_H = 40
LANE_H = 28
BAR_TOP, BAR_H = 3, 16  # the mask bar within a lane
BAND_TOP, BAND_H = 20, 6  # the confidence band below it
NONE, PRESENT, ABSENT = 0, 1, 2
CONFIDENT = QColor(96, 196, 150)
DOUBTFUL = QColor(255, 170, 0)  # just above the threshold
SUSPECT = QColor(240, 70, 60)


def timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF`` as editors read it."""
    fps_i = max(1, int(round(fps)))
    s, ff = divmod(int(frame), fps_i)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}"


class Timeline(QWidget):
    scrubbed = Signal(int)
    objectClicked = Signal(int)

    def __init__(self, ctx: EditorContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Timeline")
        self.ctx = ctx
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._states: dict[int, np.ndarray] = {}
        self._keyframes: dict[int, list[int]] = {}
        self._stale: dict[int, list[tuple[int, int]]] = {}
        self._thumbs: dict[int, QPixmap] = {}
        self._ppf = 1.0  # pixels per frame
        self._first = 0.0  # first visible frame (fractional)
        self._fit = True
        self._scrubbing = False
        self._hover_frame: int | None = None
        self._thumb_generation = 0
        self.review: Review | None = None
        self._relay = MainThreadRelay(self)
        self._relay.delivered.connect(self._thumb_arrived)
        ctx.documentChanged.connect(self._reset)
        ctx.frameChanged.connect(self._follow_playhead)
        ctx.masksChanged.connect(self._on_masks)
        ctx.objectsChanged.connect(self._on_objects)
        ctx.promptsChanged.connect(self._on_prompts)
        ctx.settingsChanged.connect(lambda _n: self.update())
        ctx.activeObjectChanged.connect(lambda _o: self.update())
        self._update_height()

    # -- geometry ----------------------------------------------------------------------------------
    def _lanes(self) -> list:
        doc = self.ctx.doc
        return list(doc.objects) if doc is not None else []

    def _update_height(self) -> None:
        n = max(1, len(self._lanes()))
        self.setMinimumHeight(RULER_H + THUMB_H + n * LANE_H + 6)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(900, RULER_H + THUMB_H + max(1, len(self._lanes())) * LANE_H + 6)

    @property
    def content_width(self) -> float:
        return max(10.0, self.width() - HEADER_W - 8)

    @property
    def pixels_per_frame(self) -> float:
        return self._ppf

    def _refit(self) -> None:
        n = max(1, self.ctx.frame_count)
        if self._fit:
            self._ppf = self.content_width / n
            self._first = 0.0

    def x_of(self, frame: float) -> float:
        return HEADER_W + (frame - self._first) * self._ppf

    def frame_at(self, x: float) -> int:
        n = self.ctx.frame_count
        f = int(self._first + (x - HEADER_W) / self._ppf)
        return max(0, min(n - 1, f))

    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        n = self.ctx.frame_count
        if not n:
            return
        anchor_x = anchor_x if anchor_x is not None else self.x_of(self.ctx.frame)
        anchor_frame = self._first + (anchor_x - HEADER_W) / self._ppf
        fit_ppf = self.content_width / n
        self._ppf = max(fit_ppf, min(self._ppf * factor, 60.0))
        self._fit = self._ppf <= fit_ppf * 1.0001
        self._first = anchor_frame - (anchor_x - HEADER_W) / self._ppf
        self._clamp_scroll()
        self.update()

    def _clamp_scroll(self) -> None:
        n = self.ctx.frame_count
        visible = self.content_width / self._ppf
        self._first = max(0.0, min(self._first, max(0.0, n - visible)))

    def _follow_playhead(self, frame: int) -> None:
        if not self._fit:
            visible = self.content_width / self._ppf
            if frame < self._first or frame >= self._first + visible - 1:
                self._first = frame - visible * 0.2
                self._clamp_scroll()
        self.update()

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        if self._fit:
            self._refit()
        else:
            self._clamp_scroll()
        super().resizeEvent(event)  # type: ignore[arg-type]

    # -- data --------------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._states.clear()
        self._keyframes.clear()
        self._stale.clear()
        self._thumbs.clear()
        self._fit = True
        doc = self.ctx.doc
        if doc is not None:
            for obj in doc.objects:
                self._load_object(obj.id)
        self._refit()
        self._update_height()
        self._start_thumbnails()
        self.update()

    def _load_object(self, obj: int) -> None:
        doc = self.ctx.doc
        assert doc is not None
        states = np.zeros(doc.video.frame_count, np.uint8)
        for f in doc.mask_frames(obj):
            m = doc.encoded_mask(obj, f)
            states[f] = PRESENT if m is not None and m.area > 0 else ABSENT
        self._states[obj] = states
        self._keyframes[obj] = doc.prompt_frames(obj)

    def _on_masks(self, event: MasksEvent) -> None:
        doc = self.ctx.doc
        states = self._states.get(event.object_id)
        if doc is None or states is None:
            return
        for f in event.frames:
            m = doc.encoded_mask(event.object_id, f)
            states[f] = NONE if m is None else (PRESENT if m.area > 0 else ABSENT)
        self.update()

    def _on_objects(self, event: object) -> None:
        doc = self.ctx.doc
        if doc is None:
            return
        ids = {o.id for o in doc.objects}
        for obj in list(self._states):
            if obj not in ids:
                self._states.pop(obj)
                self._keyframes.pop(obj, None)
        for obj in ids:
            if obj not in self._states:
                self._load_object(obj)
        self._update_height()
        self.update()

    def _on_prompts(self, event: object) -> None:
        doc = self.ctx.doc
        obj = getattr(event, "object_id", None)
        if doc is not None and obj in self._states:
            self._keyframes[obj] = doc.prompt_frames(obj)
        self.update()

    def set_stale(self, stale: dict[int, list[tuple[int, int]]]) -> None:
        if stale != self._stale:
            self._stale = dict(stale)
            self.update()

    def set_review(self, review: Review | None) -> None:
        """Where the confidence bands and suspect markers come from (None: none drawn)."""
        self.review = review
        self.update()

    def lane_state(self, obj: int) -> np.ndarray | None:
        """Per frame: 0 no mask, 1 mask, 2 tracked but absent (for tests and tooltips)."""
        return self._states.get(obj)

    # -- thumbnails --------------------------------------------------------------------------------
    def _start_thumbnails(self) -> None:
        self._thumb_generation += 1
        clip = self.ctx.clip
        if clip is None:
            return
        generation = self._thumb_generation
        count = min(self.ctx.frame_count, 120)
        relay = self._relay

        def work() -> None:
            try:
                for slot, frame, image in clip.thumbnails(count, THUMB_H - 4):
                    if generation != self._thumb_generation:
                        return
                    relay((generation, frame, np.ascontiguousarray(image)))
            except Exception:  # noqa: BLE001 - thumbnails are a nicety
                pass

        threading.Thread(target=work, name="thumbnails", daemon=True).start()

    def _thumb_arrived(self, item: tuple[int, int, np.ndarray]) -> None:
        generation, frame, image = item
        if generation != self._thumb_generation:
            return
        self._thumbs[frame] = QPixmap.fromImage(rgb_image(image).copy())
        self.update()

    # -- input -------------------------------------------------------------------------------------
    def _lane_at(self, y: float) -> int | None:
        top = RULER_H + THUMB_H
        if y < top:
            return None
        i = int((y - top) // LANE_H)
        lanes = self._lanes()
        return lanes[i].id if 0 <= i < len(lanes) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if event.button() != Qt.MouseButton.LeftButton or not self.ctx.frame_count:
            return
        if pos.x() < HEADER_W:
            obj = self._lane_at(pos.y())
            if obj is not None:
                self.objectClicked.emit(obj)
            return
        self._scrubbing = True
        self.scrubbed.emit(self.frame_at(pos.x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._scrubbing:
            self.scrubbed.emit(self.frame_at(pos.x()))
        hover = self.frame_at(pos.x()) if pos.x() >= HEADER_W and self.ctx.frame_count else None
        if hover != self._hover_frame:
            self._hover_frame = hover
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._scrubbing = False

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        self._hover_frame = None
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0 or event.angleDelta().x() / 120.0
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 ** steps, event.position().x())
        elif not self._fit:
            self._first -= steps * 40 / self._ppf
            self._clamp_scroll()
            self.update()
        event.accept()

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if self._fit:
            self._refit()
        p = QPainter(self)
        p.fillRect(self.rect(), theme.BACKGROUND)
        n = self.ctx.frame_count
        if not n:
            p.setPen(theme.DIM_TEXT)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No video")
            p.end()
            return
        lo = max(0, int(self._first))
        hi = min(n - 1, int(self._first + self.content_width / self._ppf) + 1)
        p.setClipRect(QRectF(HEADER_W, 0, self.width() - HEADER_W, self.height()))
        self._paint_ruler(p, lo, hi)
        self._paint_thumbs(p, lo, hi)
        lanes = self._lanes()
        for i, obj in enumerate(lanes):
            self._paint_lane(p, obj, RULER_H + THUMB_H + i * LANE_H, lo, hi)
        self._paint_in_out(p)
        self._paint_playhead(p)
        p.setClipping(False)
        self._paint_headers(p, lanes)
        p.end()

    def _paint_ruler(self, p: QPainter, lo: int, hi: int) -> None:
        p.fillRect(QRectF(HEADER_W, 0, self.width(), RULER_H), theme.PANEL)
        fps = self.ctx.fps
        # a label every so many frames, at least 70 px apart, on whole seconds when it can
        step = 1
        for candidate in (1, 2, 5, 10, int(round(fps)) or 24, 2 * int(round(fps)), 5 * int(round(fps)),
                          10 * int(round(fps)), 30 * int(round(fps)), 60 * int(round(fps))):
            step = candidate
            if candidate * self._ppf >= 70:
                break
        p.setPen(theme.DIM_TEXT)
        f = QFont(self.font())
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.8))
        p.setFont(f)
        tick = max(1, step // 5)
        for frame in range((lo // tick) * tick, hi + 1, tick):
            x = self.x_of(frame)
            major = frame % step == 0
            p.drawLine(QPointF(x, RULER_H - (9 if major else 4)), QPointF(x, RULER_H))
            if major:
                p.drawText(QPointF(x + 3, 11), str(frame))

    def _paint_thumbs(self, p: QPainter, lo: int, hi: int) -> None:
        top = RULER_H
        p.fillRect(QRectF(HEADER_W, top, self.width(), THUMB_H), theme.BASE)
        if not self._thumbs:
            return
        frames = np.array(sorted(self._thumbs))
        sample = next(iter(self._thumbs.values()))
        tw = max(8, sample.width())
        x = HEADER_W
        while x < self.width():
            f = self.frame_at(x + tw / 2)
            k = frames[np.argmin(np.abs(frames - f))]
            p.drawPixmap(QPointF(x, top + 2), self._thumbs[int(k)])
            x += tw

    def _paint_lane(self, p: QPainter, obj, top: float, lo: int, hi: int) -> None:  # noqa: ANN001
        active = obj.id == self.ctx.active_object
        rect = QRectF(HEADER_W, top, self.width() - HEADER_W, LANE_H)
        p.fillRect(rect, QColor(36, 38, 43) if active else QColor(31, 33, 37))
        p.setPen(QColor(20, 21, 24))
        p.drawLine(QPointF(HEADER_W, top + LANE_H - 0.5), QPointF(self.width(), top + LANE_H - 0.5))
        states = self._states.get(obj.id)
        if states is None:
            return
        color = QColor(*obj.color)
        if not obj.visible:
            color.setAlpha(90)
        seg = states[lo:hi + 1]
        if seg.size:
            change = np.flatnonzero(np.diff(seg)) + 1
            starts = np.concatenate(([0], change))
            ends = np.concatenate((change, [seg.size]))
            y0, h = top + BAR_TOP, BAR_H
            for s, e in zip(starts, ends):
                state = seg[s]
                if state == NONE:
                    continue
                x0, x1 = self.x_of(lo + s), self.x_of(lo + e)
                r = QRectF(x0, y0, max(1.0, x1 - x0), h)
                p.fillRect(r, color if state == PRESENT else theme.ABSENT)
        for a, b in self._stale.get(obj.id, []):
            if b < lo or a > hi:
                continue
            r = QRectF(self.x_of(a), top + 2, max(2.0, self.x_of(b + 1) - self.x_of(a)), LANE_H - 4)
            p.fillRect(r, QBrush(theme.STALE, Qt.BrushStyle.BDiagPattern))
        self._paint_band(p, obj.id, top, lo, hi)
        p.setPen(QPen(QColor(255, 255, 255), 1.0))
        p.setBrush(QColor(255, 230, 120))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        cy = top + BAR_TOP + BAR_H / 2
        d = 5.0
        for f in self._keyframes.get(obj.id, []):
            if lo <= f <= hi:
                cx = self.x_of(f + 0.5)
                p.drawPolygon(QPolygonF([QPointF(cx, cy - d), QPointF(cx + d, cy), QPointF(cx, cy + d), QPointF(cx - d, cy)]))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_band(self, p: QPainter, obj: int, top: float, lo: int, hi: int) -> None:
        """Confidence per tracked frame (worst of the frames under a pixel when zoomed out),
        the threshold as a dashed line, and suspect markers."""
        if self.review is None:
            return
        verdict = self.review.track(obj)
        threshold = self.review.rules.threshold
        y0 = top + BAND_TOP
        p.fillRect(QRectF(HEADER_W, y0, self.width() - HEADER_W, BAND_H), QColor(22, 23, 26))
        frames, conf = verdict.frames, verdict.confidence
        sel = (frames >= lo) & (frames <= hi)
        frames, conf = frames[sel], conf[sel]
        if frames.size:
            if self._ppf >= 2:
                xs, width, values = self.x_of(frames), self._ppf - (1 if self._ppf > 4 else 0), conf
            else:  # several frames per pixel: show the worst of them
                cols = np.floor(self.x_of(frames)).astype(np.int64)
                starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
                xs, width, values = cols[starts].astype(float), 1.0, np.minimum.reduceat(conf, starts)
            for x, c in zip(np.atleast_1d(xs), values):
                color = SUSPECT if c < threshold else DOUBTFUL if c < threshold + 0.1 else CONFIDENT
                h = max(1.0, float(c) * BAND_H)
                p.fillRect(QRectF(float(x), y0 + BAND_H - h, max(1.0, width), h), color)
        pen = QPen(QColor(230, 230, 230, 150), 1, Qt.PenStyle.DashLine)
        p.setPen(pen)
        ty = y0 + BAND_H - threshold * BAND_H
        p.drawLine(QPointF(HEADER_W, ty), QPointF(self.width(), ty))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for s in verdict.suspects:
            if not lo <= s.frame <= hi:
                continue
            cx = self.x_of(s.frame + 0.5)
            tri = QPolygonF([QPointF(cx - 4, top), QPointF(cx + 4, top), QPointF(cx, top + 6)])
            p.setPen(QPen(QColor(20, 20, 20), 1))
            p.setBrush(QColor(150, 150, 150) if s.checked else SUSPECT)
            p.drawPolygon(tri)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def describe(self, obj: int, frame: int) -> str:
        """What a lane says about one frame: the tooltip text."""
        doc = self.ctx.doc
        if doc is None:
            return ""
        name = doc.object(obj).name
        lines = [f"<b>{name}</b> · frame {frame}"]
        if self.review is not None:
            verdict = self.review.track(obj)
            conf = verdict.confidence_at(frame)
            if conf is not None:
                lines.append(f"confidence {conf:.2f} (threshold {self.review.rules.threshold:.2f})")
            for s in verdict.suspects:
                if s.frame == frame:
                    lines.append(f"<span style='color:#ff7b6b'>suspect: {s.text}</span>"
                                 + (" — checked" if s.checked else " — C marks it checked"))
        if frame in self._keyframes.get(obj, []):
            lines.append("prompted here")
        return "<br>".join(lines)

    def event(self, event: QEvent) -> bool:  # noqa: D401
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            pos = event.pos()
            obj = self._lane_at(pos.y())
            if obj is not None and pos.x() >= HEADER_W and self.ctx.frame_count:
                QToolTip.showText(event.globalPos(), self.describe(obj, self.frame_at(pos.x())), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def _paint_in_out(self, p: QPainter) -> None:
        doc = self.ctx.doc
        if doc is None or not doc.has_frame_range:
            return
        fr = doc.frame_range
        shade = QColor(0, 0, 0, 140)
        x_in, x_out = self.x_of(fr.first), self.x_of(fr.last + 1)
        p.fillRect(QRectF(HEADER_W, 0, max(0.0, x_in - HEADER_W), self.height()), shade)
        p.fillRect(QRectF(x_out, 0, max(0.0, self.width() - x_out), self.height()), shade)
        p.setPen(QPen(theme.IN_OUT, 2))
        for x, sign in ((x_in, 1), (x_out, -1)):
            p.drawLine(QPointF(x, 0), QPointF(x, RULER_H))
            p.drawLine(QPointF(x, 1), QPointF(x + 6 * sign, 1))
            p.drawLine(QPointF(x, RULER_H - 1), QPointF(x + 6 * sign, RULER_H - 1))

    def _paint_playhead(self, p: QPainter) -> None:
        x = self.x_of(self.ctx.frame + 0.5)
        if self._hover_frame is not None and self._hover_frame != self.ctx.frame:
            hx = self.x_of(self._hover_frame + 0.5)
            p.setPen(QPen(QColor(255, 255, 255, 70), 1))
            p.drawLine(QPointF(hx, 0), QPointF(hx, self.height()))
        p.setPen(QPen(theme.PLAYHEAD, 1.5))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.setBrush(theme.PLAYHEAD)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 6, 0), QPointF(x, 9)]))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_headers(self, p: QPainter, lanes: list) -> None:
        p.fillRect(QRectF(0, 0, HEADER_W, self.height()), theme.PANEL)
        p.setPen(QColor(20, 21, 24))
        p.drawLine(QPointF(HEADER_W - 0.5, 0), QPointF(HEADER_W - 0.5, self.height()))
        p.setPen(theme.TEXT)
        f = QFont(self.font())
        f.setFamily("monospace")
        f.setStyleHint(QFont.StyleHint.Monospace)
        p.setFont(f)
        p.drawText(QRectF(6, 0, HEADER_W - 8, RULER_H), Qt.AlignmentFlag.AlignVCenter,
                   timecode(self.ctx.frame, self.ctx.fps))
        p.setFont(self.font())
        p.setPen(theme.DIM_TEXT)
        p.drawText(QRectF(6, RULER_H, HEADER_W - 8, THUMB_H), Qt.AlignmentFlag.AlignVCenter, "Video")
        if not lanes:
            top = RULER_H + THUMB_H
            p.drawText(QRectF(6, top, self.width(), LANE_H), Qt.AlignmentFlag.AlignVCenter,
                       "No objects yet: click the picture, or press N")
        for i, obj in enumerate(lanes):
            top = RULER_H + THUMB_H + i * LANE_H
            active = obj.id == self.ctx.active_object
            if active:
                p.fillRect(QRectF(0, top, HEADER_W - 1, LANE_H), QColor(47, 127, 193, 70))
            p.fillRect(QRectF(6, top + BAR_TOP + 3, 10, BAR_H - 6), QColor(*obj.color))
            p.setPen(theme.TEXT if obj.visible else theme.DIM_TEXT)
            label = f"{i + 1}  {obj.name}" if i < 9 else obj.name
            text = p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, HEADER_W - 30)
            p.drawText(QRectF(22, top + BAR_TOP, HEADER_W - 26, BAR_H), Qt.AlignmentFlag.AlignVCenter, text)

    def grab_image(self) -> QImage:
        return self.grab().toImage()
