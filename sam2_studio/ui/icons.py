"""Icons from qtawesome's Material Design set, with a blank fallback (an icon font that
fails to load must not stop the editor)."""

from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QIcon

log = logging.getLogger(__name__)


def icon(name: str, color: str | QColor = "#d6d8dc") -> QIcon:
    if not name:
        return QIcon()
    try:
        import qtawesome as qta

        return qta.icon(name, color=color, color_disabled="#5c5f66")
    except Exception:  # noqa: BLE001
        log.debug("icon %s unavailable", name, exc_info=True)
        return QIcon()
