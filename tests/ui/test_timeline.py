"""The timeline: lanes per object (mask, absent, keyframes, stale), in/out dimming,
scrubbing by drag, zoom, and selecting an object by its lane."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from sam2_studio.ui.timeline import HEADER_W, LANE_H, RULER_H, THUMB_H, timecode
from tests.ui.conftest import click_object, drag_video, key, open_with_ground_truth, wait_idle


def test_lanes_show_masks_absence_keyframes_and_stale_ranges(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    click_object(qtbot, w, car_gt.labels[0] == 1)
    key(qtbot, w, Qt.Key.Key_T)
    wait_idle(qtbot, w)
    lane = w.timeline.lane_state(1)
    assert (lane == 1).all()
    # an empty mask reads as "tracked but absent"
    w.doc.set_mask(1, 33, np.zeros((480, 854), bool))
    assert w.timeline.lane_state(1)[33] == 2
    # a correction on frame 20 makes the tracked frames around it stale until tracked again
    w.ctx.set_frame(20)
    key(qtbot, w, Qt.Key.Key_B)
    drag_video(qtbot, w, [(100.0, 100.0), (120.0, 100.0)])
    wait_idle(qtbot, w)
    assert w.timeline._keyframes[1] == [0, 20]
    assert w.timeline._stale[1] == [(1, 19), (21, 39)]  # up to the neighbouring prompts
    key(qtbot, w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, w)
    assert 1 not in w.timeline._stale
    # the painted lane has the object's colour where masks are
    img = w.timeline.grab().toImage()
    y = RULER_H + THUMB_H + LANE_H // 2 + 3
    c = img.pixelColor(QPoint(int(w.timeline.x_of(10.5)), y))
    assert (c.red(), c.green(), c.blue()) == w.doc.object(1).color


def test_scrub_by_dragging_and_select_by_lane(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    a = w.doc.add_object("A")
    w.doc.add_object("B")
    tl = w.timeline
    y = RULER_H + 5
    qtbot.mousePress(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl.x_of(3.5)), y))
    for f in (8, 15, 22):
        qtbot.mouseMove(tl, QPoint(int(tl.x_of(f + 0.5)), y))
        assert w.ctx.frame == f
    qtbot.mouseRelease(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl.x_of(22.5)), y))
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(20, RULER_H + THUMB_H + LANE_H // 2))
    assert w.ctx.active_object == a.id


def test_in_out_points_dim_the_rest_and_zoom(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    tl = w.timeline
    before = tl.grab().toImage().pixelColor(QPoint(int(tl.x_of(2.5)), RULER_H + 20))
    w.doc.set_frame_range(10, 30)
    after = tl.grab().toImage().pixelColor(QPoint(int(tl.x_of(2.5)), RULER_H + 20))
    assert after.lightness() < before.lightness() * 0.8
    ppf = tl.pixels_per_frame
    pos = QPointF(tl.x_of(20), 30)
    wheel = QWheelEvent(pos, tl.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(tl, wheel)
    assert tl.pixels_per_frame > ppf * 1.4
    assert abs(tl.x_of(20) - pos.x()) < 1  # zoomed around the mouse
    key(qtbot, w, Qt.Key.Key_Minus, Qt.KeyboardModifier.AltModifier)
    key(qtbot, w, Qt.Key.Key_Minus, Qt.KeyboardModifier.AltModifier)
    assert tl.pixels_per_frame == ppf  # never below fitting the clip
    assert timecode(49, 24) == "00:00:02:01" and HEADER_W > 100
