"""The Qt binding itself: the painter calls the editor makes at every repaint must not drop
references to None (PySide6 6.12.0 on Python 3.11 did, and the editor died after a few
thousand repaints; pyproject.toml keeps that version out)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap, QPolygonF

CALLS = {
    "drawLine": lambda p, c, pm: p.drawLine(QPointF(1, 0), QPointF(1, 10)),
    "setPen(QPen)": lambda p, c, pm: p.setPen(QPen(c, 1.5)),
    "setPen(QColor)": lambda p, c, pm: p.setPen(c),
    "setBrush": lambda p, c, pm: p.setBrush(c),
    "setRenderHint": lambda p, c, pm: p.setRenderHint(QPainter.RenderHint.Antialiasing, True),
    "drawPolygon": lambda p, c, pm: p.drawPolygon(QPolygonF([QPointF(0, 0), QPointF(6, 0), QPointF(3, 9)])),
    "fillRect": lambda p, c, pm: p.fillRect(QRectF(0, 0, 5, 5), QBrush(c, Qt.BrushStyle.BDiagPattern)),
    "drawText": lambda p, c, pm: p.drawText(QRectF(6, 0, 100, 20), Qt.AlignmentFlag.AlignVCenter, "x"),
    "drawPixmap": lambda p, c, pm: p.drawPixmap(QPointF(0, 2), pm),
    "drawEllipse": lambda p, c, pm: p.drawEllipse(QPointF(5, 5), 3.0, 3.0),
    "setFont": lambda p, c, pm: p.setFont(QFont()),
    "setClipRect": lambda p, c, pm: p.setClipRect(QRectF(0, 0, 100, 100)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_painter_calls_keep_none_alive(qapp, name):
    img = QImage(200, 100, QImage.Format.Format_RGB32)
    pm = QPixmap(8, 8)
    color = QColor(1, 2, 3)
    p = QPainter(img)
    try:
        call = CALLS[name]
        call(p, color, pm)
        before = sys.getrefcount(None)
        for _ in range(500):
            call(p, color, pm)
        lost = before - sys.getrefcount(None)
    finally:
        p.end()
    assert lost < 250, f"QPainter.{name} drops a reference to None on every call"
