"""Starts the Qt application and the main window."""

from __future__ import annotations

import os
import sys


def launch(path: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ) and not os.environ.get("QT_QPA_PLATFORM"):
        print("sam2-studio: no display found; run it on a desktop, or see `sam2-studio --help`.",
              file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    label = QLabel(f"SAM2 Studio\n{path or 'no video opened'}")
    label.setWindowTitle("SAM2 Studio")
    label.resize(640, 360)
    label.show()
    return app.exec()
