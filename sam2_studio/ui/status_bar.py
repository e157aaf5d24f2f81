"""The status bar: messages, the running job's progress (frames, speed, time left) with a
cancel button, the model and device in use, the project's tracking memory, and the memory
(RAM) the editor holds.

Random weights are shown in an orange badge, never as a model name alone.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from sam2_studio.app.memory import memory_text
from sam2_studio.app.progress import format_duration
from sam2_studio.app.tracking import DIRECTION_LABELS, TrackerState
from sam2_studio.ui.actions import MEMORY_TIP, Actions


class StatusBar(QStatusBar):
    modelClicked = Signal()
    memoryClicked = Signal()

    def __init__(self, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StatusBar")
        self.job = QLabel("")
        self.job.setObjectName("JobLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("JobProgress")
        self.progress.setMaximumWidth(200)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel = QToolButton()
        self.cancel.setDefaultAction(actions["cancel"])
        self.cancel.setAutoRaise(True)
        for w in (self.job, self.progress, self.cancel):
            self.addPermanentWidget(w)
            w.hide()
        self.model = QToolButton()
        self.model.setObjectName("ModelLabel")
        self.model.setAutoRaise(True)
        self.model.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.model.setToolTip("<b>Model and device</b> (Ctrl+M)<br>Click to get, choose or check a model")
        self.model.clicked.connect(self.modelClicked)
        self.addPermanentWidget(self.model)
        self.track_memory = QToolButton()
        self.track_memory.setObjectName("TrackMemoryLabel")
        self.track_memory.setAutoRaise(True)
        self.track_memory.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.track_memory.setToolTip("<b>Tracking memory of this project</b> (Track › Memory: "
                                     "Ctrl+Alt+1 SAM 2, Ctrl+Alt+2 distractor-aware)<br>" + MEMORY_TIP)
        self.track_memory.clicked.connect(self.memoryClicked)
        self.track_memory.hide()
        self.addPermanentWidget(self.track_memory)
        self.memory = QLabel("")
        self.memory.setObjectName("MemoryLabel")
        self.memory.setToolTip("Memory this editor holds (resident RAM, and GPU memory when one is used)")
        self.addPermanentWidget(self.memory)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh_memory)
        self._timer.start(2000)
        self.refresh_memory()
        self.show_model(TrackerState())

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt's name
        """Qt cuts a message that does not fit beside the permanent widgets anywhere, even
        right after a colon; elide it with "…" instead, so a cut always shows."""
        room = self._message_room()
        if room > 0:
            text = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room)
        super().showMessage(text, timeout)

    def _message_room(self) -> int:
        """The message's width in pixels, as QStatusBar lays it out (6 px in from the left,
        2 px short of the first visible permanent widget); 0 before the bar is laid out."""
        if not self.isVisible():
            return 0
        shown = [w.x() for w in (self.job, self.progress, self.cancel, self.model, self.track_memory, self.memory)
                 if w.isVisible()]
        right = min(shown, default=self.width() - 10) - 2
        return right - 6 if right > 6 else 0

    def refresh_memory(self) -> None:
        self.memory.setText(memory_text())

    def show_model(self, state: TrackerState) -> None:
        m = state.model
        if state.loading:
            text, style = f"Loading {state.loading}…", "color: #9bd3ff;"
        elif m is not None and m.random_weights:
            text = f"⚠ {m.label}"
            style = "color: #1b1b1b; background: #ffaa00; border-radius: 3px; padding: 1px 6px; font-weight: bold;"
        elif m is not None:
            text, style = m.label, ""
        elif state.model_error:
            text, style = "Model failed to load — click for Models…", "color: #ff7b6b;"
        else:
            text, style = "No model — click to get one (brush, effects and export work without)", "color: #ffcc66;"
        self.model.setText(text)
        self.model.setStyleSheet(style)

    def show_memory(self, name: str | None) -> None:
        """The project's tracking memory by name; hidden without a project."""
        self.track_memory.setVisible(name is not None)
        self.track_memory.setText(f"Memory: {name}" if name else "")

    def show_job(self, state: TrackerState) -> None:
        run = state.run
        if run is None:
            for w in (self.job, self.progress, self.cancel):
                w.hide()
            return
        label = DIRECTION_LABELS.get(run.direction, "Tracking")
        if run.total:
            self.progress.setRange(0, run.total)
            self.progress.setValue(min(run.done, run.total))
        else:
            self.progress.setRange(0, 0)
        parts = [f"{label}: {run.done}/{run.total or '?'} frames"]
        if run.fps > 0:
            parts.append(f"{run.fps:.1f} fps")
            left = max(0, run.total - run.done) / run.fps
            parts.append(f"{format_duration(left)} left")
        self.job.setText(" · ".join(parts) + "  (Esc cancels)")
        for w in (self.job, self.progress, self.cancel):
            w.show()
