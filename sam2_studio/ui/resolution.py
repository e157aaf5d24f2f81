"""The working resolution in the editor: the Track menu's three choices, kept in step with
the project, and the first tracking of a clip on a CPU, which offers Draft with figures
measured on this machine (measured once per machine, model and engine; kept in settings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

from sam2_studio.app.resolution import OFFER, machine_key, offer_text
from sam2_studio.project.resolution import RESOLUTIONS

if TYPE_CHECKING:
    from sam2_studio.app.settings import Settings
    from sam2_studio.app.tracking import Tracker
    from sam2_studio.project import Document
    from sam2_studio.ui.actions import Actions


class ResolutionControl(QObject):
    def __init__(self, window: QWidget, actions: Actions, tracker: Tracker, settings: Settings,
                 doc: Callable[[], Document | None], track: Callable[[str], None],
                 message: Callable[[str], None]) -> None:
        super().__init__(window)
        self._window, self._actions, self._tracker, self._settings = window, actions, tracker, settings
        self._doc, self._track, self._message = doc, track, message
        self._waiting: str | None = None  # the direction to track once the user has chosen
        self.offer_box: QMessageBox | None = None
        for name in RESOLUTIONS:
            actions.connect(f"resolution_{name}", lambda on, n=name: on and self.choose(n))
        tracker.speed_measured.connect(self._measured)

    def choose(self, name: str) -> None:
        doc = self._doc()
        if doc is not None and doc.working_resolution != name:
            if self._tracker.running:
                self._message("Stop tracking first (Esc) to change the working resolution")
                self.sync()
                return
            doc.set_working_resolution(name)

    def sync(self) -> None:
        """Check the project's resolution in the Track menu (after an open, an undo)."""
        doc = self._doc()
        for name in RESOLUTIONS:
            a = self._actions[f"resolution_{name}"]
            a.setEnabled(doc is not None)
            a.blockSignals(True)
            a.setChecked(doc is not None and doc.working_resolution == name)
            a.blockSignals(False)

    # -- the offer at the first tracking of a clip ----------------------------------------------
    def _key(self) -> str | None:
        m = self._tracker.state.model
        return machine_key(m.variant, m.engine) if m is not None else None

    def wants_offer(self) -> bool:
        """A real model on a CPU, a project still at Full and nothing tracked yet."""
        doc, m = self._doc(), self._tracker.state.model
        if doc is None or m is None or not self._settings.offer_draft:
            return False
        if m.random_weights or m.note or not m.device.startswith("CPU"):
            return False
        return doc.working_resolution == "full" and not any(o.tracked_at.ranges for o in doc.objects)

    def track_or_offer(self, direction: str) -> bool:
        """True when the offer took over (tracking starts once the user has chosen)."""
        if not self.wants_offer():
            return False
        self._waiting = direction
        figures = self._settings.speed_figures.get(self._key() or "")
        if figures and all(n in figures for n in OFFER):
            self._offer(figures)
        else:
            self._message("Measuring this computer's speed at each working resolution (once)…")
            self._tracker.measure_speed(OFFER)
        return True

    def _measured(self, seconds: dict[str, float]) -> None:
        key = self._key()
        if seconds and key:
            self._settings.speed_figures[key] = {k: round(v, 3) for k, v in seconds.items()}
        if self._waiting is not None:
            if seconds:
                self._offer(seconds)
            else:
                self._go("full")

    def _offer(self, seconds: dict[str, float]) -> None:
        box = QMessageBox(self._window)
        box.setObjectName("DraftOffer")
        box.setWindowTitle("Track at Draft resolution?")
        box.setText("Tracking runs on the processor here. Track this clip at Draft resolution?")
        box.setInformativeText(offer_text(seconds))
        draft = box.addButton("Track at Draft", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Track at Full", QMessageBox.ButtonRole.RejectRole)
        again = QCheckBox("Don't offer this again on this computer")
        again.setObjectName("DontOfferAgain")
        box.setCheckBox(again)
        box.setDefaultButton(draft)

        def done(_result: int) -> None:
            if again.isChecked():
                self._settings.offer_draft = False
            self._go("draft" if box.clickedButton() is draft else "full")

        box.finished.connect(done)
        self.offer_box = box
        box.open()

    def _go(self, name: str) -> None:
        direction, self._waiting = self._waiting, None
        self.offer_box = None
        self.choose(name)
        self.sync()
        if direction is not None:
            self._track(direction)
