"""The objects panel (add, select, rename, recolour, hide, lock, delete) and the effects
panel (add, edit, reorder, switch off, remove, refinement), through their widgets."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QColorDialog, QToolButton

from tests.ui.conftest import drag_video, key, wait_shown
from tests.ui.test_responsiveness import SAMPLE


def open_sample(qtbot, w):  # noqa: ANN001, ANN201
    assert w.open_path(SAMPLE)
    wait_shown(qtbot, w, 0)


def test_objects_panel_edits_go_through_the_document(qtbot, window, monkeypatch):
    w = window
    open_sample(qtbot, w)
    panel = w.objects_panel
    qtbot.mouseClick(panel.findChildren(QToolButton)[-2], Qt.MouseButton.LeftButton)  # + New Object
    key(qtbot, w, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: len(panel.rows()) == 2, timeout=2000)
    first, second = panel.rows()
    assert w.ctx.active_object == second.obj_id
    qtbot.mouseClick(first, Qt.MouseButton.LeftButton)
    assert w.ctx.active_object == first.obj_id
    # rename
    first.name.setFocus()
    first.name.selectAll()
    qtbot.keyClicks(first.name, "Runner")
    qtbot.keyClick(first.name, Qt.Key.Key_Return)
    assert w.doc.object(first.obj_id).name == "Runner"
    qtbot.waitUntil(lambda: panel.rows()[0].name.text() == "Runner", timeout=2000)
    # recolour
    from PySide6.QtGui import QColor

    monkeypatch.setattr(QColorDialog, "getColor", lambda *a, **k: QColor(10, 200, 30))
    qtbot.mouseClick(panel.rows()[0].color_button, Qt.MouseButton.LeftButton)
    assert w.doc.object(first.obj_id).color == (10, 200, 30)
    # hide and lock, by button and by shortcut
    qtbot.waitUntil(lambda: len(panel.rows()) == 2, timeout=2000)
    qtbot.mouseClick(panel.rows()[0].eye, Qt.MouseButton.LeftButton)
    assert not w.doc.object(first.obj_id).visible
    key(qtbot, w, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.object(first.obj_id).visible
    key(qtbot, w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.object(first.obj_id).locked
    # a locked object refuses the brush, and says why
    key(qtbot, w, Qt.Key.Key_B)
    drag_video(qtbot, w, [(100.0, 100.0), (150.0, 100.0)])
    assert w.doc.mask(first.obj_id, 0) is None and "locked" in w.status.currentMessage()
    qtbot.waitUntil(lambda: len(panel.rows()) == 2, timeout=2000)
    qtbot.mouseClick(panel.rows()[0].lock, Qt.MouseButton.LeftButton)
    assert not w.doc.object(first.obj_id).locked
    # delete (and undo brings it back with its masks)
    drag_video(qtbot, w, [(100.0, 100.0), (150.0, 100.0)])
    qtbot.waitUntil(lambda: len(panel.rows()) == 2, timeout=2000)
    qtbot.mouseClick(panel.rows()[0].findChild(QToolButton, "DeleteButton"), Qt.MouseButton.LeftButton)
    assert [o.id for o in w.doc.objects] == [second.obj_id]
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [o.name for o in w.doc.objects] == ["Runner", "Object 2"] and w.doc.mask(first.obj_id, 0)[100, 120]


def open_with_a_car(qtbot, w) -> None:  # noqa: ANN001
    """The sample open, with object 1 "Car" painted as a box on frame 0."""
    open_sample(qtbot, w)
    w.doc.add_object("Car")
    mask = np.zeros((480, 854), bool)
    mask[200:320, 320:620] = True
    w.doc.set_mask(1, 0, mask)


def test_effects_panel_stack_edits(qtbot, window):
    w = window
    open_with_a_car(qtbot, w)
    panel = w.effects_panel
    panel.add_effect("blur")
    panel.add_effect("pixelate")
    effects = lambda: [e["effect"] for e in w.doc.object(1).effects.value]  # noqa: E731
    assert effects() == ["blur", "pixelate"]
    assert panel.list.count() == 2 and panel.list.currentRow() == 1
    # a parameter of the selected effect
    block = panel.entry_form.widgets["block"]
    block.setValue(40)
    qtbot.waitUntil(lambda: w.doc.object(1).effects.value[1]["params"]["block"] == 40, timeout=3000)
    # reorder, switch off, remove
    panel.list.setCurrentRow(1)
    panel._move(-1)
    assert effects() == ["pixelate", "blur"]
    panel.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert w.doc.object(1).effects.value[1]["enabled"] is False
    panel.list.setCurrentRow(0)
    panel._remove()
    assert effects() == ["blur"]
    # refinement
    panel.refine_form.widgets["feather"].setValue(4.0)
    qtbot.waitUntil(lambda: (w.doc.object(1).refinement.value or {}).get("refine", {}).get("feather") == 4.0,
                    timeout=3000)
    panel.finish_edit()
    # each burst of edits is one undo step
    labels = []
    while w.doc.history.can_undo:
        labels.append(w.doc.history.undo_label)
        w.doc.undo()
    assert labels[:6] == ["Change refinement", "Remove effect", "Change effect", "Reorder effects",
                          "Change effect", "Add Pixelate"]


def test_the_preview_shows_an_effect_on_the_current_frame(qtbot, window):
    w = window
    open_with_a_car(qtbot, w)
    key(qtbot, w, Qt.Key.Key_V)
    key(qtbot, w, Qt.Key.Key_V, Qt.KeyboardModifier.ShiftModifier)
    w.effects_panel.add_effect("erase", None)
    qtbot.waitUntil(lambda: w.picture._last is not None and w.picture._last.rendered is not None, timeout=10_000)
    rendered = w.picture._last.rendered
    src = w.picture._last.source
    assert not np.array_equal(rendered[250, 400], src[250, 400])  # erased inside
    assert np.array_equal(rendered[50, 50], src[50, 50])  # untouched outside


@pytest.mark.slow
def test_the_detail_pass_previews_live_on_the_frame_shown(qtbot, window):
    """The refinement's Detail pass switch: the matte view shows the tracked mask at once and
    the model's closer look when the worker has it (random weights: only the plumbing)."""
    from sam2_studio.app.model_source import RandomWeights

    w = window
    open_with_a_car(qtbot, w)
    small = np.zeros((480, 854), bool)
    small[200:260, 400:500] = True  # one crop, one encoder run at 128 px
    w.doc.set_mask(1, 0, small)
    w.load_model(RandomWeights(image_size=128))
    qtbot.waitUntil(lambda: w.tracker.has_model, timeout=60_000)
    w.ctx.set_active_object(1)
    box = w.effects_panel.refine_form.widgets["detail"]
    assert "Detail pass" in box.toolTip() or "Detail pass" in box.text()
    key(qtbot, w, Qt.Key.Key_A)  # matte view
    box.setChecked(True)
    qtbot.waitUntil(lambda: w.doc.object(1).refinement.value["refine"]["detail"] is True, timeout=3000)
    tracked = w.doc.mask(1, 0)

    def detailed() -> bool:
        last = w.picture._last
        return last is not None and last.matte is not None and not np.array_equal(last.matte > 0.5, tracked)

    qtbot.waitUntil(detailed, timeout=120_000)  # the worker runs at a low priority: slow on a loaded machine
    assert w.detail.cache.get(1, 0, w.doc.encoded_mask(1, 0)) is not None
    assert np.array_equal(w.doc.mask(1, 0), tracked)  # the pass refines the output, not the document
