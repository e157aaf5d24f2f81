"""Starts the Qt application and the editor: theme, main window, recovery offer, the file
given on the command line (or by the system, on macOS), and the model."""

from __future__ import annotations

import logging
import os
import sys

APP_NAME = "SAM2 Studio"


def launch(path: str | None = None) -> int:
    """Run the editor until its window closes. ``sam2_studio.main`` has checked first that
    Qt can open a window here (``app/platform_check.py``)."""
    logging.basicConfig(level=os.environ.get("SAM2_STUDIO_LOG", "WARNING").upper(),
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from sam2_studio.app.recovery import pending_recoveries
    from sam2_studio.ui.file_open import FileOpenRelay
    from sam2_studio.ui.main_window import MainWindow
    from sam2_studio.ui.resources import app_icon_path
    from sam2_studio.ui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("SAM2 Studio")
    app.setDesktopFileName("org.sam2studio.SAM2Studio")
    if app_icon_path().is_file():
        app.setWindowIcon(QIcon(str(app_icon_path())))
    apply_theme(app)
    window = MainWindow()
    app.installEventFilter(FileOpenRelay(window.open_path, app))  # macOS: a double-clicked file
    window.show()

    def start() -> None:
        try:
            sessions = pending_recoveries()
        except OSError:
            sessions = []
        if sessions:
            window.offer_recovery(sessions)
        if path and window.doc is None:
            window.open_path(path)
        if not window.tracker.has_model and window.tracker.state.loading is None:
            window.load_default_model(window.doc.model_variant if window.doc else None)

    QTimer.singleShot(0, start)
    return app.exec()
