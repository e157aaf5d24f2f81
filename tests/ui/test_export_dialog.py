"""The export dialog's multi-layer EXR and Cryptomatte choices, through its widgets."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_studio.app.export import ExportKind
from tests.ui.test_panels import open_with_a_car

OpenEXR = pytest.importorskip("OpenEXR")


def test_layered_exr_from_the_dialog(qtbot, window, tmp_path):
    from sam2_studio.ui.export_dialog import ExportDialog

    w = window
    open_with_a_car(qtbot, w)
    d = ExportDialog(w, w.doc, w.ctx.clip, 0, detail=w.detail)
    qtbot.addWidget(d)
    d.kind.setCurrentIndex(d.kind.findData(ExportKind.MATTES))
    d.format.setCurrentIndex(d.format.findData("cryptomatte"))
    assert d.path.text().endswith("_crypto.%04d.exr") and d.exr_compression.isEnabled()
    dwaa = d.exr_compression.findData("dwaa")
    assert not d.exr_compression.model().item(dwaa).isEnabled()  # lossy: the IDs would change
    d.format.setCurrentIndex(d.format.findData("exr-layers"))
    assert d.exr_compression.model().item(dwaa).isEnabled() and not d.separate.isEnabled()
    d.exr_compression.setCurrentIndex(dwaa)
    d.exr_rgb.setChecked(True)
    d.range_current.setChecked(True)
    d.start_number.setCurrentIndex(d.start_number.findData(1001))
    d.path.setText(str(tmp_path / "shot.%04d.exr"))
    s = d.settings()
    assert (s.matte_format, s.exr_compression, s.exr_half, s.exr_rgb) == ("exr-layers", "dwaa", True, True)
    d.start()
    assert d.wait(60) and d.error is None, d.error
    qtbot.waitUntil(lambda: d.result_ is not None, timeout=5000)
    with OpenEXR.File(str(tmp_path / "shot.1001.exr"), separate_channels=True) as f:
        ch = {k: np.array(v.pixels) for k, v in f.channels().items()}
    assert sorted(ch) == ["B", "Car.A", "G", "R"]
    assert np.array_equal(ch["Car.A"] == 1, w.doc.mask(1, 0))
