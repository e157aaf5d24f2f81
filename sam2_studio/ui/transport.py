"""Playback and the transport bar: play/pause, J/K/L shuttle, frame and second steps,
keyframe jumps, Home/End, in and out points.

Playback follows the clock, not the decoder: each tick shows the frame that is due now, so
a slow decode skips frames instead of slowing time down (the preview thread serves the
newest request only). Playback stops at the out point (or the end) going forward and at the
in point (or the start) going backward. ``PlayheadRest`` says when the playhead has stayed
on a frame for a moment (the model then prepares a click there).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget

from sam2_studio.ui.actions import Actions
from sam2_studio.ui.context import EditorContext
from sam2_studio.ui.icons import icon
from sam2_studio.ui.timeline import timecode

SHUTTLE_SPEEDS = (1, 2, 4, 8)
REST_MS = 250


class PlayheadRest(QObject):
    """``rested(frame)`` once the playhead has stayed ``REST_MS`` on a frame: a single-shot
    timer restarted on every frame change, so playback and scrubbing never fire it."""

    rested = Signal(int)

    def __init__(self, ctx: EditorContext, parent: QObject | None = None, interval_ms: int = REST_MS) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._fire)
        ctx.frameChanged.connect(self.restart)
        ctx.activeObjectChanged.connect(self.restart)
        ctx.documentChanged.connect(self.restart)

    def restart(self, *_args: object) -> None:
        """Start waiting again (also when something else makes the rest worth noticing)."""
        self._timer.start()

    def _fire(self) -> None:
        if self.ctx.doc is not None:
            self.rested.emit(self.ctx.frame)


class Playback(QObject):
    speedChanged = Signal(int)  # 0 stopped, negative backward

    def __init__(self, ctx: EditorContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.speed = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._origin = (0.0, 0)  # (clock, frame) when the current speed began
        ctx.documentChanged.connect(self.stop)

    @property
    def playing(self) -> bool:
        return self.speed != 0

    def _bounds(self) -> tuple[int, int]:
        doc = self.ctx.doc
        if doc is None:
            return 0, 0
        fr = doc.frame_range
        return fr.first, fr.last

    def set_speed(self, speed: int) -> None:
        if self.ctx.doc is None:
            speed = 0
        if speed == self.speed:
            return
        first, last = self._bounds()
        if speed > 0 and self.ctx.frame >= last:
            self.ctx.set_frame(first)
        elif speed < 0 and self.ctx.frame <= first:
            self.ctx.set_frame(last)
        self.speed = speed
        self._origin = (time.perf_counter(), self.ctx.frame)
        if speed:
            self._timer.start(max(5, int(500 / (self.ctx.fps * abs(speed)))))
        else:
            self._timer.stop()
        self.speedChanged.emit(speed)

    def toggle(self) -> None:
        self.set_speed(0 if self.playing else 1)

    def stop(self) -> None:
        self.set_speed(0)

    def shuttle_forward(self) -> None:
        self.set_speed(1 if self.speed <= 0 else min(self.speed * 2, SHUTTLE_SPEEDS[-1]))

    def shuttle_backward(self) -> None:
        self.set_speed(-1 if self.speed >= 0 else max(self.speed * 2, -SHUTTLE_SPEEDS[-1]))

    def _tick(self) -> None:
        started, frame0 = self._origin
        due = frame0 + int((time.perf_counter() - started) * self.ctx.fps * self.speed)
        first, last = self._bounds()
        if self.speed > 0 and due >= last:
            self.ctx.set_frame(last)
            self.stop()
        elif self.speed < 0 and due <= first:
            self.ctx.set_frame(first)
            self.stop()
        else:
            self.ctx.set_frame(due)

    # -- stepping ----------------------------------------------------------------------------------
    def step(self, frames: int) -> None:
        self.stop()
        self.ctx.set_frame(self.ctx.frame + frames)

    def step_seconds(self, seconds: int) -> None:
        self.step(int(round(seconds * self.ctx.fps)))

    def home(self) -> None:
        self.stop()
        self.ctx.set_frame(0)

    def end(self) -> None:
        self.stop()
        self.ctx.set_frame(self.ctx.frame_count - 1)

    def keyframe(self, direction: int) -> None:
        self.stop()
        keys = self.ctx.keyframes()
        f = self.ctx.frame
        target = ([k for k in keys if k > f][:1] if direction > 0 else [k for k in keys if k < f][-1:])
        if target:
            self.ctx.set_frame(target[0])


class TransportBar(QWidget):
    """Buttons for the playback actions, the frame number and the timecode."""

    def __init__(self, ctx: EditorContext, playback: Playback, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.playback = playback
        self.actions = actions
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)
        for action_id in ("home", "prev_key", "step_back", "shuttle_back", "play", "shuttle_fwd",
                          "step_fwd", "next_key", "end"):
            layout.addWidget(self._button(action_id))
        layout.addSpacing(12)
        self.frame_box = QSpinBox()
        self.frame_box.setObjectName("FrameBox")
        self.frame_box.setKeyboardTracking(False)
        self.frame_box.setToolTip("<b>Current frame</b><br>Type a frame number and press Enter to go there")
        self.frame_box.setButtonSymbols(QSpinBox.ButtonSymbols.NoButtons)
        self.frame_box.setMinimumWidth(64)
        self.frame_box.valueChanged.connect(lambda v: self.ctx.set_frame(v))
        layout.addWidget(self.frame_box)
        self.total = QLabel("/ 0")
        layout.addWidget(self.total)
        layout.addSpacing(10)
        self.timecode = QLabel("00:00:00:00")
        self.timecode.setToolTip("Timecode of the current frame (hours:minutes:seconds:frames)")
        self.timecode.setStyleSheet("font-family: monospace; font-size: 13px;")
        layout.addWidget(self.timecode)
        self.speed = QLabel("")
        self.speed.setMinimumWidth(48)
        self.speed.setStyleSheet("color: #ffc400;")
        layout.addWidget(self.speed)
        layout.addStretch(1)
        layout.addWidget(self._button("mark_in"))
        layout.addWidget(self._button("mark_out"))
        self.in_out = QLabel("")
        self.in_out.setToolTip("In and out points: tracking and exports stay inside them")
        layout.addWidget(self.in_out)
        ctx.frameChanged.connect(self._on_frame)
        ctx.documentChanged.connect(self._on_document)
        ctx.settingsChanged.connect(lambda _n: self._on_range())
        playback.speedChanged.connect(self._on_speed)
        self._on_document()

    def _button(self, action_id: str) -> QToolButton:
        b = QToolButton()
        b.setDefaultAction(self.actions[action_id])
        b.setAutoRaise(True)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.setObjectName(f"button_{action_id}")
        return b

    def _on_document(self) -> None:
        n = self.ctx.frame_count
        self.frame_box.blockSignals(True)
        self.frame_box.setRange(0, max(0, n - 1))
        self.frame_box.setValue(self.ctx.frame)
        self.frame_box.blockSignals(False)
        self.total.setText(f"/ {max(0, n - 1)}")
        self._on_frame(self.ctx.frame)
        self._on_range()

    def _on_frame(self, frame: int) -> None:
        self.frame_box.blockSignals(True)
        self.frame_box.setValue(frame)
        self.frame_box.blockSignals(False)
        self.timecode.setText(timecode(frame, self.ctx.fps))

    def _on_range(self) -> None:
        doc = self.ctx.doc
        if doc is None or not doc.has_frame_range:
            self.in_out.setText("")
            return
        fr = doc.frame_range
        self.in_out.setText(f"In {fr.first} · Out {fr.last}")

    def _on_speed(self, speed: int) -> None:
        play = self.actions["play"]
        play.setIcon(icon("mdi6.pause" if speed else "mdi6.play"))
        self.speed.setText("" if speed in (0, 1) else (f"◀ {-speed}×" if speed < 0 else f"▶ {speed}×"))
