"""Frames per second of every effect and of matte refinement at 1080p (or another size).

    .venv/bin/python bench/effects.py [--size 1920x1080] [--repeat 3] [--seconds 2]

Frames are the DAVIS car-shadow clip (../shared/data) scaled up, with its true masks. Each
figure is a whole ``Renderer.render`` call (matte handling included), the best of
``--repeat`` runs: other processes share the cores, and the best run is the least disturbed.
The median is printed beside it, and the CPU time per frame (all threads), which other
processes do not inflate. There is no reference implementation for effects, so no ratio
column.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sam2_studio.effects import (  # noqa: E402
    InMemoryClip,
    ObjectStack,
    RefinedClip,
    RefineParams,
    Registry,
    Renderer,
)

GOAL = 30.0
GOAL_EFFECTS = {"pixelate", "blur", "colour_pop", "overlay", "cutout"}


def load_clip(size: tuple[int, int]) -> InMemoryClip:
    shared = Path(os.environ.get("SAM2_STUDIO_SHARED", ROOT.parent / "shared"))
    root = shared / "data" / "davis16_car-shadow"
    frames, masks = [], []
    for path in sorted((root / "JPEGImages").glob("*.jpg")):
        bgr = cv2.resize(cv2.imread(str(path)), size, interpolation=cv2.INTER_CUBIC)
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        m = cv2.imread(str(root / "Annotations" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE)
        masks.append(
            cv2.resize(m, size, interpolation=cv2.INTER_LINEAR)
        )  # soft-ish edge, as upscaled
    if not frames:
        sys.exit(f"no frames in {root} (set SAM2_STUDIO_SHARED)")
    return InMemoryClip(frames, {1: masks})


def timed(step, count: int, seconds: float, repeat: int) -> tuple[float, float, float]:
    """(best, median) frames per second of ``step(i)`` over ``count`` frames, and the
    least CPU time per frame (ms, all threads): the cost, whatever else runs."""
    rates, cpu = [], []
    for _ in range(repeat):
        n, start, start_cpu = 0, time.perf_counter(), time.process_time()
        while True:
            step(n % count)
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and n >= 3:
                break
        rates.append(n / elapsed)
        cpu.append((time.process_time() - start_cpu) / n * 1000)
    return max(rates), statistics.median(rates), min(cpu)


def row(name: str, best: float, median: float, cpu_ms: float, goal: bool) -> None:
    mark = ("ok" if best >= GOAL else "MISSES 30") if goal else ""
    print(f"{name:34s} {best:8.1f} {median:8.1f} {cpu_ms:9.1f}   {mark}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--only", default="", help="comma-separated effect ids")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    clip = load_clip((w, h))
    registry = Registry()
    count = len(clip)
    only = set(filter(None, args.only.split(",")))
    print(f"{w}x{h}, {count} frames, cv2 threads {cv2.getNumThreads()}, cpus {os.cpu_count()}")
    print(f"{'':34s} {'best fps':>8s} {'median':>8s} {'cpu ms/f':>9s}")

    for info in registry.available():
        if only and info.id not in only:
            continue
        if info.id == "remove":
            continue
        for target in info.cls.targets:
            stack = ObjectStack(effects=(registry.entry(info.id, target),))
            r = Renderer(clip, {1: stack}, registry=registry)
            r.render(0)
            best, med, cpu = timed(r.render, count, args.seconds, args.repeat)
            row(f"{info.id} ({target.value})", best, med, cpu, info.id in GOAL_EFFECTS)

    if not only or "refine" in only:
        cases = {
            "refine: feather 4": RefineParams(feather=4),
            "refine: grow 3 + feather 4": RefineParams(grow=3, feather=4),
            "refine: all spatial steps": RefineParams(
                remove_specks=200, fill_holes=2000, smooth=3, grow=-2, feather=4
            ),
            "refine: + temporal ±2": RefineParams(
                remove_specks=200, fill_holes=2000, smooth=3, grow=-2, temporal=2, feather=4
            ),
        }
        for name, params in cases.items():
            rates, cpu = [], []
            for _ in range(args.repeat):
                refined = RefinedClip(clip, {1: params})  # fresh cache: every frame computed
                start, start_cpu = time.perf_counter(), time.process_time()
                for i in range(count):
                    refined.matte(1, i)
                rates.append(count / (time.perf_counter() - start))
                cpu.append((time.process_time() - start_cpu) / count * 1000)
            row(name, max(rates), statistics.median(rates), min(cpu), False)

    if not only or "remove" in only:
        stack = ObjectStack(effects=(registry.entry("remove"),))
        r = Renderer(clip, {1: stack}, registry=registry)
        start = time.perf_counter()
        r.render(count // 2)
        first = time.perf_counter() - start
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            r.render(i)
        rate = count / (time.perf_counter() - start)
        cpu_ms = (time.process_time() - start_cpu) / count * 1000
        print(
            f"{'remove (object), streaming':34s} {rate:8.1f} {'':8s} {cpu_ms:9.1f}   "
            f"first frame {first:.2f} s (camera motion of the whole window)"
        )


if __name__ == "__main__":
    main()
