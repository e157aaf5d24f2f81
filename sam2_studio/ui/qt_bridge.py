"""Getting results from worker threads onto the GUI thread, and numpy pictures into Qt.

``MainThreadRelay`` is a QObject that lives on the GUI thread; calling it from any thread
queues the value, and its ``delivered`` signal fires on the GUI thread. The model worker,
the preview thread and the exporter all hand their results over this way, so no widget is
ever touched from another thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage


class MainThreadRelay(QObject):
    delivered = Signal(object)
    _queued = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queued.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def __call__(self, value: Any) -> None:
        """Thread-safe: ``delivered`` fires with ``value`` on the GUI thread, in order."""
        self._queued.emit(value)

    @Slot(object)
    def _deliver(self, value: Any) -> None:
        self.delivered.emit(value)


def rgb_image(array: np.ndarray) -> QImage:
    """A QImage over an RGB uint8 (H, W, 3) array, without copying: keep the array alive
    as long as the image (the caller holds both)."""
    a = array if array.flags.c_contiguous else np.ascontiguousarray(array)
    h, w = a.shape[:2]
    if a.ndim == 2:
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8)
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888)


def rgba_image(array: np.ndarray) -> QImage:
    """Premultiplied RGBA uint8 (H, W, 4), without copying (keep the array alive)."""
    a = array if array.flags.c_contiguous else np.ascontiguousarray(array)
    h, w = a.shape[:2]
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGBA8888_Premultiplied)


def straight_rgba_image(rgb: np.ndarray, alpha: np.ndarray) -> tuple[QImage, np.ndarray]:
    """RGB with a straight float alpha as a displayable image (and the array to keep)."""
    a8 = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
    rgba = np.ascontiguousarray(np.dstack([rgb, a8]))
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, rgba.strides[0], QImage.Format.Format_RGBA8888), rgba
