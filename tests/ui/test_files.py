"""Files: new/open/save as, recent files, drag and drop, the dirty marker, autosave and
recovery offered on start."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QPushButton

from sam2_studio.project import Autosaver, interrupted_sessions
from tests.ui.conftest import key, wait_shown
from tests.ui.test_responsiveness import SAMPLE


def test_dropping_a_video_opens_it(qtbot, window):
    w = window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SAMPLE))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:  # PySide6 6.12 takes a QPointF and deprecates QPoint; earlier ones take a QPoint
        enter = QDragEnterEvent(QPointF(50, 50), *args)
    except TypeError:
        enter = QDragEnterEvent(QPoint(50, 50), *args)
    QApplication.sendEvent(w, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, drop)
    qtbot.waitUntil(lambda: w.doc is not None, timeout=10_000)
    assert w.doc.video.path == SAMPLE and w.doc.video.frame_count == 40
    wait_shown(qtbot, w, 0)
    assert w.windowTitle() == "car-shadow.mp4[*] — SAM2 Studio"


def test_new_open_save_as_and_recent_files(qtbot, window, tmp_path, no_blocking_questions):
    w = window
    no_blocking_questions["open_path"] = SAMPLE
    key(qtbot, w, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # New Project from Video…
    assert w.doc is not None and not w.isWindowModified()
    w.doc.add_object("Car")
    assert w.isWindowModified()
    target = tmp_path / "first.s2s"
    no_blocking_questions["save_path"] = target
    key(qtbot, w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert target.is_file() and not w.isWindowModified()
    assert w.windowTitle() == "first.s2s[*] — SAM2 Studio"
    w.doc.update_object(1, name="Red car")
    assert w.isWindowModified()
    key(qtbot, w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # saves in place
    assert not w.isWindowModified()
    assert w.settings.recent_files[0] == str(target)
    # the recent menu lists it; opening from it asks to save nothing (clean) and opens
    w.files.fill_recent()
    titles = [a.text() for a in w.recent_menu.actions()]
    assert "first.s2s" in titles
    no_blocking_questions["open_path"] = target
    key(qtbot, w, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.path == target and w.doc.objects[0].name == "Red car"


def test_unsaved_work_asks_before_it_goes(qtbot, window, no_blocking_questions):
    w = window
    assert w.open_path(SAMPLE)
    w.doc.add_object("Mine")
    no_blocking_questions["save"] = "cancel"
    assert not w.open_path(SAMPLE)
    assert w.doc.objects[0].name == "Mine"
    w.close()
    assert w.isVisible(), "closing was cancelled"
    no_blocking_questions["save"] = "discard"
    w.close()
    assert not w.isVisible()


def test_autosave_and_recovery(qtbot, make_window, tmp_path):
    autosave_dir = tmp_path / "autosave"
    w = make_window(autosave_dir=autosave_dir)
    w.settings.autosave_interval_s = 0.0
    assert w.open_path(SAMPLE)
    w.autosaver.interval_s = 0.0
    w.doc.add_object("Unsaved car")
    mask = np.zeros((480, 854), bool)
    mask[100:200, 100:300] = True
    w.doc.set_mask(1, 7, mask)
    qtbot.waitUntil(lambda: w.autosaver.saves >= 1, timeout=10_000)
    w.autosaver.wait()
    # the editor dies without closing: its lock goes, its autosave stays
    folder = w.autosaver.directory
    w.autosaver._lock.close()
    w.autosaver._lock = None
    w.autosaver = None
    w.hide()
    sessions = interrupted_sessions(autosave_dir)
    assert [s.directory for s in sessions] == [folder]

    w2 = make_window(autosave_dir=autosave_dir)
    assert w2.recover(sessions[0])
    doc = w2.doc
    assert doc.objects[0].name == "Unsaved car" and np.array_equal(doc.mask(1, 7), mask)
    assert w2.isWindowModified() and doc.path is None
    # until the recovered work is saved or closed cleanly, the autosave is kept
    assert folder.is_dir()
    w2.shutdown()
    assert not folder.exists()


def test_the_recovery_dialog_offers_recover_discard_later(qtbot, tmp_path):
    from sam2_studio.project import Document, VideoInfo
    from sam2_studio.ui.recovery_dialog import RecoveryDialog

    from fractions import Fraction

    doc = Document(VideoInfo.from_file(SAMPLE, width=854, height=480, frame_count=40, fps=Fraction(24)))
    saver = Autosaver(doc, tmp_path / "a", interval_s=0)
    doc.add_object("x")
    saver.save_now()
    saver.wait()
    saver._lock.close()
    saver._lock = None
    sessions = interrupted_sessions(tmp_path / "a")
    dialog = RecoveryDialog(None, sessions)
    qtbot.addWidget(dialog)
    dialog.show()
    assert "car-shadow" in dialog.list.item(0).text()
    qtbot.mouseClick(dialog.findChild(QPushButton, "DiscardButton"), Qt.MouseButton.LeftButton)
    assert dialog.choice == ("discard", sessions[0])


def test_settings_are_remembered(tmp_path, private_data_dir):
    from sam2_studio.app.settings import Settings, load_settings, save_settings

    s = Settings()
    s.add_recent(SAMPLE)
    s.overlay_opacity = 0.3
    save_settings(s)
    again = load_settings()
    assert again.recent_files == [str(SAMPLE)] and again.overlay_opacity == 0.3
    (private_data_dir / "settings.json").write_text("{not json")
    assert load_settings() == Settings()
