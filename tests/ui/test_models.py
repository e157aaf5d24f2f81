"""Without a checkpoint the editor still opens videos, paints, applies effects and exports;
the model dialog explains how to get one (download with progress, or a file) and the
device; random weights are always labelled."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from sam2_studio.app.models import ModelManager
from sam2_studio.ui import dialogs
from sam2_studio.ui.model_dialog import ModelDialog
from tests.app.conftest import PAYLOAD, Verifier, server, small_catalog  # noqa: F401 - server is a fixture
from tests.ui.conftest import drag_video, key, wait_shown
from tests.ui.test_responsiveness import SAMPLE


def test_without_a_model_the_editor_paints_applies_effects_and_exports(qtbot, window, tmp_path):
    w = window
    assert w.open_path(SAMPLE)
    wait_shown(qtbot, w, 0)
    assert not w.tracker.has_model
    assert "No model" in w.status.model.text()
    assert not w.actions["track_fwd"].isEnabled()
    assert "Needs a model" in w.actions["tool_point"].toolTip()
    key(qtbot, w, Qt.Key.Key_P)
    assert w.ctx.tool.value == "brush"
    assert "need a model" in w.status.currentMessage()
    # paint: an object is made for the first stroke
    drag_video(qtbot, w, [(300.0, 250.0), (420.0, 260.0), (500.0, 300.0)])
    mask = w.doc.mask(1, 0)
    assert mask is not None and mask[255, 360] and not mask[50, 50]
    # an effect and an export
    w.effects_panel.add_effect("pixelate")
    from sam2_studio.app.export import ExportKind, ExportSettings, run_export

    reader = w.ctx.clip.open_reader()
    result = run_export(w.doc, reader, ExportSettings(ExportKind.VIDEO, tmp_path / "x.mp4", 0, 2), fps=w.doc.video.fps)
    reader.close()
    assert result.frames == 3 and (tmp_path / "x.mp4").is_file()


def test_random_weights_are_labelled(qtbot, make_window, monkeypatch):
    monkeypatch.setenv("SAM2_STUDIO_RANDOM_WEIGHTS", "1")
    w = make_window()
    assert w.open_path(SAMPLE)
    qtbot.waitUntil(lambda: w.tracker.has_model, timeout=120_000)
    text = w.status.model.text()
    assert "RANDOM WEIGHTS" in text and "developer mode" in text
    assert "#ffaa00" in w.status.model.styleSheet()
    dialog = ModelDialog(w, w.model_manager(), w.tracker.state, w.settings)
    qtbot.addWidget(dialog)
    assert "not a trained model" in dialog.current.text() and "RANDOM WEIGHTS" in dialog.current.text()


def test_the_model_dialog_explains_and_lists(qtbot, window):
    dialog = ModelDialog(window, window.model_manager(), window.tracker.state, window.settings)
    qtbot.addWidget(dialog)
    dialog.show()
    text = " ".join(lbl.text() for lbl in dialog.findChildren(type(dialog.current)))
    assert "checkpoint" in text and "Download" in text and "brush" in text
    assert "No model is loaded" in dialog.current.text()
    assert dialog.table.rowCount() == 8
    assert dialog.table.item(0, 0).text() == "sam2_hiera_tiny" and dialog.table.item(0, 1).text() == "155.9 MB"
    assert dialog.device.itemText(0).startswith("Automatic — CPU")
    assert not dialog.use_button.isEnabled() and dialog.download_button.isEnabled()


def test_a_bad_checkpoint_file_is_refused_with_its_name(qtbot, window, tmp_path, no_blocking_questions):
    bad = tmp_path / "my-model.pt"
    bad.write_bytes(b"not a checkpoint")
    dialog = ModelDialog(window, window.model_manager(), window.tracker.state, window.settings)
    qtbot.addWidget(dialog)
    no_blocking_questions["checkpoint"] = bad
    qtbot.mouseClick(dialog.file_button, Qt.MouseButton.LeftButton)
    assert dialogs.last_error["path"] == str(bad)
    assert "not a PyTorch checkpoint" in dialogs.last_error["text"]


def test_download_with_progress_then_use(qtbot, window, tmp_path, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    manager = ModelManager(tmp_path / "models", verifier=Verifier(), mirror=server.url,
                           catalog=small_catalog(), chunk_size=16_384)
    dialog = ModelDialog(window, manager, window.tracker.state, window.settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.table.selectRow(0)
    assert dialog.selected_variant() == "sam2_hiera_tiny"
    progress = []
    dialog.progress.valueChanged.connect(progress.append)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog._downloading is None, timeout=20_000)
    assert progress and progress[-1] == 1000
    assert "installed" in dialog.table.item(0, 2).text()
    chosen = []
    dialog.chosen.connect(lambda source, variant, device: chosen.append((source, variant, device)))
    assert dialog.use_button.isEnabled()
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    source, variant, device = chosen[0]
    assert variant == "sam2_hiera_tiny" and source.path == manager.root / "sam2_hiera_tiny.pt" and device is None


def test_choosing_a_model_in_the_dialog_loads_it(qtbot, window, monkeypatch):
    from sam2_studio.app.model_source import RandomWeights

    window.model_dialog()
    dialog = window._model_dialog
    dialog.chosen.emit(RandomWeights(image_size=128), "sam2.1_hiera_tiny", "cpu")
    qtbot.waitUntil(lambda: window.tracker.has_model, timeout=120_000)
    assert window.settings.model_variant == "sam2.1_hiera_tiny" and window.settings.device == "cpu"
    assert "RANDOM WEIGHTS" in window.status.model.text()
