"""The editor's look: a dark Fusion palette (footage reads best on dark grey, as in every
video tool) and a few named colours the custom-painted widgets share."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = QColor(30, 32, 36)
PANEL = QColor(40, 43, 48)
BASE = QColor(24, 26, 29)
TEXT = QColor(220, 222, 226)
DIM_TEXT = QColor(140, 144, 150)
ACCENT = QColor(79, 179, 255)
PLAYHEAD = QColor(255, 80, 70)
IN_OUT = QColor(255, 196, 0)
POSITIVE = QColor(46, 204, 113)
NEGATIVE = QColor(231, 76, 60)
ABSENT = QColor(70, 72, 78)
STALE = QColor(255, 196, 0, 150)
WARNING = QColor(255, 170, 0)

STYLE = """
QToolTip { color: #e6e6e6; background: #2a2d33; border: 1px solid #50545c; padding: 4px; }
QStatusBar { border-top: 1px solid #15171a; }
QStatusBar QLabel { padding: 0 6px; }
QDockWidget::title { padding: 4px 6px; background: #2b2e34; }
QToolBar { spacing: 2px; border: none; }
QGroupBox { border: 1px solid #3a3d44; border-radius: 4px; margin-top: 14px; padding-top: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #a9adb5; }
QLabel#RandomWeights { color: #1b1b1b; background: #ffaa00; border-radius: 3px; font-weight: bold; }
QLabel#NoModel { color: #ffcc66; }
QPushButton#Primary { background: #2f7fc1; color: white; border-radius: 3px; padding: 4px 12px; }
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    p.setColor(QPalette.ColorRole.Window, PANEL)
    p.setColor(QPalette.ColorRole.WindowText, TEXT)
    p.setColor(QPalette.ColorRole.Base, BASE)
    p.setColor(QPalette.ColorRole.AlternateBase, BACKGROUND)
    p.setColor(QPalette.ColorRole.ToolTipBase, PANEL)
    p.setColor(QPalette.ColorRole.ToolTipText, TEXT)
    p.setColor(QPalette.ColorRole.Text, TEXT)
    p.setColor(QPalette.ColorRole.Button, QColor(52, 56, 62))
    p.setColor(QPalette.ColorRole.ButtonText, TEXT)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 90, 90))
    p.setColor(QPalette.ColorRole.Highlight, QColor(47, 127, 193))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.ColorRole.Link, ACCENT)
    p.setColor(QPalette.ColorRole.PlaceholderText, DIM_TEXT)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 113, 118))
    app.setPalette(p)
    app.setStyleSheet(STYLE)
