"""The objects panel: every object with its number key, colour, name, visibility and lock.

Click a row (or press its number) to make it the active object, the one the tools edit.
Every change goes through the document, so it can be undone.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QColorDialog, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QToolButton, QVBoxLayout, QWidget)

from sam2_studio.project import ProjectError, TrackedObject
from sam2_studio.ui.actions import Actions
from sam2_studio.ui.context import EditorContext
from sam2_studio.ui.icons import icon


def swatch(color: tuple[int, int, int], size: int = 14) -> QIcon:
    """A colour square with a light rim, visible on any row highlight."""
    pm = QPixmap(size, size)
    pm.fill(QColor(230, 230, 230))
    p = QPainter(pm)
    p.fillRect(1, 1, size - 2, size - 2, QColor(*color))
    p.end()
    return QIcon(pm)


class ObjectRow(QWidget):
    selected = Signal(int)

    def __init__(self, panel: ObjectsPanel, obj: TrackedObject, number: int) -> None:
        super().__init__()
        self.panel = panel
        self.obj_id = obj.id
        self.setObjectName(f"ObjectRow_{obj.id}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 1, 4, 1)
        layout.setSpacing(4)
        key = QLabel(str(number) if number <= 9 else "")
        key.setFixedWidth(12)
        key.setStyleSheet("color: #8a8f98;")
        key.setToolTip(f"Press {number} to select this object" if number <= 9 else "")
        layout.addWidget(key)
        self.color_button = QToolButton()
        self.color_button.setObjectName("ColorButton")
        self.color_button.setIcon(swatch(obj.color))
        self.color_button.setAutoRaise(True)
        self.color_button.setToolTip("<b>Colour</b><br>Choose the colour of this object's mask")
        self.color_button.clicked.connect(self._choose_color)
        layout.addWidget(self.color_button)
        self.name = QLineEdit(obj.name)
        self.name.setObjectName("NameEdit")
        self.name.setFrame(False)
        self.name.setToolTip("<b>Name</b> (F2)<br>Type to rename; Enter to keep")
        self.name.setStyleSheet("background: transparent;")
        self.name.editingFinished.connect(self._rename)
        layout.addWidget(self.name, 1)
        self.eye = QToolButton()
        self.eye.setObjectName("VisibleButton")
        self.eye.setCheckable(True)
        self.eye.setAutoRaise(True)
        self.eye.setChecked(obj.visible)
        self.eye.setIcon(icon("mdi6.eye" if obj.visible else "mdi6.eye-off"))
        self.eye.setToolTip("<b>Show / hide</b> (Ctrl+H)<br>Hidden objects take no part in the picture or exports")
        self.eye.toggled.connect(lambda on: self.panel.update_object(self.obj_id, visible=on))
        layout.addWidget(self.eye)
        self.lock = QToolButton()
        self.lock.setObjectName("LockButton")
        self.lock.setCheckable(True)
        self.lock.setAutoRaise(True)
        self.lock.setChecked(obj.locked)
        self.lock.setIcon(icon("mdi6.lock" if obj.locked else "mdi6.lock-open-variant"))
        self.lock.setToolTip("<b>Lock / unlock</b> (Ctrl+L)<br>A locked object's masks cannot be changed")
        self.lock.toggled.connect(lambda on: self.panel.update_object(self.obj_id, locked=on))
        layout.addWidget(self.lock)
        delete = QToolButton()
        delete.setObjectName("DeleteButton")
        delete.setAutoRaise(True)
        delete.setIcon(icon("mdi6.delete"))
        delete.setToolTip("<b>Delete</b> (Shift+Delete)<br>Delete this object with its masks (Ctrl+Z brings it back)")
        delete.clicked.connect(lambda: self.panel.delete_object(self.obj_id))
        layout.addWidget(delete)

    def _rename(self) -> None:
        text = self.name.text().strip()
        doc = self.panel.ctx.doc
        if doc is None:
            return
        try:
            current = doc.object(self.obj_id).name
        except ProjectError:
            return
        if text and text != current:
            self.panel.update_object(self.obj_id, name=text)
        elif not text:
            self.name.setText(current)

    def _choose_color(self) -> None:
        doc = self.panel.ctx.doc
        if doc is None:
            return
        current = QColor(*doc.object(self.obj_id).color)
        chosen = QColorDialog.getColor(current, self, "Object colour")
        if chosen.isValid():
            self.panel.update_object(self.obj_id, color=(chosen.red(), chosen.green(), chosen.blue()))

    def mousePressEvent(self, event: object) -> None:  # noqa: N802
        self.panel.ctx.set_active_object(self.obj_id)


class ObjectsPanel(QWidget):
    problem = Signal(str)

    def __init__(self, ctx: EditorContext, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ObjectsPanel")
        self.ctx = ctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setObjectName("ObjectList")
        self.list.setSpacing(1)
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.list.currentRowChanged.connect(self._row_changed)
        layout.addWidget(self.list, 1)
        self.hint = QLabel("Click the object in the picture (or paint it\nwith the brush) to start; N adds an object.")
        self.hint.setStyleSheet("color: #8a8f98;")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.hint)
        buttons = QHBoxLayout()
        for action_id in ("add_object", "delete_object"):
            b = QToolButton()
            b.setDefaultAction(actions[action_id])
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setAutoRaise(True)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self._rebuild_due = False
        ctx.documentChanged.connect(self.rebuild)
        # rebuilt after the event: a row's own button may be what changed the object
        ctx.objectsChanged.connect(lambda _e: self._schedule_rebuild())
        ctx.activeObjectChanged.connect(self._on_active)
        self.rebuild()

    def rows(self) -> list[ObjectRow]:
        return [self.list.itemWidget(self.list.item(i)) for i in range(self.list.count())]  # type: ignore[misc]

    def row(self, obj_id: int) -> ObjectRow | None:
        return next((r for r in self.rows() if r.obj_id == obj_id), None)

    def _schedule_rebuild(self) -> None:
        if not self._rebuild_due:
            self._rebuild_due = True
            QTimer.singleShot(0, self.rebuild)

    def rebuild(self) -> None:
        self._rebuild_due = False
        doc = self.ctx.doc
        self.list.blockSignals(True)
        self.list.clear()
        objects = doc.objects if doc is not None else ()
        for n, obj in enumerate(objects, 1):
            item = QListWidgetItem()
            row = ObjectRow(self, obj, n)
            item.setSizeHint(QSize(100, 30))
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
        self.list.blockSignals(False)
        self.hint.setVisible(doc is not None and not objects)
        self._on_active(self.ctx.active_object)

    def _on_active(self, obj_id: object) -> None:
        self.list.blockSignals(True)
        for i, row in enumerate(self.rows()):
            if row.obj_id == obj_id:
                self.list.setCurrentRow(i)
                break
        else:
            self.list.setCurrentRow(-1)
        self.list.blockSignals(False)

    def _row_changed(self, index: int) -> None:
        rows = self.rows()
        if 0 <= index < len(rows):
            self.ctx.set_active_object(rows[index].obj_id)

    # -- edits -----------------------------------------------------------------------------------
    def update_object(self, obj_id: int, **changes: object) -> None:
        doc = self.ctx.doc
        if doc is None:
            return
        try:
            doc.update_object(obj_id, **changes)  # type: ignore[arg-type]
        except ProjectError as exc:
            self.problem.emit(str(exc))
            self._schedule_rebuild()

    def delete_object(self, obj_id: int) -> None:
        doc = self.ctx.doc
        if doc is None:
            return
        try:
            doc.remove_object(obj_id)
        except ProjectError as exc:
            self.problem.emit(str(exc))

    def focus_name(self, obj_id: int) -> None:
        row = self.row(obj_id)
        if row is not None:
            row.name.setFocus()
            row.name.selectAll()
