"""Files the system hands to the running editor: on macOS a double-clicked ``.s2s`` or video
(the app bundle declares both) arrives as a ``QFileOpenEvent``, not on the command line."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent


class FileOpenRelay(QObject):
    """An application event filter that passes each file-open request to ``open_path``."""

    def __init__(self, open_path: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_path = open_path

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file() or event.url().toLocalFile()
            if path:
                self._open_path(path)
                return True
        return super().eventFilter(watched, event)
