"""The ``?`` overlay: every shortcut of the action table, by menu, over the window.
Press ? or Esc, or click, to close it."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from sam2_studio.ui.actions import ACTIONS, MENUS, shortcut_text


class ShortcutOverlay(QWidget):
    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("ShortcutOverlay")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(60, 40, 60, 40)
        title = QLabel("<h2 style='color:#ffffff'>Keyboard shortcuts</h2>"
                       "<span style='color:#9aa0a8'>Press ? or Esc to close. Every command is also in the menus, "
                       "with its shortcut.</span>")
        outer.addWidget(title)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setStyleSheet("background: transparent;")
        body = QWidget()
        body.setStyleSheet("background: transparent;")
        grid = QGridLayout(body)
        grid.setHorizontalSpacing(36)
        columns = 3
        for i, menu in enumerate(MENUS):
            specs = [s for s in ACTIONS if s.menu == menu and s.shortcuts and not s.id.startswith("select_object_")]
            if menu == "Object":
                specs.append(type(specs[0])("select_object_n", "Select object 1–9", "Object", ("1",)))
            rows = "".join(
                f"<tr><td style='padding:2px 14px 2px 0; color:#e8e8e8'>{html.escape(s.text.replace('&', '').rstrip('…'))}</td>"
                f"<td style='color:#ffc400; font-family:monospace'>"
                f"{'1 … 9' if s.id == 'select_object_n' else html.escape(shortcut_text(s))}</td></tr>"
                for s in specs)
            label = QLabel(f"<h3 style='color:#4fb3ff'>{menu}</h3><table>{rows}</table>")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setAlignment(Qt.AlignmentFlag.AlignTop)
            grid.addWidget(label, i // columns, i % columns, Qt.AlignmentFlag.AlignTop)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        self.hide()
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.setGeometry(self.parentWidget().rect())
            self.show()
            self.raise_()
            self.setFocus()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(12, 13, 15, 225))
        p.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Question):
            self.hide()
            event.accept()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.hide()
