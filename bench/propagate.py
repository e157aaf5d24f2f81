"""Propagation benchmark: ours vs the reference (sam2==1.1.0), and RSS over a long clip.

1. speed: the same frames (DAVIS car-shadow) and random weights, one click on frame 0,
   forward propagation, the reference and each of our CPU engines (torch, OpenVINO fp32,
   OpenVINO bf16 where the CPU has it) stepped in turn frame by frame; frames per second
   (wall and CPU), ratio to the reference, image encoder and memory attention per call, and
   the largest logit difference from the reference.
   Then the ceiling: the arithmetic of those frames, ours and the reference's (fp32 speed-up
   at an equal arithmetic rate), and what one core reaches in torch's and OpenVINO's matrix
   products (OpenVINO's AVX-512 kernels are ~2x MKL's only on cores with full-width AVX-512).
2. memory: ours over a long synthetic clip (default 2000 frames, small configuration),
   RSS sampled every 100 frames; growth after warm-up in MB per 1000 frames (goal <= 50).
   The reference on the same configuration over a shorter clip, for its slope.

    .venv/bin/python bench/propagate.py [--frames 12] [--size 1024] [--long 2000] [--skip-speed]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from common import ROOT, rss_mb  # noqa: I001

from sam2_studio.engine import ArrayFrames, GeneratedFrames, VideoSession
from sam2_studio.model import build_model, describe
from tests.reference import build_reference, connected_components_cpu, copy_weights, randomize_

DATA = ROOT.parent / "shared" / "data" / "davis16_car-shadow" / "JPEGImages"


def load_frames(n: int) -> list[np.ndarray]:
    return [np.ascontiguousarray(cv2.imread(str(DATA / f"{i:05d}.jpg"))[:, :, ::-1]) for i in range(n)]


def reference_session(ref, frames, images: torch.Tensor):  # noqa: ANN001
    folder = Path(tempfile.mkdtemp())
    cv2.imwrite(str(folder / "00000.jpg"), frames[0][:, :, ::-1])
    with torch.inference_mode():
        state = ref.init_state(str(folder))
    state["images"] = images
    state["num_frames"] = len(images)
    state["cached_features"] = {}
    return state


def timed(iterator) -> tuple[list[float], list[float]]:  # noqa: ANN001
    """Wall and CPU seconds of each step (CPU time is robust when others load the machine)."""
    wall, cpu = [], []
    t, c = time.perf_counter(), time.process_time()
    for _ in iterator:
        now, cnow = time.perf_counter(), time.process_time()
        wall.append(now - t)
        cpu.append(cnow - c)
        t, c = now, cnow
    return wall, cpu


class Stopwatch:
    """Wall and CPU seconds spent inside one module's forward (hooks: works on the
    reference's modules and on our OpenVINO wrappers alike)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.wall = self.cpu = 0.0
        self.calls = 0
        module.register_forward_pre_hook(self._start)
        module.register_forward_hook(self._stop)

    def _start(self, *_a) -> None:  # noqa: ANN002
        self._t, self._c = time.perf_counter(), time.process_time()

    def _stop(self, *_a) -> None:  # noqa: ANN002
        self.wall += time.perf_counter() - self._t
        self.cpu += time.process_time() - self._c
        self.calls += 1


@dataclass
class Contender:
    name: str
    frames: object  # an iterator of results
    encoder: Stopwatch
    memory: Stopwatch
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    logits: list[torch.Tensor] = field(default_factory=list)  # video-resolution logits, object 1

    def step(self) -> bool:
        t, c = time.perf_counter(), time.process_time()
        try:
            r = next(self.frames)
        except StopIteration:
            return False
        self.wall.append(time.perf_counter() - t)
        self.cpu.append(time.process_time() - c)
        self.logits.append(r[2][0:1].float() if isinstance(r, tuple) else r.logits.get(1))
        return True


def _ours(ref, args, frames, cache, engine: str, precision: str = "fp32"):  # noqa: ANN001, ANN202
    from sam2_studio.model import openvino_engine

    model = build_model(args.variant, args.size, "cpu")
    copy_weights(ref, model)
    if engine == "openvino":
        report = openvino_engine.install(model, cache, precision)
        assert report.engine == "openvino", report.notice
        print(f"  OpenVINO {precision}: prepared in {report.prepared_s:.1f} s (conversion {report.converted_s:.1f} s)")
    return model, VideoSession(model, ArrayFrames(frames))


def speed(args: argparse.Namespace) -> None:
    """The reference and our CPU engines (torch, OpenVINO fp32, OpenVINO bf16 where native),
    stepped in turn frame by frame in one process, so each sees the same machine load."""
    import sam2.utils.misc

    from sam2_studio.engine.postprocess import to_video_resolution
    from sam2_studio.model.openvino_engine import native_bf16, openvino_version

    sam2.utils.misc.get_connected_components = connected_components_cpu  # hole filling on both sides
    frames = load_frames(args.frames)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = randomize_(build_reference(args.variant, args.size, video=True))
    cache = Path(tempfile.mkdtemp(prefix="ov-cache-"))
    engines = [("torch", "fp32")]
    if openvino_version() and not args.torch_only:
        engines.append(("openvino", "fp32"))
        if native_bf16():
            engines.append(("openvino", "bf16"))
    print(f"speed: {args.variant} at {args.size}, {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}, "
          f"{describe(torch.device('cpu'))}, OpenVINO {openvino_version()}")
    ours = [(f"{e} {p}", *_ours(ref, args, frames, cache, e, p)) for e, p in engines]
    images = torch.cat([ours[0][2].features.preprocess(i) for i in range(len(frames))])
    state = reference_session(ref, frames, images)
    click = [[frames[0].shape[1] * 0.5, frames[0].shape[0] * 0.6]]
    size = (frames[0].shape[1], frames[0].shape[0])
    contenders = []
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        ref.add_new_points_or_box(state, 0, 1, points=click, labels=[1])
        contenders.append(Contender("reference", iter(ref.propagate_in_video(state)), Stopwatch(ref.image_encoder),
                                    Stopwatch(ref.memory_attention)))
        for name, model, session in ours:
            session.add_points(0, 1, click, [1])
            contenders.append(Contender(name, iter(session.propagate()), Stopwatch(model.image_encoder),
                                        Stopwatch(model.memory_attention)))
        for c in contenders:  # the prompted frame (no model run) and set-up costs: not counted
            c.step()
            c.wall.clear(), c.cpu.clear()
            c.encoder.wall = c.encoder.cpu = c.memory.wall = c.memory.cpu = 0.0
        while all([c.step() for c in contenders]):
            pass
    ref_c = contenders[0]
    n = len(ref_c.wall)
    fr, fr_cpu = n / sum(ref_c.wall), n / sum(ref_c.cpu)
    print(f"\n{n} propagated frames each, interleaved frame by frame (the machine was shared: CPU time is the robust figure)")
    print(f"{'engine':<16} {'frames/s':>9} {'x ref':>6} {'cpu s/frame':>12} {'x ref (cpu)':>12} "
          f"{'encoder cpu s':>14} {'mem. attn cpu s':>16} {'max rel. diff':>14}")
    for c in contenders:
        fps, cpf = len(c.wall) / sum(c.wall), sum(c.cpu) / len(c.cpu)
        diff = "—"
        if c is not ref_c:
            rel = []
            for a, b in zip(ref_c.logits[1:], c.logits[1:]):
                got = to_video_resolution(b, size).float()
                rel.append(((a - got).abs().max() / (1 + a.abs().max())).item())
            diff = f"{max(rel):.1e}"
        print(f"{c.name:<16} {fps:9.3f} {fps / fr:6.2f} {cpf:12.2f} {(1 / cpf) / fr_cpu:12.2f} "
              f"{c.encoder.cpu / max(c.encoder.calls, 1):14.2f} {c.memory.cpu / max(c.memory.calls, 1):16.2f} {diff:>14}")
    print("(x ref: frames/s over the reference's; encoder and memory attention: CPU seconds per call, "
          "wall in parentheses below)")
    for c in contenders:
        print(f"  {c.name:<16} encoder {c.encoder.wall / max(c.encoder.calls, 1):.2f} s wall x{c.encoder.calls}, "
              f"memory attention {c.memory.wall / max(c.memory.calls, 1):.2f} s wall x{c.memory.calls}")
    del ref, state, ours, contenders
    gc.collect()


def _gflop(fn) -> float:  # noqa: ANN001
    """Floating-point operations of ``fn()`` in billions (attention counted through the math
    kernel, whose products the counter sees)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def _matmul_rate(threads: int) -> tuple[float, float | None]:
    """GFLOP/s of one core on the cross-attention's Q.K^T shape: torch (MKL) and OpenVINO."""
    import openvino as ov

    q, k = torch.randn(1, 4096, 256), torch.randn(1, 28736, 256)
    flop = 2 * 4096 * 28736 * 256 / 1e9
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    q @ k.transpose(1, 2)
    t = time.perf_counter()
    q @ k.transpose(1, 2)
    torch_rate = flop / (time.perf_counter() - t)
    torch.set_num_threads(before)

    class QK(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a @ b.transpose(1, 2)

    compiled = ov.Core().compile_model(ov.convert_model(QK(), example_input=(q, k)), "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads})
    request, arrays = compiled.create_infer_request(), [q.numpy(), k.numpy()]
    request.infer(arrays)
    t = time.perf_counter()
    request.infer(arrays)
    return torch_rate, flop / (time.perf_counter() - t)


def ceiling(args: argparse.Namespace) -> None:
    """How much faster than the reference any engine can be at fp32 on this CPU: the
    arithmetic of the bench's propagated frames (encoder and memory attention, ~95% of it),
    ours and the reference's, and the rate one core reaches in each library's matrix product.
    Where both libraries reach the same rate, the arithmetic ratio is the ceiling."""
    import copy

    from sam2_studio.model.openvino_engine import openvino_version

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = build_reference(args.variant, args.size, video=True)
    ours = build_model(args.variant, args.size, "cpu")
    side = ours.config.feat_size
    grid, d, m = side * side, ours.config.d_model, ours.config.mem_dim
    encoder = _gflop(lambda: copy.deepcopy(ours.image_encoder).to("meta")(torch.empty(1, 3, args.size, args.size, device="meta")))
    ref_attention = copy.deepcopy(ref.memory_attention).to("meta")
    ref_total = ours_total = 0.0
    for j in range(1, args.frames):  # the bench's propagated frames: the bank grows to 7 frames, 16 pointers
        n_ptr = min(j, ours.config.max_obj_ptrs) * (d // m)
        n = min(j, ours.config.num_maskmem) * grid + n_ptr
        meta = [torch.empty(1, grid, d, device="meta"), torch.empty(1, grid, d, device="meta"),
                torch.empty(1, n, m, device="meta"), torch.empty(1, n, m, device="meta")]
        ref_total += encoder + _gflop(lambda: ref_attention(  # noqa: B023
            curr=[meta[0].transpose(0, 1)], curr_pos=[meta[1].transpose(0, 1)], memory=meta[2].transpose(0, 1),
            memory_pos=meta[3].transpose(0, 1), num_obj_ptr_tokens=n_ptr))
        cpu = [torch.randn(t.shape) for t in meta]  # ours on the CPU: its CPU path attends before projecting
        ours_total += encoder + _gflop(lambda: ours.memory_attention(*cpu, num_ptr_tokens=n_ptr))  # noqa: B023
    frames = args.frames - 1
    print(f"\nceiling: GFLOP per propagated frame (encoder {encoder:.0f} + memory attention), mean of the "
          f"{frames} frames above: reference {ref_total / frames:.0f}, ours {ours_total / frames:.0f} "
          f"-> {ref_total / ours_total:.2f}x at an equal arithmetic rate")
    if openvino_version():
        for threads in sorted({1, torch.get_num_threads()}):
            t_rate, ov_rate = _matmul_rate(threads)
            print(f"  Q.K^T (4096x256 by 256x28736), {threads} thread(s): torch {t_rate:.0f} GFLOP/s, "
                  f"OpenVINO {ov_rate:.0f} GFLOP/s ({ov_rate / t_rate:.2f}x)")


def synthetic(n: int, size: tuple[int, int]) -> GeneratedFrames:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]

    def make(i: int) -> np.ndarray:
        f = np.empty((h, w, 3), np.uint8)
        f[..., 0] = (xx * 3 + i) % 256
        f[..., 1] = (yy * 5) % 256
        f[..., 2] = 60
        cx, cy = int(w / 2 + w / 3 * np.sin(i / 25)), int(h / 2 + h / 4 * np.cos(i / 40))
        cv2.circle(f, (cx, cy), h // 6, (250, 240, 30), -1)
        return f

    return GeneratedFrames(n, size, make)


def memory(args: argparse.Namespace) -> None:
    frames = synthetic(args.long, (320, 240))
    model = build_model(args.variant, args.small_size, "cpu")
    torch.manual_seed(0)
    randomize_(model)
    session = VideoSession(model, frames)
    print(f"\nmemory: {args.long} synthetic frames 320x240, {args.variant} at {args.small_size}")
    session.add_points(0, 1, [[160, 120]], [1])
    session.add_points(0, 2, [[40, 40]], [1])
    samples = []
    t0 = time.perf_counter()
    for r in session.propagate():
        if r.frame % 100 == 0:
            gc.collect()
            samples.append((r.frame, rss_mb()))
            print(f"  frame {r.frame:5d}  RSS {samples[-1][1]:8.1f} MB  {r.frame / max(time.perf_counter() - t0, 1e-9):6.1f} frames/s", flush=True)
    warm = [s for s in samples if s[0] >= args.warmup]
    slope = np.polyfit([f for f, _ in warm], [m for _, m in warm], 1)[0] * 1000 if len(warm) > 2 else float("nan")
    print(f"ours: RSS growth after frame {args.warmup}: {slope:.1f} MB per 1000 frames (goal <= 50); "
          f"peak {max(m for _, m in samples):.0f} MB")
    if args.reference_frames:
        del session
        gc.collect()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = randomize_(build_reference(args.variant, args.small_size, video=True))
        n = args.reference_frames
        ref_frames = [frames.get(i) for i in range(n)]
        images = torch.cat([model.preprocess(f) for f in ref_frames])
        base = rss_mb()
        state = reference_session(ref, ref_frames, images)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.add_new_points_or_box(state, 0, 1, points=[[160, 120]], labels=[1])
            ref.add_new_points_or_box(state, 0, 2, points=[[40, 40]], labels=[1])
            pts = []
            for f, _, _ in ref.propagate_in_video(state):
                if f % 50 == 0:
                    pts.append((f, rss_mb()))
        per_frame = state_bytes(state) / n / 2**20
        print(f"reference over {n} frames: RSS {base:.0f} -> {rss_mb():.0f} MB; its session holds "
              f"{images.numel() * 4 / n / 2**20:.2f} MB of input per frame plus {per_frame:.2f} MB of outputs per frame "
              f"(2 objects), i.e. {per_frame * 1000:.0f} MB per 1000 frames beyond the frames themselves, growing "
              f"without bound (at 1024: 13.6 MB of input and ~1.5 MB of outputs per frame for 2 objects)")


def state_bytes(obj) -> int:  # noqa: ANN001
    """Bytes of every tensor reachable from the reference's inference state, except the frames."""
    seen: set[int] = set()

    def walk(o) -> int:  # noqa: ANN001
        if isinstance(o, torch.Tensor):
            key = o.untyped_storage().data_ptr()
            if key in seen:
                return 0
            seen.add(key)
            return o.untyped_storage().nbytes()
        if isinstance(o, dict):
            return sum(walk(v) for k, v in o.items() if k not in ("images", "cached_features"))
        if isinstance(o, list | tuple):
            return sum(walk(v) for v in o)
        return 0

    return walk(obj)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="sam2.1_hiera_tiny")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--long", type=int, default=2000)
    ap.add_argument("--small-size", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--reference-frames", type=int, default=300)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--torch-only", action="store_true", help="leave the OpenVINO engines out")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.skip_speed:
        speed(args)
        ceiling(args)
    if not args.skip_memory:
        memory(args)


if __name__ == "__main__":
    main()
