"""The review panel: every suspect frame of every object, and the threshold that decides them.

A row per suspect (frame, object, why, confidence); click one to go there. The slider is the
confidence threshold the timeline's bands are drawn against (stored in the project, one
undo step per slider move). Checked frames leave the list unless "Show checked" is on.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel,
                               QSlider, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout,
                               QWidget)

from sam2_studio.app.review import Review
from sam2_studio.project import ProjectError
from sam2_studio.project.suspects import Suspect
from sam2_studio.ui.actions import Actions
from sam2_studio.ui.context import EditorContext

THRESHOLD_TIP = ("<b>Confidence threshold</b><br>Frames whose confidence falls below it are "
                 "suspect. Confidence combines the model's own certainty (object score, "
                 "predicted IoU, agreement of its candidate masks) with how smoothly the mask "
                 "moves and changes size. Higher finds more, lower fewer. Saved with the project.")


class ReviewPanel(QWidget):
    problem = Signal(str)

    def __init__(self, ctx: EditorContext, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ReviewPanel")
        self.ctx = ctx
        self.review: Review | None = None
        self._suspects: list[Suspect] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        self.summary = QLabel("")
        self.summary.setObjectName("ReviewSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold"))
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setObjectName("ConfidenceThreshold")
        self.threshold.setRange(0, 100)
        self.threshold.setToolTip(THRESHOLD_TIP)
        self.threshold.valueChanged.connect(self._threshold_moved)
        row.addWidget(self.threshold, 1)
        self.threshold_label = QLabel("0.50")
        self.threshold_label.setMinimumWidth(32)
        row.addWidget(self.threshold_label)
        layout.addLayout(row)

        self.table = QTableWidget(0, 4)
        self.table.setObjectName("SuspectTable")
        self.table.setHorizontalHeaderLabels(["Frame", "Object", "Why", "Conf."])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setToolTip("<b>Suspect frames</b><br>Click one to go there. Shift+Down / Shift+Up "
                              "step through them, C marks the frame checked.")
        self.table.itemSelectionChanged.connect(self._row_chosen)
        layout.addWidget(self.table, 1)

        buttons = QHBoxLayout()
        for action_id in ("prev_suspect", "next_suspect", "mark_checked"):
            b = QToolButton()
            b.setObjectName(f"Button_{action_id}")
            b.setDefaultAction(actions[action_id])
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon if action_id == "mark_checked"
                                 else Qt.ToolButtonStyle.ToolButtonIconOnly)
            b.setAutoRaise(True)
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.show_checked = QCheckBox("Show checked")
        self.show_checked.setObjectName("ShowChecked")
        self.show_checked.setToolTip("List the frames marked checked too (greyed)")
        self.show_checked.toggled.connect(lambda _on: self.refresh())
        buttons.addWidget(self.show_checked)
        layout.addLayout(buttons)

        self._due = False
        ctx.activeObjectChanged.connect(lambda _o: self._select_current())
        ctx.frameChanged.connect(lambda _f: self._select_current())
        self.refresh()

    # -- content -----------------------------------------------------------------------------
    def set_review(self, review: Review | None) -> None:
        self.review = review
        self.refresh()

    def schedule_refresh(self) -> None:
        """Many changes arrive at once (a propagation writes every frame): list once."""
        if not self._due:
            self._due = True
            QTimer.singleShot(60, self.refresh)

    def refresh(self) -> None:
        self._due = False
        review, doc = self.review, self.ctx.doc
        self.threshold.blockSignals(True)
        self.threshold.setEnabled(doc is not None)
        if doc is not None:
            self.threshold.setValue(int(round(doc.review_threshold * 100)))
            self.threshold_label.setText(f"{doc.review_threshold:.2f}")
        self.threshold.blockSignals(False)
        if review is None or doc is None:
            self._suspects = []
            self.table.setRowCount(0)
            self.summary.setText("<span style='color:#8a8f98'>Track an object to review it here.</span>")
            return
        items = review.suspects(include_checked=self.show_checked.isChecked())
        self._suspects = items
        names = {o.id: o.name for o in doc.objects}
        self.table.blockSignals(True)
        self.table.setRowCount(len(items))
        for r, s in enumerate(items):
            cells = (str(s.frame), names.get(s.object_id, "?"), s.text + (" (checked)" if s.checked else ""),
                     f"{s.confidence:.2f}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if s.checked:
                    item.setForeground(QColor(130, 134, 140))
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)
        open_, checked = review.counts()
        if open_ == 0:
            text = "No suspect frames" + (f" ({checked} checked)." if checked else ".")
        else:
            text = (f"<b>{open_} suspect frame{'s' if open_ != 1 else ''}</b>"
                    + (f", {checked} checked" if checked else "") + ": Shift+Down goes to the next.")
        self.summary.setText(text)
        self._select_current()

    def _select_current(self) -> None:
        """Highlight the row of the frame and object being looked at, if it is listed."""
        self.table.blockSignals(True)
        self.table.clearSelection()
        for r, s in enumerate(self._suspects):
            if s.frame == self.ctx.frame and s.object_id == self.ctx.active_object:
                self.table.selectRow(r)
                self.table.scrollToItem(self.table.item(r, 0))
                break
        self.table.blockSignals(False)

    def rows(self) -> list[Suspect]:
        return list(self._suspects)

    # -- input -------------------------------------------------------------------------------
    def _row_chosen(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._suspects):
            return
        s = self._suspects[rows[0].row()]
        self.ctx.set_active_object(s.object_id)
        self.ctx.set_frame(s.frame)

    def _threshold_moved(self, value: int) -> None:
        doc = self.ctx.doc
        self.threshold_label.setText(f"{value / 100:.2f}")
        if doc is None:
            return
        try:
            doc.set_review_threshold(value / 100)
        except ProjectError as exc:
            self.problem.emit(str(exc))
