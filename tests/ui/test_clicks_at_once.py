"""Clicks that answer at once: the playhead resting on a frame asks the worker to prepare a
click there, scrubbing and playing do not; a click during a run is answered while it runs."""

from __future__ import annotations

from PySide6.QtCore import Qt

from sam2_studio.app.worker import Prefetch
from tests.ui.conftest import centre_of, click_object, click_video, key, open_with_ground_truth, wait_idle, wait_shown


def spy(w) -> list:  # noqa: ANN001
    sent: list = []
    real = w.worker.submit
    w.worker.submit = lambda c: (sent.append(c), real(c))
    return sent


def test_resting_on_a_frame_prefetches_it_and_scrubbing_does_not(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    w.doc.add_object()
    wait_idle(qtbot, w)
    sent = spy(w)
    assert w.playhead_rest._timer.interval() == 250
    w.playhead_rest._timer.setInterval(1000)  # margin for a loaded test machine
    for f in range(1, 12):  # scrubbing: a frame every 40 ms never rests long enough
        w.ctx.set_frame(f)
        qtbot.wait(40)
    assert not [c for c in sent if isinstance(c, Prefetch)]
    qtbot.waitUntil(lambda: any(isinstance(c, Prefetch) for c in sent), timeout=3000)
    assert [c for c in sent if isinstance(c, Prefetch)] == [Prefetch(11, w.ctx.active_object)]
    qtbot.wait(1200)
    assert len([c for c in sent if isinstance(c, Prefetch)]) == 1, "one rest, one prefetch"


def test_without_a_model_nothing_is_prefetched(qtbot, window, car_frames_dir):
    w = window
    assert w.open_path(car_frames_dir)
    wait_shown(qtbot, w, 0)
    sent = spy(w)
    w.ctx.set_frame(3)
    qtbot.wait(500)
    assert not [c for c in sent if isinstance(c, Prefetch)]


def test_a_click_during_a_run_is_answered_while_it_runs(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt, delay_s=0.15)
    click_object(qtbot, w, car_gt.labels[0] == 1)
    key(qtbot, w, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: len(w.doc.mask_frames(1)) >= 2, timeout=20_000)
    w.ctx.set_frame(30)
    wait_shown(qtbot, w, 30)
    x, y = centre_of(car_gt.labels[30] == 1)
    click_video(qtbot, w, x, y, Qt.MouseButton.RightButton)  # a negative click on frame 30
    assert w.doc.prompts(1, 30), "the click was refused during the run"
    qtbot.waitUntil(lambda: w.doc.mask(1, 30) is not None, timeout=20_000)
    assert w.tracker.running, "answered after the run, not during it"
    w.cancel()
    wait_idle(qtbot, w)
