"""Reviewing a track in the editor: the confidence band in each lane, suspect markers, the
review panel, Shift+Down / Shift+Up / C, the threshold slider; and the tracking memory in
Track › Memory, the status bar and the model dialog."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from sam2_studio.ui.timeline import BAND_H, BAND_TOP, CONFIDENT, LANE_H, RULER_H, SUSPECT, THUMB_H
from tests.faults import Fault, FaultyClip
from tests.ui.conftest import click_object, key, open_with_ground_truth, wait_idle

SHIFT, CTRL, ALT = (Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier,
                    Qt.KeyboardModifier.AltModifier)


def track_car(qtbot, w, gt, frames_dir, faults=()):  # noqa: ANN001, ANN201
    clip = FaultyClip(gt.frames, gt.labels, list(faults), noise_seed=None)
    source = open_with_ground_truth(qtbot, w, frames_dir, clip)
    click_object(qtbot, w, gt.labels[0] == 1)
    key(qtbot, w, Qt.Key.Key_T)
    wait_idle(qtbot, w)
    return source


def band_colour(w, frame: int, lane: int = 0):  # noqa: ANN001, ANN201
    tl = w.timeline
    img = tl.grab().toImage()
    y = RULER_H + THUMB_H + lane * LANE_H + BAND_TOP + BAND_H - 1
    c = img.pixelColor(QPoint(int(tl.x_of(frame + 0.5)), y))
    return c.red(), c.green(), c.blue()


def rgb(c):  # noqa: ANN001, ANN201
    return c.red(), c.green(), c.blue()


def test_suspect_frames_on_the_timeline_in_the_panel_and_by_keys(qtbot, window, car_gt, car_frames_dir):
    w = window
    track_car(qtbot, w, car_gt, car_frames_dir, [Fault("lost", 12), Fault("partial", 25, 2)])
    assert [s.frame for s in w.review.suspects()] == [12, 25, 26]
    # the band: confident where the car is tracked well, red where it is suspect
    assert band_colour(w, 5) == rgb(CONFIDENT)
    assert band_colour(w, 25) == rgb(SUSPECT)
    assert "suspect: area changes abruptly" in w.timeline.describe(1, 25)
    # the panel lists them
    w.show_review_panel()
    panel = w.review_panel
    qtbot.waitUntil(lambda: [s.frame for s in panel.rows()] == [12, 25, 26])
    assert "3 suspect frames" in panel.summary.text()
    # Shift+Down / Shift+Up step through them
    w.ctx.set_frame(0)
    key(qtbot, w, Qt.Key.Key_Down, SHIFT)
    assert w.ctx.frame == 12 and w.ctx.active_object == 1
    key(qtbot, w, Qt.Key.Key_Down, SHIFT)
    assert w.ctx.frame == 25
    key(qtbot, w, Qt.Key.Key_Up, SHIFT)
    assert w.ctx.frame == 12
    # C marks the frame checked: it leaves the list; Ctrl+Z brings it back
    key(qtbot, w, Qt.Key.Key_C)
    assert w.doc.is_checked(1, 12)
    qtbot.waitUntil(lambda: [s.frame for s in panel.rows()] == [25, 26])
    key(qtbot, w, Qt.Key.Key_Down, SHIFT)
    key(qtbot, w, Qt.Key.Key_Up, SHIFT)
    assert w.ctx.frame == 25  # the checked frame is skipped
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert not w.doc.is_checked(1, 12)
    qtbot.waitUntil(lambda: [s.frame for s in panel.rows()] == [12, 25, 26])
    # clicking a row goes there
    panel.table.selectRow(2)
    assert w.ctx.frame == 26
    # the threshold: down to nothing suspect, one undo step back
    panel.threshold.setValue(0)
    qtbot.waitUntil(lambda: panel.rows() == [])
    assert band_colour(w, 25) != rgb(SUSPECT) and w.doc.review_threshold == 0.0
    w.undo()
    assert w.doc.review_threshold == 0.5
    qtbot.waitUntil(lambda: len(panel.rows()) == 3)


def test_the_review_actions_are_in_the_menus_and_the_overlay(qtbot, window):
    w = window
    track_menu = w.menus["Track"].actions()
    for action_id in ("prev_suspect", "next_suspect", "mark_checked"):
        assert w.actions[action_id] in track_menu
    assert w.actions["review_panel"] in w.menus["View"].actions()
    assert "Shift+Down" in w.actions["next_suspect"].toolTip()
    w.show_shortcuts()
    text = " ".join(lbl.text() for lbl in w._shortcut_overlay.findChildren(type(w.transport.total)))
    assert "Next Suspect Frame" in text and "Shift+Down" in text and "Distractor-aware" in text


def test_the_tracking_memory_in_the_menu_status_bar_and_model_dialog(qtbot, window, car_gt, car_frames_dir, tmp_path,
                                                                      no_blocking_questions):
    w = window
    source = track_car(qtbot, w, car_gt, car_frames_dir)
    memory_menu = w.menus["Track › Memory"]
    assert memory_menu.actions() == [w.actions["memory_sam2"], w.actions["memory_distractor"]]
    assert w.actions["memory_sam2"].isChecked() and w.status.track_memory.text() == "Memory: SAM 2"
    tip = w.actions["memory_distractor"].toolTip()
    assert "look-alike" in tip and "occlusions" in tip and "Ctrl+Alt+2" in tip
    assert source.sessions[-1].policy == "sam2"

    key(qtbot, w, Qt.Key.Key_2, CTRL | ALT)
    wait_idle(qtbot, w)
    assert w.doc.memory_policy == "distractor_aware" and w.actions["memory_distractor"].isChecked()
    assert w.status.track_memory.text() == "Memory: Distractor-aware (SAM2.1++)"
    assert source.sessions[-1].policy == "distractor_aware"
    assert w.timeline._stale[1] == [(1, 39)]  # tracked with the other memory: stale
    w.undo()
    assert w.doc.memory_policy == "sam2" and w.actions["memory_sam2"].isChecked()

    w.model_dialog()
    dialog = w._model_dialog
    assert dialog.memory.currentData() == "sam2" and "look-alike" in dialog.memory.toolTip()
    dialog.memory.setCurrentIndex(1)
    assert w.doc.memory_policy == "distractor_aware"
    dialog.reject()

    # saved with the project
    target = tmp_path / "car.s2s"
    no_blocking_questions["save_path"] = target
    assert w.save_as()
    assert w.open_path(target)
    assert w.doc.memory_policy == "distractor_aware"
    assert w.status.track_memory.text() == "Memory: Distractor-aware (SAM2.1++)"
