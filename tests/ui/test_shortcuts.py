"""The editor's shortcuts (DESIGN.md's list), the menus and tooltips that name them, the
shortcut overlay, and playback."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from sam2_studio.ui.actions import ACTIONS, SPECS, shortcut_text
from tests.ui.conftest import key, open_with_ground_truth, wait_shown

DESIGN_SHORTCUTS = {
    "play": "Space", "shuttle_back": "J", "shuttle_stop": "K", "shuttle_fwd": "L",
    "step_back": "Left", "step_fwd": "Right", "second_back": "Shift+Left", "second_fwd": "Shift+Right",
    "home": "Home", "end": "End", "mark_in": "I", "mark_out": "O", "undo": "Ctrl+Z",
    "redo": "Ctrl+Shift+Z", "cancel": "Esc", "shortcuts": "?", **{f"select_object_{n}": str(n) for n in range(1, 10)},
}


def test_every_action_has_a_shortcut_in_its_tooltip_and_a_menu(window):
    for spec in ACTIONS:
        action = window.actions[spec.id]
        assert spec.shortcuts, f"{spec.id} has no shortcut"
        for s in spec.shortcuts:
            assert QKeySequence(s).toString() in [k.toString() for k in action.shortcuts()]
        if spec.shortcuts:
            assert shortcut_text(spec) in action.toolTip(), spec.id
        assert any(action in menu.actions() for menu in window.menus.values()), f"{spec.id} is in no menu"
    for action_id, keys in DESIGN_SHORTCUTS.items():
        assert QKeySequence(keys) in window.actions[action_id].shortcuts(), action_id


def test_no_two_actions_share_a_shortcut():
    seen: dict[str, str] = {}
    for spec in ACTIONS:
        for s in spec.shortcuts:
            k = QKeySequence(s).toString()
            assert k not in seen, f"{k} is both {seen[k]} and {spec.id}"
            seen[k] = spec.id


def test_transport_keys(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    n = w.doc.video.frame_count  # 40 frames at 24 fps
    key(qtbot, w, Qt.Key.Key_Right)
    key(qtbot, w, Qt.Key.Key_Right)
    assert w.ctx.frame == 2
    key(qtbot, w, Qt.Key.Key_Left)
    assert w.ctx.frame == 1
    key(qtbot, w, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert w.ctx.frame == 25
    key(qtbot, w, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert w.ctx.frame == 1
    key(qtbot, w, Qt.Key.Key_End)
    assert w.ctx.frame == n - 1
    key(qtbot, w, Qt.Key.Key_Home)
    assert w.ctx.frame == 0
    wait_shown(qtbot, w, 0)
    assert w.transport.timecode.text() == "00:00:00:00"
    w.ctx.set_frame(30)
    assert w.transport.timecode.text() == "00:00:01:06" and w.transport.frame_box.value() == 30

    # in and out points
    w.ctx.set_frame(5)
    key(qtbot, w, Qt.Key.Key_I)
    w.ctx.set_frame(20)
    key(qtbot, w, Qt.Key.Key_O)
    assert (w.doc.frame_range.first, w.doc.frame_range.last) == (5, 20)
    assert w.transport.in_out.text() == "In 5 · Out 20"
    key(qtbot, w, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)
    assert not w.doc.has_frame_range


def test_play_pause_and_shuttle(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    key(qtbot, w, Qt.Key.Key_Space)
    assert w.playback.speed == 1
    qtbot.waitUntil(lambda: w.ctx.frame >= 3, timeout=5000)
    key(qtbot, w, Qt.Key.Key_Space)
    assert w.playback.speed == 0
    stopped = w.ctx.frame
    qtbot.wait(120)
    assert w.ctx.frame == stopped
    key(qtbot, w, Qt.Key.Key_L)
    key(qtbot, w, Qt.Key.Key_L)
    assert w.playback.speed == 2 and w.transport.speed.text() == "▶ 2×"
    key(qtbot, w, Qt.Key.Key_K)
    assert w.playback.speed == 0
    w.ctx.set_frame(30)
    key(qtbot, w, Qt.Key.Key_J)
    key(qtbot, w, Qt.Key.Key_J)
    key(qtbot, w, Qt.Key.Key_J)
    assert w.playback.speed == -4
    qtbot.waitUntil(lambda: w.ctx.frame == 0 and w.playback.speed == 0, timeout=5000)  # stops at the start
    # playing from the end starts again at the start; playback stops at the out point
    w.doc.set_frame_range(2, 6)
    w.ctx.set_frame(6)
    key(qtbot, w, Qt.Key.Key_Space)
    assert w.ctx.frame == 2
    qtbot.waitUntil(lambda: w.playback.speed == 0, timeout=5000)
    assert w.ctx.frame == 6


def test_keyframe_jumps_and_object_numbers(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    a = w.doc.add_object("A")
    b = w.doc.add_object("B")
    for f in (4, 12, 30):
        w.doc.add_point(a.id, f, 10, 10)
    w.doc.add_point(b.id, 20, 10, 10)
    w.ctx.set_frame(0)
    for expected in (4, 12, 20, 30, 30):
        key(qtbot, w, Qt.Key.Key_Down)
        assert w.ctx.frame == expected
    key(qtbot, w, Qt.Key.Key_Up)
    assert w.ctx.frame == 20
    key(qtbot, w, Qt.Key.Key_1)
    assert w.ctx.active_object == a.id
    key(qtbot, w, Qt.Key.Key_2)
    assert w.ctx.active_object == b.id
    qtbot.waitUntil(lambda: w.objects_panel.list.currentRow() == 1, timeout=2000)
    key(qtbot, w, Qt.Key.Key_9)  # no ninth object: nothing changes
    assert w.ctx.active_object == b.id


def test_tools_and_brush_size_keys(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    from sam2_studio.ui.context import Tool

    for k, tool in ((Qt.Key.Key_R, Tool.BOX), (Qt.Key.Key_B, Tool.BRUSH), (Qt.Key.Key_E, Tool.ERASER),
                    (Qt.Key.Key_H, Tool.HAND), (Qt.Key.Key_P, Tool.POINT)):
        key(qtbot, w, k)
        assert w.ctx.tool is tool and w.viewer.tool is tool
    r = w.ctx.brush_radius
    key(qtbot, w, Qt.Key.Key_BracketRight)
    assert w.ctx.brush_radius == pytest.approx(r * 1.25)
    assert w.brush_slider.value() == round(r * 1.25)
    key(qtbot, w, Qt.Key.Key_BracketLeft)
    assert w.ctx.brush_radius == pytest.approx(r)


def test_shortcut_overlay(qtbot, window):
    w = window
    key(qtbot, w, Qt.Key.Key_Question)  # the platform maps Shift+/ to "?"
    overlay = w._shortcut_overlay
    assert overlay.isVisible()
    text = " ".join(lbl.text() for lbl in overlay.findChildren(type(w.transport.total)))
    for words in ("Play / Pause", "Mark In", "Track Forward", "Undo", "Select object 1–9"):
        assert words in text
    key(qtbot, w, Qt.Key.Key_Escape)
    assert not overlay.isVisible()


def test_zoom_keys(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    fit = w.viewer.scale
    key(qtbot, w, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert w.viewer.scale == 1.0
    key(qtbot, w, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert w.viewer.scale == pytest.approx(0.8)
    key(qtbot, w, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert w.viewer.scale == pytest.approx(fit)


def test_playback_keeps_time_when_frames_are_slow(qtbot, window, car_gt, car_frames_dir):
    """Playback follows the clock: after 0.5 s at 24 fps it is near frame 12, however slow
    the pictures come."""
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    t0 = time.perf_counter()
    w.playback.set_speed(1)
    qtbot.wait(500)
    elapsed = time.perf_counter() - t0
    w.playback.stop()
    assert abs(w.ctx.frame - elapsed * 24) <= 3
    assert SPECS["play"].shortcuts == ("Space",)
