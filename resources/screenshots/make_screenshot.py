"""Take the README's screenshot from the real editor window under a virtual X server.

    xvfb-run -s "-screen 0 1440x900x24" .venv/bin/python resources/screenshots/make_screenshot.py

It opens the sample clip, segments the car by a click and tracks it both ways, adds a
colour-pop effect, and grabs the screen. No checkpoint can be downloaded on the build
machines, so the click is answered by the ground-truth test engine (tests/ground_truth.py,
masks from DAVIS 2016), and the status bar says so: the picture shows the editor, not the
quality of a model.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "editor.png"
DATA = ROOT.parent / "shared" / "data" / "davis16_car-shadow"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("SAM2_STUDIO_DATA_DIR", tempfile.mkdtemp(prefix="sam2-studio-shot-"))
    from PySide6.QtWidgets import QApplication

    from sam2_studio.app.settings import Settings
    from sam2_studio.ui.main_window import MainWindow
    from sam2_studio.ui.theme import apply_theme
    from tests.ground_truth import GroundTruthSource, load_clip

    app = QApplication(sys.argv[:1])
    app.setApplicationName("SAM2 Studio")
    apply_theme(app)
    w = MainWindow(Settings(), save_settings_on_close=False)
    w.setGeometry(0, 0, 1440, 900)
    w.show()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def until(predicate, seconds: float = 30.0) -> None:  # noqa: ANN001
        end = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > end:
                raise SystemExit("timed out")
            pump(0.02)

    assert w.open_path(ROOT / "resources" / "sample" / "car-shadow.mp4")
    gt = load_clip(DATA)
    w.load_model(GroundTruthSource(gt))
    until(lambda: w.tracker.has_model)
    import numpy as np

    ys, xs = np.nonzero(gt.labels[0] == 1)
    w.edit.click(float(np.median(xs)), float(np.median(ys)), True)
    until(lambda: w.doc.mask(1, 0) is not None)
    w.doc.update_object(1, name="Car")
    w.track("both")
    until(lambda: not w.tracker.running)
    sign = w.doc.add_object("Sign")
    w.ctx.set_active_object(1)
    w.effects_panel.add_effect("colour_pop")
    w.effects_panel.finish_edit()
    del sign
    w.ctx.set_frame(24)
    until(lambda: w.viewer.frame_index == 24 and w.picture._last is not None and w.picture._last.rendered is not None)
    pump(1.5)
    shot = app.primaryScreen().grabWindow(0)
    shot.save(str(OUT))
    print(f"{OUT} ({shot.width()}×{shot.height()})")
    w.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
