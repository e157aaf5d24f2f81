"""Media layer timings on a generated 1080p H.264 clip.

Prints: index (open) time, sequential decode fps, random-seek latency (median, p95),
100-thumbnail strip time (quick and exact), H.264 export fps and PNG-16 matte export fps,
plus COCO RLE encode/decode time. Goals on 2 cores: seek <= 100 ms median, sequential
decode >= 120 fps, H.264 export >= 30 fps.

    .venv/bin/python bench/media.py [--seconds 10] [--gop-seconds 2] [--profile seek]

Other programs on the machine share its cores: rerun when the figures look noisy.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sam2_studio.media import (  # noqa: E402
    H264,
    MatteExport,
    MatteFormat,
    MatteWriter,
    RleMask,
    VideoWriter,
    iter_thumbnails,
    open_video,
)

SIZE = (1920, 1080)
FPS = 30


def make_clip(path: Path, seconds: float, gop_seconds: float, data_dir: Path) -> Path:
    """A slow zoom and pan over the DAVIS car frames: camera-like motion and detail."""
    files = sorted((data_dir / "davis16_car-shadow" / "JPEGImages").glob("*.jpg"))
    base = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]
    n = int(seconds * FPS)
    out = av.open(str(path), "w")
    s = out.add_stream("libx264", rate=FPS)
    s.width, s.height, s.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    g = str(int(gop_seconds * FPS))
    s.options = {"crf": "20", "preset": "veryfast", "g": g, "keyint_min": g, "sc_threshold": "0"}
    rng = np.random.default_rng(0)
    for i in range(n):
        src = base[(i // 2) % len(base)]
        zoom = 1.0 + 0.15 * (0.5 + 0.5 * np.sin(i / 40))
        h, w = src.shape[:2]
        cw, ch = int(w / zoom), int(h / zoom)
        x0 = int((w - cw) * (0.5 + 0.5 * np.sin(i / 55)))
        y0 = int((h - ch) * (0.5 + 0.5 * np.cos(i / 70)))
        img = cv2.resize(src[y0 : y0 + ch, x0 : x0 + cw], SIZE, interpolation=cv2.INTER_CUBIC)
        img = cv2.add(img, rng.integers(0, 6, img.shape, dtype=np.uint8))  # sensor-like grain
        out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
    out.mux(s.encode(None))
    out.close()
    return path


_cpu = [0.0]  # CPU seconds (all threads of this process) of the last timed call


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of ``fn()``; its CPU seconds land in ``_cpu[0]``."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    _cpu[0] = time.process_time() - c
    return time.perf_counter() - t


def load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"


def soft_matte(i: int) -> np.ndarray:
    yy, xx = np.ogrid[: SIZE[1], : SIZE[0]]
    cx, cy = 700 + 8 * i, 540
    d = np.sqrt(((xx - cx) / 400.0) ** 2 + ((yy - cy) / 300.0) ** 2)
    return np.clip((1.0 - d) * 20.0, 0.0, 1.0).astype(np.float32)  # feathered ellipse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10 s = 300 frames)")
    ap.add_argument("--gop-seconds", type=float, default=2.0, help="keyframe interval of the clip")
    ap.add_argument("--seeks", type=int, default=100)
    ap.add_argument("--export-frames", type=int, default=150)
    ap.add_argument("--preset", default=H264().preset, help="x264 preset for the export figure")
    ap.add_argument("--profile", choices=["decode", "seek", "export", "png16"], help="cProfile one section")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    t = time.perf_counter()
    clip = make_clip(work / "clip_1080p.mp4", args.seconds, args.gop_seconds, args.data)
    print(f"clip: {clip.stat().st_size / 1e6:.1f} MB, 1920x1080 H.264 {FPS} fps, {args.seconds:g} s, "
          f"GOP {args.gop_seconds:g} s (made in {time.perf_counter() - t:.1f} s)")

    def profiled(section: str, fn: Callable[[], object]) -> float:
        if args.profile != section:
            return timed(fn)
        prof = cProfile.Profile()
        t0, c0 = time.perf_counter(), time.process_time()
        prof.runcall(fn)
        took = time.perf_counter() - t0
        _cpu[0] = time.process_time() - c0
        pstats.Stats(prof).sort_stats("cumulative").print_stats(18)
        return took

    print(f"{os.cpu_count()} cores, {load()} (other programs share them: rerun when noisy)")
    results: list[tuple[str, str, str]] = []
    open_s = timed(lambda: open_video(clip).close())
    results.append(("open + packet index", f"{open_s * 1000:.0f} ms", ""))

    with open_video(clip) as r:
        n = len(r)
        def decode_all() -> None:
            for i in range(n):
                r.read(i)  # not kept: holding 300 full-HD frames would measure page faults

        took = profiled("decode", decode_all)
    results.append(("sequential decode (RGB out)", f"{n / took:.0f} fps", f"goal >= 120 fps; {_cpu[0] / n * 1000:.1f} ms CPU/frame"))

    rng = random.Random(0)
    targets = [rng.randrange(n) for _ in range(args.seeks)]
    lat: list[float] = []
    with open_video(clip) as r:
        r.read(n // 2)

        def seeks() -> None:
            for i in targets:
                lat.append(timed(lambda i=i: r.read(i)))

        profiled("seek", seeks)
    seek_cpu = _cpu[0] / len(targets) * 1000
    lat_ms = sorted(x * 1000 for x in lat)
    p95 = lat_ms[int(0.95 * (len(lat_ms) - 1))]
    results.append(("random seek, median", f"{statistics.median(lat_ms):.0f} ms", f"goal <= 100 ms; mean {seek_cpu:.0f} ms CPU/seek"))
    results.append(("random seek, p95", f"{p95:.0f} ms", ""))
    with open_video(clip) as r:
        prev = [timed(lambda i=i: r.read_keyframe(r.nearest_keyframe(i), (640, 360))) * 1000 for i in targets]
    results.append(("scrub preview (nearest keyframe, 640x360), median", f"{statistics.median(prev):.0f} ms", ""))

    with open_video(clip) as r:
        quick = timed(lambda: list(iter_thumbnails(r, 100, 64)))
        exact = timed(lambda: list(iter_thumbnails(r, 100, 64, exact=True)))
    results.append(("100-thumbnail strip, keyframes", f"{quick * 1000:.0f} ms", ""))
    results.append(("100-thumbnail strip, exact frames", f"{exact * 1000:.0f} ms", ""))

    with open_video(clip) as r:
        frames = [r.read(i) for i in range(min(60, n))]
    m = args.export_frames

    def export_h264() -> None:
        with VideoWriter(work / "export.mp4", SIZE, FPS, H264(preset=args.preset)) as w:
            for i in range(m):
                w.write(frames[i % len(frames)])

    took = profiled("export", export_h264)
    results.append((f"H.264 export (crf 18, {args.preset})", f"{m / took:.0f} fps", f"goal >= 30 fps; {_cpu[0] / m * 1000:.1f} ms CPU/frame"))

    mattes = [soft_matte(i) for i in range(30)]

    def export_png16() -> None:
        with MatteWriter(work / "matte.%04d.png", MatteExport(MatteFormat.PNG16, start_number=1001), SIZE, FPS) as w:
            for i in range(m):
                w.write(mattes[i % len(mattes)])

    took = profiled("png16", export_png16)
    results.append(("PNG-16 matte export", f"{m / took:.0f} fps", f"{_cpu[0] / m * 1000:.1f} ms CPU/frame"))

    mask = mattes[0] > 0.5
    enc = timed(lambda: [RleMask.encode(mask) for _ in range(20)]) / 20
    rle = RleMask.encode(mask)
    dec = timed(lambda: [rle.decode() for _ in range(20)]) / 20
    results.append(("COCO RLE encode / decode 1080p", f"{enc * 1000:.1f} / {dec * 1000:.1f} ms", ""))

    width = max(len(a) for a, _, _ in results)
    print(f"\nafter: {load()}")
    for name, value, goal in results:
        print(f"{name:<{width}}  {value:>14}  {goal}")
    for p in work.iterdir():
        p.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
