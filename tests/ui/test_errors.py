"""Errors a user can act on: a clear message naming the file and the problem, and nothing
the user made is lost."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from sam2_studio.app.model_source import CheckpointFile
from sam2_studio.ui import dialogs
from tests.ui.conftest import click_object, key, open_with_ground_truth, wait_idle
from tests.ui.test_responsiveness import SAMPLE


def shown_error() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    return boxes[-1] if boxes else None


def test_a_corrupt_video_is_refused_and_the_open_work_stays(qtbot, window, car_gt, car_frames_dir, tmp_path):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    w.doc.add_object("Mine")
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    assert not w.open_path(bad)
    box = shown_error()
    assert box is not None and "holiday.mp4" in box.text()
    assert dialogs.last_error["path"] == str(bad) and dialogs.last_error["text"]
    assert [o.name for o in w.doc.objects] == ["Mine"]  # the open project is untouched
    box.close()


def test_a_bad_project_file_is_named(qtbot, window, tmp_path):
    w = window
    bad = tmp_path / "broken.s2s"
    bad.write_text('{"format": "something else"}')
    assert not w.open_path(bad)
    assert dialogs.last_error["path"] == str(bad)
    assert "not a SAM2 Studio project" in dialogs.last_error["text"]
    assert w.doc is None


def test_a_project_whose_video_moved_asks_for_it(qtbot, window, tmp_path, no_blocking_questions):
    import shutil

    from sam2_studio.app.clip import open_clip
    from sam2_studio.project import Document, save

    video = tmp_path / "a" / "clip.mp4"
    video.parent.mkdir()
    shutil.copy(SAMPLE, video)
    clip = open_clip(video)
    doc = Document(clip.video_info())
    doc.add_object("Car")
    clip.close()
    (tmp_path / "p").mkdir()
    save(doc, tmp_path / "p" / "project.s2s")
    moved = tmp_path / "elsewhere.mp4"
    video.rename(moved)
    no_blocking_questions["locate"] = None  # the user gives up: nothing opens
    assert not window.open_path(tmp_path / "p" / "project.s2s")
    no_blocking_questions["locate"] = moved
    assert window.open_path(tmp_path / "p" / "project.s2s")
    assert window.doc.video.path == moved and [o.name for o in window.doc.objects] == ["Car"]


def test_a_wrong_checkpoint_is_named_in_a_dialog(qtbot, window, tmp_path):
    w = window
    bad = tmp_path / "sam2.1_hiera_tiny.pt"
    bad.write_bytes(b"<html>404</html>")
    w.load_model(CheckpointFile(bad))
    qtbot.waitUntil(lambda: w.tracker.state.model_error is not None, timeout=30_000)
    assert dialogs.last_error["path"] == str(bad)
    assert "not a PyTorch checkpoint" in dialogs.last_error["text"]
    assert "failed" in w.status.model.text().lower()


def test_out_of_memory_while_tracking_is_shown_and_the_session_goes_on(qtbot, window, car_gt, car_frames_dir):
    w = window
    source = open_with_ground_truth(qtbot, w, car_frames_dir, car_gt)
    click_object(qtbot, w, car_gt.labels[0] == 1)
    source.sessions[-1].fail_next = "CUDA out of memory. Tried to allocate 3.00 GiB"
    key(qtbot, w, Qt.Key.Key_T)
    wait_idle(qtbot, w)
    assert "out of memory" in dialogs.last_error["text"] and "smaller model" in dialogs.last_error["text"]
    assert w.doc.mask_frames(1) == [0] and not w.doc.history.in_group
    shown_error().close()  # the user reads it and closes it
    key(qtbot, w, Qt.Key.Key_T)
    wait_idle(qtbot, w)
    assert len(w.doc.mask_frames(1)) == len(car_gt.frames)
    assert np.array_equal(w.doc.mask(1, 7), car_gt.labels[7] == 1)


def test_esc_cancels_tracking_and_keeps_what_was_done(qtbot, window, car_gt, car_frames_dir):
    w = window
    open_with_ground_truth(qtbot, w, car_frames_dir, car_gt, delay_s=0.05)
    click_object(qtbot, w, car_gt.labels[0] == 1)
    key(qtbot, w, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: len(w.doc.mask_frames(1)) >= 4, timeout=10_000)
    assert w.status.job.isVisible() and "Track forward" in w.status.job.text()
    assert not w.actions["undo"].isEnabled()  # no undo in the middle of a run
    key(qtbot, w, Qt.Key.Key_Escape)
    wait_idle(qtbot, w)
    done = len(w.doc.mask_frames(1))
    assert 4 <= done < len(car_gt.frames)
    assert not w.status.job.isVisible() and w.actions["undo"].isEnabled()
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the run is one step
    assert w.doc.mask_frames(1) == [0]
