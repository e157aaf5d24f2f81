"""The working resolution in the editor: Track menu (Alt+1/2/3), undo, stale frames after a
change, the status bar naming it, and the Draft offer at a clip's first tracking on a CPU."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt

from sam2_studio.app.model_source import LoadedModel, ModelInfo
from sam2_studio.app.resolution import machine_key
from tests.ground_truth import GroundTruthSession, GroundTruthSource

from .conftest import click_object, key, open_with_ground_truth, wait_idle, wait_model, wait_shown


@dataclass
class CpuCheckpointStandIn:
    """Says what a real checkpoint on a CPU says (variant, device, engine, size), answers with
    ground truth, and follows the project's working resolution as a checkpoint does."""

    clip: object
    image_size: int = 1024
    follows_resolution = True

    @property
    def description(self) -> str:
        return f"stand-in at {self.image_size}"

    def load(self) -> LoadedModel:
        info = ModelInfo("sam2.1_hiera_tiny", "CPU, 2 threads (fp32)", image_size=self.image_size, engine="OpenVINO fp32")
        return LoadedModel(info, None, lambda model, frames, policy=None: GroundTruthSession(self.clip, policy=policy))


def _click_car(qtbot, w, car_gt):  # noqa: ANN001, ANN202
    click_object(qtbot, w, car_gt.labels[0] == 1)
    return w.doc.objects[0].id


def test_track_menu_changes_the_resolution_undoably_and_marks_tracked_frames_stale(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    a = w.actions
    assert a["resolution_full"].isChecked() and "Alt+3" in a["resolution_draft"].toolTip()
    obj = _click_car(qtbot, w, car_gt)
    key(qtbot, w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, w)
    n = len(car_gt.frames)
    assert w.doc.object(obj).tracked_at.as_dict() == {"full": set(range(1, n))}
    assert w.tracker.state.stale == {}

    key(qtbot, w, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)
    assert w.doc.working_resolution == "draft" and a["resolution_draft"].isChecked()
    qtbot.waitUntil(lambda: w.tracker.state.stale.get(obj) == [(1, n - 1)], timeout=5000)
    assert "marked stale" in w.status.currentMessage()

    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.working_resolution == "full" and a["resolution_full"].isChecked()


def test_first_tracking_on_a_cpu_offers_draft_and_tracks_there(qtbot, window, car_gt, car_frames_dir):
    w = window
    assert w.open_path(car_frames_dir)
    source = CpuCheckpointStandIn(car_gt)
    w.load_model(source)
    wait_model(qtbot, w)
    wait_shown(qtbot, w, 0)
    assert "Full 1024" in w.status.model.text() and "(fp32) · OpenVINO" in w.status.model.text()
    w.settings.speed_figures[machine_key("sam2.1_hiera_tiny", "OpenVINO fp32")] = {"full": 2.4, "draft": 0.31}
    obj = _click_car(qtbot, w, car_gt)
    key(qtbot, w, Qt.Key.Key_T)
    box = w.resolution.offer_box
    assert box is not None and box.isVisible()
    assert "Full ≈ 2.4 s a frame" in box.informativeText() and "Draft ≈ 0.3 s a frame" in box.informativeText()
    assert "small objects may be lost" in box.informativeText()
    assert not w.tracker.running  # nothing runs until the user chooses
    box.checkBox().setChecked(True)
    qtbot.mouseClick(box.buttons()[0] if "Draft" in box.buttons()[0].text() else box.buttons()[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.tracker.state.model is not None and w.tracker.state.model.image_size == 512, timeout=20_000)
    wait_idle(qtbot, w)
    assert w.doc.working_resolution == "draft" and not w.settings.offer_draft
    assert "Draft 512" in w.status.model.text()
    tracked = w.doc.object(obj).tracked_at.as_dict()
    assert set(tracked) == {"draft"} and tracked["draft"], tracked
    frame = max(tracked["draft"])
    assert np.array_equal(w.doc.mask(obj, frame), car_gt.labels[frame] == 1)
    # asked once: the next tracking just runs
    key(qtbot, w, Qt.Key.Key_T)
    assert w.resolution.offer_box is None


def test_no_offer_for_stand_ins_and_the_dialog_names_the_resolution(qtbot, window, car_gt, car_frames_dir):
    w = window
    source = open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    assert isinstance(source, GroundTruthSource) and not w.resolution.wants_offer()
    w.model_dialog()
    d = w._model_dialog
    assert d.resolution.currentData() == "full" and d.resolution.isEnabled()
    assert d.engine.count() >= 2 and "Automatic" in d.engine.itemText(0)
    d.resolution.setCurrentIndex(d.resolution.findData("balanced"))
    d.resolution.activated.emit(d.resolution.currentIndex())
    assert w.doc.working_resolution == "balanced" and w.actions["resolution_balanced"].isChecked()
    d.close()
