"""Editor tests: offscreen Qt, a private data folder, no blocking questions, the clip of
../shared/data with its ground truth, and helpers to drive the real widgets."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from sam2_studio.app.models import ModelManager
from sam2_studio.ui import dialogs
from tests.ground_truth import GroundTruthClip, GroundTruthSource, load_clip

CAR = "davis16_car-shadow"


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """No test touches the real user data folder, and no test runs on random weights by
    accident."""
    monkeypatch.setenv("SAM2_STUDIO_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.delenv("SAM2_STUDIO_RANDOM_WEIGHTS", raising=False)
    monkeypatch.delenv("SAM2_STUDIO_MODEL_MIRROR", raising=False)
    return tmp_path / "user-data"


@pytest.fixture(autouse=True)
def no_blocking_questions(monkeypatch):
    """Questions that would wait for a person get a scripted answer (tests may change it)."""
    answers = {"save": "discard", "locate": None, "save_path": None, "open_path": None, "checkpoint": None}
    monkeypatch.setattr(dialogs, "ask_save_changes", lambda parent, name: answers["save"])
    monkeypatch.setattr(dialogs, "ask_locate_video", lambda parent, project, missing: answers["locate"])
    monkeypatch.setattr(dialogs, "choose_save_path", lambda parent, suggestion: answers["save_path"])
    monkeypatch.setattr(dialogs, "choose_open_path", lambda parent, folder="", video_only=False: answers["open_path"])
    monkeypatch.setattr(dialogs, "choose_checkpoint", lambda parent: answers["checkpoint"])
    dialogs.last_error.update(title=None, text=None, path=None)
    return answers


@pytest.fixture(autouse=True)
def no_modal_loops(monkeypatch):
    """A modal dialog waits for a person: in a test it would hang. Fail instead."""
    from PySide6.QtWidgets import QColorDialog, QDialog, QFileDialog, QMessageBox

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a modal dialog was opened with exec(); tests must not block")

    monkeypatch.setattr(QDialog, "exec", refuse)
    monkeypatch.setattr(QMessageBox, "exec", refuse)
    monkeypatch.setattr(QMessageBox, "about", refuse)
    monkeypatch.setattr(QColorDialog, "getColor", refuse)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", refuse)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", refuse)


@pytest.fixture(scope="session")
def car_gt(data_dir) -> GroundTruthClip:
    return load_clip(data_dir / CAR)


@pytest.fixture(scope="session")
def car_frames_dir(data_dir) -> Path:
    return data_dir / CAR / "JPEGImages"


@pytest.fixture
def make_window(qtbot, tmp_path):
    from sam2_studio.app.settings import Settings
    from sam2_studio.ui.main_window import MainWindow

    windows = []

    def make(**kw):  # noqa: ANN003, ANN202
        kw.setdefault("model_manager", lambda: ModelManager(tmp_path / "models"))
        kw.setdefault("autosave_dir", tmp_path / "autosave")
        kw.setdefault("save_settings_on_close", False)
        w = MainWindow(Settings(), **kw)
        qtbot.addWidget(w)
        w.resize(1280, 800)
        w.show()
        qtbot.waitExposed(w)
        w.activateWindow()
        qtbot.waitActive(w)
        windows.append(w)
        return w

    yield make
    from PySide6.QtWidgets import QDialog

    for top in QApplication.topLevelWidgets():
        if isinstance(top, QDialog) and top.isVisible():
            top.close()
    for w in windows:
        if w.isVisible():
            w.shutdown()
            w.hide()


@pytest.fixture
def window(make_window):
    return make_window()


def wait_model(qtbot, w, timeout: int = 60_000) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: w.tracker.has_model, timeout=timeout)


def wait_shown(qtbot, w, frame: int, timeout: int = 10_000) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: w.viewer.frame_index == frame and w.viewer.has_picture, timeout=timeout)


def wait_idle(qtbot, w, timeout: int = 60_000) -> None:  # noqa: ANN001
    """Until the worker has run everything sent and the tracker has handled it."""
    qtbot.waitUntil(lambda: not w.tracker.running and w.worker.pending == 0, timeout=timeout)
    qtbot.wait(30)  # the last events are queued to the GUI thread: let them land


def open_with_ground_truth(qtbot, w, path: Path, gt: GroundTruthClip, delay_s: float = 0.0):  # noqa: ANN001, ANN201
    assert w.open_path(path)
    source = GroundTruthSource(gt, delay_s)
    w.load_model(source)
    wait_model(qtbot, w)
    wait_shown(qtbot, w, 0)
    return source


def click_object(qtbot, w, mask: np.ndarray) -> None:  # noqa: ANN001
    """With the point tool, a positive click well inside ``mask``; until the mask is back."""
    key(qtbot, w, Qt.Key.Key_P)
    click_video(qtbot, w, *centre_of(mask))
    wait_idle(qtbot, w)


def widget_point(w, x: float, y: float) -> QPoint:  # noqa: ANN001
    p: QPointF = w.viewer.to_widget(x, y)
    return QPoint(int(round(p.x())), int(round(p.y())))


def centre_of(mask: np.ndarray) -> tuple[float, float]:
    """A point well inside the mask: the foreground pixel farthest from the edge."""
    import cv2

    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x) + 0.5, float(y) + 0.5


def click_video(qtbot, w, x: float, y: float, button=Qt.MouseButton.LeftButton,  # noqa: ANN001
                modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(w.viewer, button, modifier, widget_point(w, x, y))


def drag_video(qtbot, w, points: list[tuple[float, float]]) -> None:  # noqa: ANN001
    """Press at the first point, move through the others, release at the last."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent

    v = w.viewer

    def send(kind, pos, buttons):  # noqa: ANN001
        p = QPointF(widget_point(w, *pos))
        ev = QMouseEvent(kind, p, v.mapToGlobal(p), Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(v, ev)

    send(QEvent.Type.MouseButtonPress, points[0], Qt.MouseButton.LeftButton)
    for pt in points[1:]:
        send(QEvent.Type.MouseMove, pt, Qt.MouseButton.LeftButton)
        qtbot.wait(5)
    send(QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton)


def key(qtbot, w, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:  # noqa: ANN001
    """A key press as the user makes it: to the focused widget of the (active) window."""
    if QApplication.activeWindow() is not w:  # a closed dialog leaves none active offscreen
        w.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=2000)
    target = QApplication.focusWidget() or w.viewer
    qtbot.keyClick(target, k, modifier)


def screen_rgb(w, x: float, y: float) -> tuple[int, int, int]:  # noqa: ANN001
    """The colour the viewer shows at video pixel (x, y)."""
    img = w.viewer.grab().toImage()
    p = widget_point(w, x, y)
    c = img.pixelColor(p)
    return c.red(), c.green(), c.blue()


def wait_for(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def tint_of(w, x: float, y: float, source: np.ndarray) -> float:  # noqa: ANN001
    """How far the shown pixel at (x, y) has moved from the source frame's pixel towards the
    active object's colour: 0 untouched, about the overlay opacity when tinted."""
    shown = np.array(screen_rgb(w, x, y), float)
    src = source[int(y), int(x)].astype(float)
    color = np.array(w.doc.object(w.ctx.active_object).color, float) if w.ctx.active_object else src
    towards = color - src
    denom = float(towards @ towards)
    return float((shown - src) @ towards / denom) if denom > 1 else 0.0


def inside_away_from(mask: np.ndarray, avoid: tuple[float, float], distance: float = 25.0) -> tuple[float, float]:
    """A point deep inside the mask but away from ``avoid`` (where a prompt marker is drawn)."""
    import cv2

    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
    dist[(xx - avoid[0]) ** 2 + (yy - avoid[1]) ** 2 < distance ** 2] = 0
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x) + 0.5, float(y) + 0.5
