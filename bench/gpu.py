"""One command on a GPU: ours vs the reference (sam2==1.1.0), bf16, in one process.

Same random weights and frames on both sides. Prints, as it goes, a table of
- frames/s of tiny, small, base_plus and large at 1024 with 1 and 3 objects, ours and the
  reference, both eager, and ours with torch.compile (as long as the time budget allows);
- peak GPU memory of each run, and GPU memory over 2000 tracked frames (must be flat);
- mask IoU ours vs the reference on every frame of those runs;
- checks: fp32 parity with the reference, device hole filling = OpenCV, batched = one by one,
  host synchronisations in the model step (torch's sync debug mode), the engine's own time
  per object-frame with a stub model (bench/overhead.py).
Runs where only torch (and numpy, OpenCV) is installed: without the reference or hydra it
measures ours alone. ``--print-wheels`` lists the pip wheels a bare GPU machine needs for the
comparison. A section that fails prints its traceback and the rest goes on.

    python bench/gpu.py [--budget 450] [--frames 60] [--out results.md]
    python bench/gpu.py --print-wheels
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import os
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")  # the reference's progress bars

WHEELS = ["sam2==1.1.0", "hydra-core==1.3.2", "omegaconf==2.3.0", "antlr4-python3-runtime==4.9.3", "iopath==0.1.10"]
VARIANTS = ["sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus", "sam2.1_hiera_large"]
VIDEO = (1280, 720)  # width, height of the synthetic clip
CLICKS = [(0.30, 0.45), (0.62, 0.40), (0.48, 0.75)]  # where objects are clicked, as fractions of the frame


def print_wheels() -> None:
    """What a bare GPU machine (torch, numpy, OpenCV, PyYAML, tqdm, pillow and portalocker
    installed) needs for the comparison. All are pure Python; antlr4 and iopath publish
    source archives only, so build wheels where pip works, carry them, install them there."""
    print("# where pip works (in this project's venv: sam2's setup imports torch):")
    print("SAM2_BUILD_CUDA=0 python -m pip wheel --no-deps --no-build-isolation -w .whl " + " ".join(WHEELS))
    print("# on the GPU machine:")
    print("python3 -m pip install --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site")
    print("# the wheels:")
    for w in WHEELS:
        print(w)


# ----------------------------------------------------------------------------- inputs
def make_frames(n: int) -> list:
    """A textured clip with three coloured discs moving on smooth paths (numpy only)."""
    import numpy as np

    w, h = VIDEO
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([(xx * 0.13 + yy * 0.07) % 64, (xx * 0.05) % 48 + 30, (yy * 0.11) % 40 + 20], -1)
    frames = []
    colours = [(235, 70, 50), (40, 200, 90), (60, 90, 240)]
    for i in range(n):
        f = base.copy()
        for k, ((fx, fy), c) in enumerate(zip(CLICKS, colours)):
            cx = fx * w + 60 * np.sin(i / 9 + k)
            cy = fy * h + 40 * np.cos(i / 11 + k)
            f[(xx - cx) ** 2 + (yy - cy) ** 2 < (70 + 10 * k) ** 2] = c
        frames.append(np.ascontiguousarray(f.astype(np.uint8)))
    return frames


class Frames:
    """A FrameSource over frames in memory, cycling for long clips."""

    def __init__(self, frames: list, n: int | None = None) -> None:
        self._frames, self._n = frames, n or len(frames)

    def __len__(self) -> int:
        return self._n

    def get(self, i: int):  # noqa: ANN201
        return self._frames[i % len(self._frames)]

    @property
    def size(self) -> tuple[int, int]:
        return VIDEO


def clicks(k: int) -> list[tuple[int, list[list[float]]]]:
    w, h = VIDEO
    return [(obj + 1, [[fx * w, fy * h]]) for obj, (fx, fy) in enumerate(CLICKS[:k])]


# ----------------------------------------------------------------------------- runs
@dataclass
class Run:
    fps: float
    peak_mb: float
    masks: dict = field(default_factory=dict)  # (frame, obj) -> bool array


DEVICE = "cuda"  # --device cpu runs the whole script on the CPU (a dry run of its code paths)
SIZE = 1024


def sync() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def reset_peak() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_mb() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if DEVICE == "cuda" else float("nan")


def allocated_mb() -> float:
    import torch

    if DEVICE == "cuda":
        return torch.cuda.memory_allocated() / 2**20
    import psutil

    return psutil.Process().memory_info().rss / 2**20


@contextlib.contextmanager
def reference_frames(images):  # noqa: ANN001, ANN201
    """The reference reads its frames from a folder of JPEGs; hand it ours, preprocessed."""
    import sam2.sam2_video_predictor as svp

    original = svp.load_video_frames
    svp.load_video_frames = lambda **kw: (images, VIDEO[1], VIDEO[0])
    try:
        yield
    finally:
        svp.load_video_frames = original


def run_ours(model, frames: list, k: int, n: int, graphs: bool = True) -> Run:  # noqa: ANN001
    from sam2_studio.engine import SessionOptions, VideoSession

    session = VideoSession(model, Frames(frames, n), options=SessionOptions(cuda_graphs=graphs))
    for obj, pts in clicks(k):
        session.add_points(0, obj, pts, [1])
    sync()
    reset_peak()
    masks, t0 = {}, None
    for r in session.propagate():
        if t0 is None:
            t0 = time.perf_counter()  # the prompted frame is handed out without a model run
            continue
        for obj, m in r.masks.items():
            masks[(r.frame, obj)] = m
    sync()
    return Run((n - 1) / (time.perf_counter() - t0), peak_mb(), masks)


def run_reference(predictor, images, frames: list, k: int) -> Run:  # noqa: ANN001
    """The reference as its README uses it: bf16 autocast, masks taken to the host per frame."""
    import torch

    n = len(images)
    with reference_frames(images), torch.inference_mode(), torch.autocast(DEVICE, dtype=torch.bfloat16):
        state = predictor.init_state("synthetic")
        for obj, pts in clicks(k):
            predictor.add_new_points_or_box(state, 0, obj, points=pts, labels=[1])
        sync()
        reset_peak()
        masks, t0 = {}, None
        for f, ids, logits in predictor.propagate_in_video(state):
            host = (logits > 0).cpu().numpy()
            if t0 is None:
                t0 = time.perf_counter()
                continue
            for i, obj in enumerate(ids):
                masks[(f, obj)] = host[i, 0]
        sync()
        return Run((n - 1) / (time.perf_counter() - t0), peak_mb(), masks)


def iou_stats(a: dict, b: dict) -> tuple[float, float]:
    import numpy as np

    values = []
    for key in a.keys() & b.keys():
        x, y = a[key], b[key]
        union = np.logical_or(x, y).sum()
        values.append(1.0 if union == 0 else np.logical_and(x, y).sum() / union)
    return (min(values), float(np.mean(values))) if values else (float("nan"), float("nan"))


# ----------------------------------------------------------------------------- report
class Report:
    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)
        if self.out is not None:
            self.out.write_text("\n".join(self.lines) + "\n")


@contextlib.contextmanager
def section(report: Report, title: str):  # noqa: ANN201
    report(f"\n## {title}")
    t = time.perf_counter()
    try:
        yield
    except Exception:  # noqa: BLE001 - one failing section must not cost the others
        report("```\n" + traceback.format_exc() + "```")
    finally:
        report(f"({time.perf_counter() - t:.0f} s)")
        gc.collect()
        with contextlib.suppress(Exception):
            import torch

            torch.cuda.empty_cache()


def main() -> None:  # noqa: C901 - one script, sections in order
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--print-wheels", action="store_true")
    ap.add_argument("--budget", type=float, default=450, help="seconds; later sections are skipped past it")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--long", type=int, default=2000)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of the script's code paths")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--only-compile", action="store_true", help="just the torch.compile section (tiny)")
    args = ap.parse_args()
    if args.print_wheels:
        print_wheels()
        return
    global DEVICE, SIZE
    DEVICE, SIZE = args.device, args.size
    t_start = time.perf_counter()
    left = lambda: args.budget - (time.perf_counter() - t_start)  # noqa: E731
    report = Report(args.out)

    import numpy as np
    import torch

    from sam2_studio.model import build_model
    from tests.reference import randomize_

    if DEVICE == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs a CUDA GPU (or --device cpu for a dry run)")
    have_ref = importlib.util.find_spec("sam2") is not None and importlib.util.find_spec("hydra") is not None
    name = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "CPU (dry run)"
    report(f"# bench/gpu.py: {name}, torch {torch.__version__}, "
           f"reference {'sam2==1.1.0' if have_ref else 'ABSENT (ours only)'}, bf16, {SIZE} px, "
           f"{args.frames} frames {VIDEO[0]}x{VIDEO[1]}")
    frames = make_frames(args.frames)
    if have_ref:
        import sam2.utils.misc

        from tests.reference import build_reference, connected_components_device, copy_weights

        sam2.utils.misc.get_connected_components = connected_components_device  # its CUDA kernel is not built
    variants = args.variants.split(",")
    rows: list[str] = []
    models: dict[str, object] = {}

    def build_pair(variant: str):  # noqa: ANN202
        torch.manual_seed(0)
        ref = None
        if have_ref:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = randomize_(build_reference(variant, SIZE, video=True, device=DEVICE,
                                                 overrides=("++model.add_all_frames_to_correct_as_cond=true",)))
        ours = build_model(variant, SIZE, device=DEVICE, precision="bf16")
        if DEVICE == "cpu":
            from sam2_studio.model import Precision

            ours._precision = Precision("bf16", "cpu")
        if ref is not None:
            copy_weights(ref, ours)
        else:
            randomize_(ours)
        return ours, ref

    # -- checks first: cheap, and they say whether the figures below mean anything --------------
    if not args.only_compile:
        with section(report, "Checks (tiny)"):
            from sam2_studio.engine.postprocess import fill_holes, fill_holes_on_device

            g = torch.Generator().manual_seed(0)
            logits = torch.randn(4, 1, 256, 256, generator=g) + 1.0
            same = torch.equal(fill_holes_on_device(logits.to(DEVICE), 8).cpu(), fill_holes(logits, 8))
            report(f"- hole filling on the device equals OpenCV's: {same}")
            ours, ref = build_pair("sam2.1_hiera_tiny")
            if ref is not None:
                ours32 = build_model("sam2.1_hiera_tiny", SIZE, device=DEVICE, precision="fp32")
                copy_weights(ref, ours32)
                from sam2_studio.engine import VideoSession
                from sam2_studio.engine.postprocess import to_video_resolution

                short = frames[:10]
                tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
                for allow in (False, True):  # exact fp32 first, then torch's default (TF32 convolutions)
                    if DEVICE == "cuda":
                        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = allow
                    images = torch.cat([ours32.preprocess(f) for f in short])
                    with reference_frames(images), torch.inference_mode():
                        state = ref.init_state("synthetic")
                        ref.add_new_points_or_box(state, 0, 1, points=clicks(1)[0][1], labels=[1])
                        expected = {f: lg for f, _, lg in ref.propagate_in_video(state)}
                    s = VideoSession(ours32, Frames(short))
                    s.add_points(0, 1, clicks(1)[0][1], [1])
                    diffs = []
                    for r in s.propagate():
                        got = to_video_resolution(r.logits[1], VIDEO).float()
                        e = expected[r.frame][:1].float()
                        diffs.append(((got - e).abs().max() / (1 + e.abs().max())).item())
                    report(f"- fp32 parity with the reference (TF32 {'on' if allow else 'off'}), max relative logit "
                           f"difference per frame: " + " ".join(f"{d:.1e}" for d in diffs))
                if DEVICE == "cuda":
                    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
                del ours32
            one = run_ours_batched(ours, frames[:30], batch=False)
            both = run_ours_batched(ours, frames[:30], batch=True)
            lo, mean = iou_stats(one, both)
            report(f"- 3 objects batched vs one by one (bf16, 30 frames): min IoU {lo:.4f}, mean {mean:.4f}, "
                   f"identical masks {sum(np.array_equal(one[k], both[k]) for k in one)}/{len(one)}")
            if DEVICE == "cuda":
                report(f"- host synchronisations in the model step: {count_syncs(ours, frames[:20])}")
            models["sam2.1_hiera_tiny"] = (ours, ref)

    # -- speed, eager ------------------------------------------------------------------------------
    header = ("| model | objects | ours, CUDA graphs | ours, no graphs | reference | ours / ref (graphs, no graphs) "
              "| peak MB ours / ref | IoU vs ref min / mean |")
    rows.append(header)
    rows.append("|---|---|---|---|---|---|---|---|")
    for variant in [] if args.only_compile else variants:
        if left() < 60:
            report(f"\n(skipped {variant}: time budget)")
            continue
        with section(report, f"{variant}, eager"):
            ours, ref = models.pop(variant, None) or build_pair(variant)
            images = torch.cat([ours.preprocess(f) for f in frames]) if ref is not None else None
            for k in (1, 3):
                run_ours(ours, frames[:12], k, 12)  # warm-up (cuDNN, allocator)
                mine = run_ours(ours, frames, k, len(frames))
                plain = run_ours(ours, frames, k, len(frames), graphs=False)
                same = sum(np.array_equal(mine.masks[key], plain.masks[key]) for key in plain.masks)
                if ref is not None:
                    run_reference(ref, images[:12], frames, k)
                    theirs = run_reference(ref, images, frames, k)
                    lo, mean = iou_stats(mine.masks, theirs.masks)
                    row = (f"| {variant} | {k} | {mine.fps:.1f} | {plain.fps:.1f} | {theirs.fps:.1f} | "
                           f"{mine.fps / theirs.fps:.2f}, {plain.fps / theirs.fps:.2f} | "
                           f"{mine.peak_mb:.0f} / {theirs.peak_mb:.0f} | {lo:.3f} / {mean:.3f} |")
                else:
                    row = f"| {variant} | {k} | {mine.fps:.1f} | {plain.fps:.1f} | - | - | {mine.peak_mb:.0f} | - |"
                report(f"(graphs vs no graphs: {same}/{len(plain.masks)} masks identical)")
                rows.append(row)
                report(row)
            del ours, ref, images
    report("\n" + "\n".join(rows))

    # -- the engine's own time (stub model) ------------------------------------------------------
    if left() > 40 and not args.only_compile:
        with section(report, "Engine overhead, stub model, 1080p (bench/overhead.py)"):
            sys.path.insert(0, str(ROOT / "bench"))
            from overhead import measure, stub_arithmetic

            stub = stub_arithmetic(build_model("sam2.1_hiera_tiny", SIZE, device=DEVICE, precision="bf16"))
            for k in (1, 5):
                r = measure(stub, k, 200)
                report(f"- {k} object(s): {r['ms_per_object_frame']:.2f} ms per object-frame "
                       f"({r['median_ms_per_frame']:.2f} ms a frame, {r['frames_per_s']:.0f} frames/s; "
                       f"results thread {r['results_thread_ms_per_frame']:.2f} ms, loader {r['loader_thread_ms_per_frame']:.2f} ms CPU a frame)")

    # -- memory over a long clip -----------------------------------------------------------------
    if left() > 60 and not args.only_compile:
        with section(report, f"GPU memory over {args.long} tracked frames (tiny, 2 objects, eager)"):
            from sam2_studio.engine import VideoSession

            ours, _ = build_pair("sam2.1_hiera_tiny")
            session = VideoSession(ours, Frames(frames, args.long))
            for obj, pts in clicks(2):
                session.add_points(0, obj, pts, [1])
            samples = []
            t0 = time.perf_counter()
            for r in session.propagate():
                if r.frame % 200 == 0:
                    samples.append((r.frame, allocated_mb()))
                if left() < 30:
                    report(f"(stopped at frame {r.frame}: time budget)")
                    break
            fps = len(samples) and samples[-1][0] / (time.perf_counter() - t0)
            report("- allocated MB: " + ", ".join(f"{f}: {m:.0f}" for f, m in samples))
            warm = [(f, m) for f, m in samples if f >= 200]
            if len(warm) > 2:
                slope = np.polyfit([f for f, _ in warm], [m for _, m in warm], 1)[0] * 1000
                report(f"- growth after frame 200: {slope:.1f} MB per 1000 frames; peak {peak_mb():.0f} MB; {fps:.1f} frames/s")
            del ours, session

    # -- where the time goes: stage by stage, ours vs the reference (bench/model.py) -------------
    for variant in ("sam2.1_hiera_tiny", "sam2.1_hiera_large"):
        if left() < 150 or DEVICE != "cuda" or not have_ref or args.only_compile:
            break
        with section(report, f"Stages, {variant}, bf16 (bench/model.py)"):
            import subprocess

            out = subprocess.run([sys.executable, str(ROOT / "bench" / "model.py"), "--device", "cuda", "--dtype", "bf16",
                                  "--variant", variant, "--repeat", "10"], capture_output=True, text=True, timeout=120)
            report("```\n" + out.stdout[-3000:] + out.stderr[-1500:] + "```")

    # -- compiled --------------------------------------------------------------------------------
    compiled_rows = ["| model | objects | ours compiled frames/s (CUDA graphs too) | compile + warm-up s | peak MB "
                     "| IoU vs eager min / mean |", "|---|---|---|---|---|---|"]
    for variant in [] if args.skip_compile else variants[:1]:
        if left() < (40 if args.only_compile else 170):
            report(f"\n(skipped compiling {variant}: time budget)")
            continue
        with section(report, f"{variant}, torch.compile (image encoder + memory attention)"):
            from sam2_studio.model.compile import compile_model, warm_up

            ours, _ = build_pair(variant)
            from torch._dynamo.utils import counters

            counters.clear()
            t = time.perf_counter()
            compile_model(ours)
            warm_up(ours, objects=3)
            spent = time.perf_counter() - t
            report(f"- compiled graphs {dict(counters['stats'])}, graph breaks {dict(counters['graph_break'])}")
            eager, _ = build_pair(variant)
            for k in (1, 3):
                run_ours(ours, frames[:12], k, 12)
                mine = run_ours(ours, frames, k, len(frames))
                lo, mean = iou_stats(mine.masks, run_ours(eager, frames, k, len(frames)).masks)
                row = f"| {variant} | {k} | {mine.fps:.1f} | {spent:.0f} | {mine.peak_mb:.0f} | {lo:.4f} / {mean:.4f} |"
                compiled_rows.append(row)
                report(row)
            del ours
            import torch._dynamo

            torch._dynamo.reset()
    report("\n" + "\n".join(compiled_rows))
    report(f"\ntotal {time.perf_counter() - t_start:.0f} s")


def run_ours_batched(model, frames: list, batch: bool) -> dict:  # noqa: ANN001
    from sam2_studio.engine import SessionOptions, VideoSession

    s = VideoSession(model, Frames(frames), options=SessionOptions(batch_objects=batch))
    for obj, pts in clicks(3):
        s.add_points(0, obj, pts, [1])
    return {(r.frame, o): m for r in s.propagate() for o, m in r.masks.items()}


def count_syncs(model, frames: list) -> str:  # noqa: ANN001
    """Run a propagation under torch's sync debug mode; count warnings raised on the model
    thread inside the model step (the results thread waits on purpose, elsewhere)."""
    import torch

    from sam2_studio.engine import VideoSession

    s = VideoSession(model, Frames(frames))
    for obj, pts in clicks(3):
        s.add_points(0, obj, pts, [1])
    inside = threading.local()
    found: list[str] = []
    advance = s._advance

    def guarded(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        inside.on = True
        try:
            return advance(*a, **kw)
        finally:
            inside.on = False

    s._advance = guarded
    show = warnings.showwarning

    def record(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
        if getattr(inside, "on", False):
            found.append(f"{filename}:{lineno}: {str(message)[:80]}")

    warnings.showwarning = record
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = record
            list(s.propagate())
    finally:
        torch.cuda.set_sync_debug_mode("default")
        warnings.showwarning = show
    return f"{len(found)} over {len(frames) - 1} frames" + ("" if not found else "; first: " + "; ".join(sorted(set(found))[:3]))


if __name__ == "__main__":
    main()
