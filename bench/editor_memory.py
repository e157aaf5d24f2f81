"""Editor memory over a long track: does the editor's RSS stay flat in clip length?

The offscreen editor (the real main window, worker and tracker) with the real engine on
random weights at a small working size tracks a synthetic 1080p clip whose masks are noisy
(random weights on a noise texture: ~30 kB per compressed mask, like hair or foliage).
RSS is sampled every ``--every`` tracked frames; the growth after ``--warmup`` frames is the
slope of a line fitted through the samples, in MB per 1000 frames (goal <= 50). Then the
speed of what the user does with the masks afterwards: scrubbing random frames (the viewer's
time from asking for a frame to painting it with its mask overlay), a matte export, a save.

    .venv/bin/python bench/editor_memory.py [--frames 3000] [--size 256] [--clip /tmp/x.mp4]

The clip is made once (``--clip`` keeps it between runs). Figures depend on the machine and
its load: report CPU time beside wall time.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from common import rss_mb  # noqa: I001


def make_clip(path: Path, frames: int, size: tuple[int, int], fps: int = 30) -> Path:
    """A noise texture drifting under a moving bright disc, H.264, made frame by frame."""
    import av
    import cv2

    if path.is_file():
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            if s.frames == frames and (s.width, s.height) == size:
                return path
    w, h = size
    rng = np.random.default_rng(0)
    texture = (rng.random((h // 8 + 64, w // 8 + 64, 3)) * 255).astype(np.uint8)
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.options = {"preset": "ultrafast", "crf": "30"}
    for i in range(frames):
        dx, dy = i % 64, (i // 3) % 64
        small = np.ascontiguousarray(texture[dy:dy + h // 8, dx:dx + w // 8])
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        cx, cy = int(w / 2 + w / 3 * np.sin(i / 50)), int(h / 2 + h / 4 * np.cos(i / 70))
        cv2.circle(img, (cx, cy), h // 6, (250, 240, 30), -1)
        out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
    out.mux(stream.encode(None))
    out.close()
    return path


def pump(app, until, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if until():
            return True
        time.sleep(0.005)
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000, help="frames of the synthetic clip")
    ap.add_argument("--track", type=int, default=0, help="frames to track (0: all)")
    ap.add_argument("--size", type=int, default=256, help="the model's working size")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--every", type=int, default=100, help="sample RSS every N tracked frames")
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--clip", type=Path, default=None, help="where to keep the synthetic clip")
    ap.add_argument("--scrub", type=int, default=60, help="random frames to scrub to")
    ap.add_argument("--export", type=int, default=200, help="frames of matte export")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (1 on a shared machine: 2 threads there spin and run 5x slower)")
    args = ap.parse_args()

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="editor-memory-"))
    os.environ["SAM2_STUDIO_DATA_DIR"] = str(work / "user-data")
    os.environ.pop("SAM2_STUDIO_RANDOM_WEIGHTS", None)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    clip_path = args.clip or work / "clip.mp4"
    t = time.perf_counter()
    make_clip(clip_path, args.frames, (args.width, args.height))
    print(f"clip: {clip_path} ({args.frames} frames {args.width}x{args.height}, "
          f"{clip_path.stat().st_size / 2**20:.0f} MB, ready in {time.perf_counter() - t:.0f} s)", flush=True)

    from PySide6.QtWidgets import QApplication

    from sam2_studio.app.model_source import RandomWeights
    from sam2_studio.app.models import ModelManager
    from sam2_studio.app.settings import Settings
    from sam2_studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    w = MainWindow(Settings(), model_manager=lambda: ModelManager(work / "models"),
                   autosave_dir=work / "autosave", save_settings_on_close=False)
    w.resize(1280, 800)
    w.show()
    base = rss_mb()
    assert w.open_path(clip_path)
    w.load_model(RandomWeights(image_size=args.size))
    assert pump(app, lambda: w.tracker.has_model, 300), "the model did not load"
    doc = w.doc
    if args.track:
        doc.set_frame_range(0, args.track - 1)
    obj = doc.add_object()
    with w.tracker.answering():
        doc.add_point(obj.id, 0, args.width / 2, args.height / 2)
    assert pump(app, lambda: doc.mask(obj.id, 0) is not None and w.worker.pending == 0, 300)
    first = doc.encoded_mask(obj.id, 0)
    print(f"editor: RSS {base:.0f} MB before the clip; first mask {len(first.data) / 1024:.1f} kB compressed, "
          f"area {first.area / (args.width * args.height):.2f}", flush=True)

    samples: list[tuple[int, float, float, float]] = []
    t0, c0 = time.perf_counter(), time.process_time()

    def on_frame(frame: int) -> None:
        if frame % args.every == 0:
            gc.collect()
            samples.append((frame, rss_mb(), time.perf_counter() - t0, time.process_time() - c0))
            f, m, wall, cpu = samples[-1]
            print(f"  frame {f:5d}  RSS {m:7.0f} MB  {f / max(wall, 1e-9):5.2f} frames/s  "
                  f"(cpu {cpu:6.0f} s)", flush=True)

    w.tracker.frame_written.connect(on_frame)
    w.track("forward")
    assert pump(app, lambda: not w.tracker.running, 24 * 3600), "tracking did not end"
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tracked = len(doc.mask_frames(obj.id))
    print(f"tracked {tracked} frames in {wall:.0f} s ({tracked / wall:.2f} frames/s, cpu {cpu:.0f} s)")
    warm = [(f, m) for f, m, _, _ in samples if f >= args.warmup]
    if len(warm) > 2:
        slope = np.polyfit([f for f, _ in warm], [m for _, m in warm], 1)[0] * 1000
        print(f"RSS growth after frame {args.warmup}: {slope:.1f} MB per 1000 frames (goal <= 50); "
              f"RSS {samples[0][1]:.0f} MB at frame {samples[0][0]}, {samples[-1][1]:.0f} MB at frame "
              f"{samples[-1][0]}, peak {max(m for _, m, _, _ in samples):.0f} MB")
    store = getattr(doc, "mask_store", None)
    if store is not None:
        on_disk = sum(p.stat().st_size for p in store.path.parent.glob(store.path.name + "*"))
        print(f"mask store: {on_disk / 2**20:.0f} MB on disk ({store.path}), {store.cached_bytes / 2**20:.0f} MB "
              f"cached in RAM; undo history {doc.history.nbytes / 2**20:.1f} MB")
    else:
        print(f"masks in RAM (no mask store); undo history {doc.history.nbytes / 2**20:.1f} MB")
    sizes = [len(doc.encoded_mask(obj.id, f).data) for f in range(0, tracked, max(1, tracked // 50))]
    print(f"compressed mask size: median {statistics.median(sizes) / 1024:.1f} kB")

    # -- scrub: random frames, each a seek and a decoded overlay ---------------------------------
    latencies: list[float] = []
    w.viewer.painted.connect(lambda frame, ms: latencies.append(ms))
    rng = random.Random(0)
    order = [rng.randrange(tracked) for _ in range(args.scrub)]
    c = time.process_time()
    for f in order:
        w.ctx.set_frame(f)
        pump(app, lambda f=f: w.viewer.frame_index == f and w.viewer.has_picture, 30)
    scrub_cpu = (time.process_time() - c) / len(order)
    print(f"scrub: {len(latencies)} random frames, median {statistics.median(latencies):.1f} ms, "
          f"p90 {sorted(latencies)[int(len(latencies) * 0.9)]:.1f} ms (cpu {scrub_cpu * 1000:.0f} ms a frame)")

    # -- export: mattes as PNG, and the COCO masklets (every mask decoded) ------------------------
    from sam2_studio.app.export import ExportKind, ExportSettings, run_export

    n = min(args.export, tracked)
    reader = w.ctx.clip.open_reader()
    for kind, name, extra in ((ExportKind.MATTES, "mattes/m.%04d.png", {"matte_format": "png8"}),
                              (ExportKind.MASKLETS, "masklets.json", {})):
        settings = ExportSettings(kind, work / name, 0, n - 1, (obj.id,), **extra)
        (work / name).parent.mkdir(exist_ok=True)
        c = time.process_time()
        result = run_export(doc, reader, settings, fps=Fraction(30))
        print(f"export {kind.value}: {n} frames in {result.seconds:.1f} s ({n / result.seconds:.1f} frames/s, "
              f"cpu {time.process_time() - c:.1f} s)")
    reader.close()

    # -- save: every mask into the project file --------------------------------------------------
    from common import PeakRss

    from sam2_studio.project import save

    with PeakRss() as peak:
        t, c = time.perf_counter(), time.process_time()
        save(doc, work / "project.s2s")
        seconds, cpu_s = time.perf_counter() - t, time.process_time() - c
    print(f"save: {(work / 'project.s2s').stat().st_size / 2**20:.0f} MB in {seconds:.1f} s (cpu {cpu_s:.1f} s), "
          f"RSS +{peak.growth:.0f} MB at peak")
    print(f"final RSS {rss_mb():.0f} MB; work folder {work}")
    w.shutdown()


if __name__ == "__main__":
    main()
