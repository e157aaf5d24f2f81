"""The whole editor, driven through its widgets and shortcuts, on a clip of ../shared/data with
the ground-truth test engine: masks must land on the right pixels of the right frames, on
screen, in the document, in exported files and after saving and reopening."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from sam2_studio.project import open_project
from tests.ui.conftest import (centre_of, click_object, click_video, drag_video, inside_away_from, key,
                               open_with_ground_truth, screen_rgb, tint_of, wait_idle, wait_shown)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def test_click_track_correct_undo_paint_export_save_reopen(qtbot, window, car_gt, car_frames_dir, tmp_path, monkeypatch):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    n = len(car_gt.frames)
    assert w.doc.video.frame_count == n and w.windowTitle().startswith("00000.jpg")
    car = car_gt.labels[0] == 1

    # a click on the car with the point tool: the object is made and segmented
    key(qtbot, w, Qt.Key.Key_P)
    x, y = centre_of(car)
    click_video(qtbot, w, x, y)
    wait_idle(qtbot, w)
    obj = w.doc.objects[0].id
    assert np.array_equal(w.doc.mask(obj, 0), car)
    assert w.isWindowModified()
    # on screen: the car is tinted with the object's colour, the road is not
    wait_shown(qtbot, w, 0)
    assert 0.3 < tint_of(w, *inside_away_from(car, (x, y)), car_gt.frames[0]) < 0.7, "the object's colour tints the car"
    road = (400.0, 440.0)
    assert not car[int(road[1]), int(road[0])]
    assert abs(tint_of(w, *road, car_gt.frames[0])) < 0.1, "the road is shown as it is"

    # track both ways (Ctrl+T): every frame gets the ground truth, live on the timeline
    key(qtbot, w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, w)
    assert w.doc.mask_frames(obj) == list(range(n))
    for f in range(n):
        assert np.array_equal(w.doc.mask(obj, f), car_gt.labels[f] == 1), f
    lane = w.timeline.lane_state(obj)
    assert lane is not None and (lane == 1).all()

    # scrub on the timeline to frame 30: the picture and the masks follow
    tl = w.timeline
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=tl.rect().topLeft() + _timeline_point(tl, 30))
    assert w.ctx.frame == 30
    wait_shown(qtbot, w, 30)
    car30 = car_gt.labels[30] == 1
    x30, y30 = centre_of(car30)
    assert 0.3 < tint_of(w, x30, y30, car_gt.frames[30]) < 0.7

    # correct frame 30 with the eraser: a stroke across the car's middle
    key(qtbot, w, Qt.Key.Key_E)
    w.ctx.set_brush_radius(10)
    ys, xs = np.nonzero(car30)
    row = int(np.median(ys))
    cols = xs[ys == row]
    drag_video(qtbot, w, [(float(c) + 0.5, row + 0.5) for c in np.linspace(cols.min(), cols.max(), 12)])
    qtbot.wait(50)
    corrected = w.doc.mask(obj, 30)
    assert corrected.sum() < car30.sum() and not corrected[row, int(np.median(cols))]
    assert w.doc.history.undo_label == "Erase"
    wait_idle(qtbot, w)
    assert w.doc.prompt_frames(obj) == [0, 30]  # the stroke is a prompt: a keyframe marker

    # undo it (Ctrl+Z): the ground truth is back, and so is the engine's view of it
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(w.doc.mask(obj, 30), car30)
    assert w.doc.prompt_frames(obj) == [0]
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert not np.array_equal(w.doc.mask(obj, 30), car30)
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, w)

    # paint with the brush on a second object, on empty road
    key(qtbot, w, Qt.Key.Key_N)
    second = w.doc.objects[1].id
    assert w.ctx.active_object == second
    key(qtbot, w, Qt.Key.Key_B)
    drag_video(qtbot, w, [(100.0, 420.0), (160.0, 420.0), (220.0, 430.0)])
    painted = w.doc.mask(second, 30)
    assert painted[420, 130] and painted[428, 215] and not painted[300, 130]
    assert w.doc.history.undo_label == "Brush stroke"
    wait_idle(qtbot, w)

    # export the car's mattes as 8-bit PNGs numbered from 1001, and the video
    from sam2_studio.ui.export_dialog import ExportDialog

    out = tmp_path / "out"
    dialog = ExportDialog(w, w.doc, w.ctx.clip, w.ctx.frame)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.kind.setCurrentIndex(1)  # alpha mattes
    dialog.format.setCurrentIndex(dialog.format.findData("png8"))
    dialog.path.setText(str(out / "car.%04d.png"))
    dialog.start_number.setCurrentIndex(2)  # 1001
    for i in range(dialog.objects.count()):  # the car only
        item = dialog.objects.item(i)
        item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) == obj else Qt.CheckState.Unchecked)
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result_ is not None or dialog.error is not None, timeout=60_000)
    assert dialog.error is None and dialog.result_.frames == n
    assert dialog.open_folder.isVisible()
    files = sorted(out.glob("car.*.png"))
    assert [f.name for f in files] == [f"car.{1001 + i:04d}.png" for i in range(n)]
    for f in (0, 17, n - 1):
        matte = cv2.imread(str(out / f"car.{1001 + f:04d}.png"), cv2.IMREAD_UNCHANGED)
        assert matte.dtype == np.uint8 and matte.shape == car.shape
        assert np.array_equal(matte > 127, car_gt.labels[f] == 1), f

    dialog.kind.setCurrentIndex(0)  # the video
    dialog.format.setCurrentIndex(dialog.format.findData("h264"))
    dialog.path.setText(str(tmp_path / "car_export.mp4"))
    dialog.range_in_out.setChecked(False)
    dialog.range_all.setChecked(True)
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running and dialog.result_ is not None and dialog.result_.paths
                    and dialog.result_.paths[0].suffix == ".mp4", timeout=120_000)
    from sam2_studio.media import open_video

    with open_video(tmp_path / "car_export.mp4") as video:
        assert len(video) == n and video.size == (854, 480)
    dialog.close()

    # save (Ctrl+S asks where the first time) and reopen in a fresh window
    project = tmp_path / "car.s2s"
    from sam2_studio.ui import dialogs

    monkeypatch.setattr(dialogs, "choose_save_path", lambda parent, suggestion: project)
    key(qtbot, w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert project.is_file() and not w.isWindowModified() and w.windowTitle().startswith("car.s2s")
    reopened = open_project(project)
    assert [o.id for o in reopened.objects] == [obj, second]
    for f in (0, 30, n - 1):
        assert np.array_equal(reopened.mask(obj, f), car_gt.labels[f] == 1)
    assert reopened.mask(second, 30)[420, 130]


def _timeline_point(tl, frame: int):  # noqa: ANN001, ANN202
    from PySide6.QtCore import QPoint

    from sam2_studio.ui.timeline import RULER_H

    return QPoint(int(tl.x_of(frame + 0.5)), RULER_H + 10)


def test_reopening_a_project_in_the_editor_shows_its_masks(qtbot, make_window, car_gt, car_frames_dir, tmp_path):
    w = make_window()
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    x, y = centre_of(car_gt.labels[5] == 1)
    w.ctx.set_frame(5)
    wait_shown(qtbot, w, 5)
    key(qtbot, w, Qt.Key.Key_P)
    click_video(qtbot, w, x, y)
    wait_idle(qtbot, w)
    from sam2_studio.project import save

    save(w.doc, tmp_path / "p.s2s")
    w.close()

    w2 = make_window()
    assert w2.open_path(tmp_path / "p.s2s")
    assert [o.name for o in w2.doc.objects] == ["Object 1"]
    assert w2.doc.prompt_frames(1) == [5] and w2.timeline.lane_state(1)[5] == 1
    w2.ctx.set_frame(5)
    wait_shown(qtbot, w2, 5)
    assert 0.3 < tint_of(w2, *inside_away_from(car_gt.labels[5] == 1, (x, y)), car_gt.frames[5]) < 0.7


@pytest.mark.parametrize("negative", ["right", "alt"])
def test_negative_clicks(qtbot, window, car_gt, car_frames_dir, negative):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    click_object(qtbot, w, car_gt.labels[0] == 1)
    if negative == "right":
        click_video(qtbot, w, 50.0, 50.0, Qt.MouseButton.RightButton)
    else:
        click_video(qtbot, w, 50.0, 50.0, modifier=Qt.KeyboardModifier.AltModifier)
    wait_idle(qtbot, w)
    prompts = w.doc.prompts(1, 0)
    assert [p.positive for p in prompts] == [True, False]


def _saturation(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return rgb.max(axis=-1) - rgb.min(axis=-1)


def test_an_effect_previews_live_undoes_and_exports(qtbot, window, car_gt, car_frames_dir, tmp_path):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    car = car_gt.labels[0] == 1
    click_object(qtbot, w, car)
    key(qtbot, w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, w)
    obj = w.doc.objects[0].id

    # the most colourful background pixel of frame 0, well away from the car
    import cv2

    far = cv2.dilate(car.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    sat = _saturation(car_gt.frames[0])
    sat[far] = 0
    sat[:20], sat[-20:], sat[:, :20], sat[:, -20:] = 0, 0, 0, 0
    by, bx = np.unravel_index(int(np.argmax(sat)), sat.shape)
    assert sat[by, bx] > 60
    key(qtbot, w, Qt.Key.Key_V)  # masks off: look at the picture itself
    key(qtbot, w, Qt.Key.Key_V, Qt.KeyboardModifier.ShiftModifier)
    assert not w.ctx.show_overlay and not w.ctx.show_outlines

    # Add Effect › Colour pop (background), from the panel's menu
    panel = w.effects_panel
    action = next(a for a in panel.add_menu.actions() if a.text().startswith("Colour pop") and "background" in a.text())
    action.trigger()
    assert w.doc.history.undo_label == "Add Colour pop"
    stack = w.doc.object(obj).effects.value
    assert stack[0]["effect"] == "colour_pop" and stack[0]["target"] == "background"
    qtbot.waitUntil(lambda: w.picture._last is not None and w.picture._last.rendered is not None, timeout=10_000)
    shown = np.array(screen_rgb(w, bx + 0.5, by + 0.5))
    assert int(shown.max()) - int(shown.min()) < 12, "the background is grey"
    cx, cy = inside_away_from(car, centre_of(car))  # not under the click's marker
    src = car_gt.frames[0][int(cy), int(cx)].astype(int)
    assert np.abs(np.array(screen_rgb(w, cx, cy)) - src).max() < 12, "the car keeps its colours"

    # a parameter edited in the panel's form: some colour comes back, live
    slider = panel.findChild(QWidget, "param_saturation")
    slider.setValue(0.6)
    qtbot.waitUntil(lambda: w.doc.object(obj).effects.value[0]["params"]["saturation"] == 0.6, timeout=5000)
    qtbot.waitUntil(lambda: (lambda s: int(s.max()) - int(s.min()) > 20)(np.array(screen_rgb(w, bx + 0.5, by + 0.5))),
                    timeout=10_000)

    # before/after (\): the original picture, then the result again
    key(qtbot, w, Qt.Key.Key_Backslash)
    assert not w.ctx.show_effects
    qtbot.waitUntil(lambda: w.viewer.badge == "ORIGINAL", timeout=5000)
    key(qtbot, w, Qt.Key.Key_Backslash)
    qtbot.waitUntil(lambda: w.viewer.badge == "", timeout=5000)

    # matte view (A): white where the car is
    key(qtbot, w, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: w.viewer.badge.startswith("MATTE"), timeout=5000)
    assert screen_rgb(w, cx, cy) == (255, 255, 255) and screen_rgb(w, bx + 0.5, by + 0.5) == (0, 0, 0)
    key(qtbot, w, Qt.Key.Key_A)

    # export the finished video: grey background, colourful car, on every frame
    from sam2_studio.app.export import ExportKind, ExportSettings, run_export
    from sam2_studio.media import open_video

    w.effects_panel.finish_edit()
    reader = w.ctx.clip.open_reader()
    out = tmp_path / "pop.mp4"
    result = run_export(w.doc, reader, ExportSettings(ExportKind.VIDEO, out, 0, 5, crf=12), fps=w.doc.video.fps)
    reader.close()
    assert result.frames == 6
    with open_video(out) as video:
        f3 = video.read(3)
    m3 = car_gt.labels[3] == 1
    bg = ~cv2.dilate(m3.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert _saturation(f3)[bg].mean() < _saturation(car_gt.frames[3])[bg].mean() * 0.7
    inner = cv2.erode(m3.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert abs(_saturation(f3)[inner].mean() - _saturation(car_gt.frames[3])[inner].mean()) < 6

    # undo takes the edit and then the effect away; the picture is the original again
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.object(obj).effects.value == []
    qtbot.waitUntil(lambda: w.picture._last is not None and w.picture._last.rendered is None, timeout=10_000)


def test_a_box_segments_the_object_inside_it(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    car = car_gt.labels[0] == 1
    ys, xs = np.nonzero(car)
    key(qtbot, w, Qt.Key.Key_R)
    drag_video(qtbot, w, [(xs.min() - 5.0, ys.min() - 5.0), ((xs.min() + xs.max()) / 2, ys.mean()),
                          (xs.max() + 5.0, ys.max() + 5.0)])
    wait_idle(qtbot, w)
    (box,) = w.doc.prompts(1, 0)
    assert (box.x0, box.y1) == pytest.approx((xs.min() - 5.0, ys.max() + 5.0), abs=1.5)
    assert np.array_equal(w.doc.mask(1, 0), car)
    assert [m.kind for m in w.viewer._prompts] == ["box"]


def test_wheel_zoom_and_hand_pan_keep_clicks_on_the_right_pixels(qtbot, window, car_gt, car_frames_dir):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    v = w.viewer
    anchor = QPointF(v.to_widget(300.0, 200.0))
    wheel = QWheelEvent(anchor, v.mapToGlobal(anchor), QPoint(0, 0), QPoint(0, 360), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    scale = v.scale
    QApplication.sendEvent(v, wheel)
    assert v.scale == pytest.approx(scale * 1.25 ** 3)
    p = v.to_video(anchor)
    assert (p.x(), p.y()) == pytest.approx((300.0, 200.0), abs=0.01)  # zoomed around the mouse
    key(qtbot, w, Qt.Key.Key_H)
    before = v.to_video(QPointF(100, 100))
    drag_video(qtbot, w, [(300.0, 200.0), (280.0, 190.0)])
    after = v.to_video(QPointF(100, 100))
    assert after.x() == pytest.approx(before.x() + 20, abs=0.6) and after.y() == pytest.approx(before.y() + 10, abs=0.6)
    # a click still lands on the video pixel under the mouse
    key(qtbot, w, Qt.Key.Key_P)
    x, y = centre_of(car_gt.labels[0] == 1)
    click_video(qtbot, w, x, y)
    wait_idle(qtbot, w)
    (pt,) = w.doc.prompts(1, 0)
    assert (pt.x, pt.y) == pytest.approx((x, y), abs=1.0 / v.scale + 0.5)
