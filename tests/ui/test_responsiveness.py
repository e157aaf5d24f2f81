"""The GUI never blocks: the event loop keeps ticking while the real engine (random weights,
small input) loads, answers clicks and tracks; scrubbing shows frames quickly; memory is
reported. Figures are printed for the record (run with -s)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from sam2_studio.app.model_source import RandomWeights
from tests.ui.conftest import click_video, key, wait_idle, wait_model, wait_shown

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "car-shadow.mp4"
MAX_STALL_MS = 100


class StallMeter:
    """A 10 ms timer on the GUI thread; the largest gap between its ticks is the longest
    the event loop was blocked."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = 0.0

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self.clock.start()
        self._last = 0.0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return max(self.gaps) if self.gaps else 0.0


@pytest.mark.slow
def test_event_loop_stays_responsive_while_the_real_engine_tracks(qtbot, window):
    w = window
    assert w.open_path(SAMPLE)
    wait_shown(qtbot, w, 0)
    meter = StallMeter()
    meter.start()
    w.load_model(RandomWeights(image_size=256))
    wait_model(qtbot, w, timeout=120_000)
    assert w.status.model.text().startswith("⚠ RANDOM WEIGHTS"), "random weights are labelled as such"
    w.doc.set_frame_range(0, 11)
    key(qtbot, w, Qt.Key.Key_P)
    click_video(qtbot, w, 480.0, 300.0)
    wait_idle(qtbot, w, timeout=120_000)
    assert w.doc.mask(1, 0) is not None
    t0 = time.perf_counter()
    key(qtbot, w, Qt.Key.Key_T)
    seen_progress = []
    qtbot.waitUntil(lambda: seen_progress.append(w.status.job.text()) or not w.tracker.running, timeout=180_000)
    seconds = time.perf_counter() - t0
    worst = meter.stop()
    assert w.doc.mask_frames(1) == list(range(12))
    assert any("Track forward" in t and "fps" in t for t in seen_progress), seen_progress[-3:]
    print(f"\n[responsiveness] tracked 11 frames in {seconds:.1f} s on the real engine "
          f"(random weights, 256 px); {len(meter.gaps)} ticks, largest event-loop stall {worst:.0f} ms, "
          f"median gap {np.median(meter.gaps):.1f} ms")
    assert worst < MAX_STALL_MS, f"the event loop stalled for {worst:.0f} ms"


def test_scrubbing_shows_frames_quickly(qtbot, window):
    w = window
    assert w.open_path(SAMPLE)
    wait_shown(qtbot, w, 0)
    w.doc.add_object()
    mask = np.zeros((480, 854), bool)
    mask[200:300, 300:500] = True
    w.doc.set_masks({(1, f): mask for f in range(40)})
    latencies = []
    w.viewer.painted.connect(lambda frame, ms: latencies.append(ms))
    order = [5, 30, 12, 39, 0, 21, 8, 33, 17, 26]  # random access: every step a seek
    for f in order:
        w.ctx.set_frame(f)
        wait_shown(qtbot, w, f)
        qtbot.wait(1)
    assert len(latencies) >= len(order)
    cold = sorted(latencies)
    for f in order:  # again: from the frame cache
        w.ctx.set_frame(f)
        wait_shown(qtbot, w, f)
    warm = sorted(latencies[len(cold):])
    print(f"\n[scrub] H.264 854x480 with a mask overlay, random frames: median {np.median(cold):.1f} ms, "
          f"worst {cold[-1]:.1f} ms from the decoder; cached median {np.median(warm):.1f} ms")
    # A figure for the record, not an assertion: timings belong in benchmarks (a loaded CI
    # machine would make it flaky). The event-loop stall above is asserted because the issue
    # makes it a requirement. What this test checks is that every random seek reaches the screen.


def test_status_bar_reports_memory(window):
    from sam2_studio.app.memory import resident_bytes

    text = window.status.memory.text()
    assert text.startswith("RAM ") and resident_bytes() > 50e6


@pytest.mark.slow
def test_the_real_engine_through_the_editor(qtbot, window):
    """Plumbing with the real engine (random weights at 128 px): click, track both ways
    inside in/out, correct with the brush, re-track, undo."""
    w = window
    assert w.open_path(SAMPLE)
    w.load_model(RandomWeights(image_size=128))
    wait_model(qtbot, w, timeout=120_000)
    w.doc.set_frame_range(0, 3)
    w.ctx.set_frame(2)
    wait_shown(qtbot, w, 2)
    key(qtbot, w, Qt.Key.Key_P)
    click_video(qtbot, w, 480.0, 300.0)
    wait_idle(qtbot, w, timeout=120_000)
    assert w.doc.mask(1, 2) is not None and w.doc.history.undo_label == "Add point"
    key(qtbot, w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, w, timeout=180_000)
    assert w.doc.mask_frames(1) == [0, 1, 2, 3] and w.doc.history.undo_label == "Track both ways"
    before = w.doc.mask(1, 3)
    # a brush correction on frame 1: a mask prompt; frames around it go stale, then track again
    w.ctx.set_frame(1)
    wait_shown(qtbot, w, 1)
    key(qtbot, w, Qt.Key.Key_B)
    from tests.ui.conftest import drag_video

    drag_video(qtbot, w, [(100.0, 100.0), (200.0, 120.0)])
    wait_idle(qtbot, w, timeout=120_000)
    assert w.doc.mask(1, 1)[105, 150] and w.doc.prompt_frames(1) == [1, 2]
    key(qtbot, w, Qt.Key.Key_T)
    wait_idle(qtbot, w, timeout=180_000)
    assert w.doc.history.undo_label == "Track forward"
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(w.doc.mask(1, 3), before)
    assert not [m for m in w.status.findChildren(type(w.status.job)) if "failed" in m.text().lower()]
