"""Offered on start when an editor stopped without closing and left an autosave: recover it
(it opens as unsaved work, the original project file untouched), discard it, or decide
later (it stays on disk and is offered again)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from sam2_studio.project import InterruptedSession


class RecoveryDialog(QDialog):
    def __init__(self, parent: QWidget | None, sessions: list[InterruptedSession]) -> None:
        super().__init__(parent)
        self.setObjectName("RecoveryDialog")
        self.setWindowTitle("Recover unsaved work")
        self.setMinimumWidth(560)
        self.sessions = sessions
        self.choice: tuple[str, InterruptedSession | None] = ("later", None)
        layout = QVBoxLayout(self)
        intro = QLabel("<b>SAM2 Studio did not close normally last time.</b><br>"
                       "Its latest autosave can be recovered. Recovered work opens unsaved; your "
                       "project file is not touched until you save.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget()
        for s in sessions:
            when = s.autosaved_at.astimezone().strftime("%Y-%m-%d %H:%M") if s.autosaved_at else "unknown time"
            where = str(s.project_path) if s.project_path else "never saved"
            item = QListWidgetItem(f"{s.title} — autosaved {when}\n    project: {where}\n    video: {s.video_path}")
            item.setToolTip(html.escape(str(s.directory)))
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox()
        recover = QPushButton("Recover")
        recover.setObjectName("RecoverButton")
        recover.setDefault(True)
        discard = QPushButton("Discard")
        discard.setObjectName("DiscardButton")
        later = QPushButton("Decide Later")
        buttons.addButton(recover, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(discard, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(later, QDialogButtonBox.ButtonRole.RejectRole)
        recover.clicked.connect(lambda: self._done("recover"))
        discard.clicked.connect(lambda: self._done("discard"))
        later.clicked.connect(lambda: self._done("later"))
        layout.addWidget(buttons)
        self.list.itemDoubleClicked.connect(lambda _i: self._done("recover"))
        self.setWindowModality(Qt.WindowModality.ApplicationModal)

    def _done(self, what: str) -> None:
        row = self.list.currentRow()
        self.choice = (what, self.sessions[row] if 0 <= row < len(self.sessions) else None)
        self.accept() if what != "later" else self.reject()
