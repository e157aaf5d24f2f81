"""The engine's own cost per object-frame: the model's arithmetic replaced by a stub.

The stub returns tensors of the right shapes (a disc of positive logits per object, so masks
compress like real ones) at no cost; what remains is everything the engine does around the
model: memory selection and bookkeeping, batching, preprocessing of the 1080p frames, hole
filling, upsampling to 1080p and thresholding, the copy to the host, mask compression and
the result. Goal (issue 11): <= 2 ms per object-frame, so that at 90 frames/s the host never
holds back the accelerator. Reported with 1 and 5 objects, as wall time per frame handed
out, the process's CPU time, and each thread's share.

    python bench/overhead.py [--device cpu|cuda] [--frames 200] [--size 1024]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sam2_studio.engine import GeneratedFrames, VideoSession  # noqa: E402
from sam2_studio.model import HeadOutput, ImageFeatures, Sam2Model, build_model  # noqa: E402


def stub_arithmetic(model: Sam2Model) -> Sam2Model:
    """Replace the model's heavy steps (on this instance) by preallocated outputs of the right
    shapes: the engine cannot tell, and the model costs nothing."""
    s, d, m = model.image_size, model.config.d_model, model.config.mem_dim
    g, dev = s // 16, model.device
    dtype = model.precision.autocast_dtype or torch.float32
    z = lambda *shape: torch.zeros(*shape, device=dev, dtype=dtype)  # noqa: E731
    feats = ImageFeatures(z(1, d, g, g), (z(1, d // 8, 4 * g, 4 * g), z(1, d // 4, 2 * g, 2 * g)), z(1, d, g, g))
    yy, xx = torch.meshgrid(torch.arange(4 * g, device=dev), torch.arange(4 * g, device=dev), indexing="ij")
    disc = ((2 * g) ** 2 * 0.1 - ((yy - 2 * g) ** 2 + (xx - 2 * g) ** 2)).float().view(1, 1, 4 * g, 4 * g) / 100
    memory = z(1, m, g, g)
    heads: dict[int, HeadOutput] = {}

    def condition_on_memory(features, spatial, pointers, max_pointer_offset):  # noqa: ANN001, ANN202, ARG001
        b = max([1] + [mem.features.shape[0] for mem in spatial] + [p.pointer.shape[0] for p in pointers])
        return features.embedding.expand(b, -1, -1, -1)

    def attend_memory(features, memory, memory_pos, num_ptr_tokens):  # noqa: ANN001, ANN202, ARG001
        return features.embedding.expand(memory.shape[0], -1, -1, -1)

    def decode(embedding, high_res, points=None, labels=None, mask_logits=None, multimask=False, gate_absent=True):  # noqa: ANN001, ANN202, ARG001
        b = embedding.shape[0]
        if b not in heads:
            masks = disc.expand(b, 3, -1, -1).contiguous()
            heads[b] = HeadOutput(masks, torch.full((b, 3), 0.9, device=dev), masks[:, :1],
                                  torch.zeros(b, 1, s, s, device=dev), torch.zeros(b, d, device=dev),
                                  torch.full((b, 1), 5.0, device=dev), torch.zeros(b, dtype=torch.long, device=dev))
        return heads[b]

    def encode_memory(embedding, high_res_masks, object_score, binarize):  # noqa: ANN001, ANN202, ARG001
        return memory.expand(high_res_masks.shape[0], -1, -1, -1), memory

    model.encode_image = lambda images: feats
    model.condition_on_memory = condition_on_memory
    model.attend_memory = attend_memory
    model.decode = decode
    model.encode_memory = encode_memory
    return model


def frames_1080p(n: int) -> GeneratedFrames:
    rng = np.random.default_rng(0)
    frame = (rng.random((1080, 1920, 3)) * 255).astype(np.uint8)
    return GeneratedFrames(n, (1920, 1080), lambda i: frame)


def measure(model: Sam2Model, objects: int, n: int) -> dict[str, float]:
    from sam2_studio.engine.features import FeatureCache
    from sam2_studio.engine.results import ResultsThread

    session = VideoSession(model, frames_1080p(n))
    for k in range(objects):
        session.add_points(0, k + 1, [[300 + 250 * k, 540]], [1])
    thread_cpu = {"results": 0.0, "loader": 0.0}

    def timed(fn, key):  # noqa: ANN001, ANN202 - CPU seconds of the thread that runs fn
        def wrapper(*args, **kw):  # noqa: ANN002, ANN003, ANN202
            t = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                thread_cpu[key] += time.thread_time() - t

        return wrapper

    finish, prepare = ResultsThread._finish, FeatureCache._prepare
    ResultsThread._finish = timed(finish, "results")
    FeatureCache._prepare = timed(prepare, "loader")
    times = []
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        last = t0
        for i, _ in enumerate(session.propagate()):
            now = time.perf_counter()
            if i > 10:  # warmed up
                times.append(now - last)
            last = now
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        ResultsThread._finish, FeatureCache._prepare = finish, prepare
    return {
        "median_ms_per_frame": statistics.median(times) * 1000,
        "ms_per_object_frame": statistics.median(times) * 1000 / objects,
        "cpu_ms_per_frame": cpu / n * 1000,
        "results_thread_ms_per_frame": thread_cpu["results"] / n * 1000,
        "loader_thread_ms_per_frame": thread_cpu["loader"] / n * 1000,
        "frames_per_s": n / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--objects", default="1,5")
    args = ap.parse_args()
    model = stub_arithmetic(build_model("sam2.1_hiera_tiny", args.size, device=args.device))
    print(f"engine overhead at 1080p, stub model at {args.size}, {args.device} ({model.precision.name}), "
          f"{torch.get_num_threads()} torch threads, {args.frames} frames")
    print(f"{'objects':>7} {'ms/frame':>9} {'ms/obj-frame':>12} {'cpu ms/frame':>12} {'results thr':>11} {'loader thr':>10} {'frames/s':>9}")
    for objects in (int(x) for x in args.objects.split(",")):
        r = measure(model, objects, args.frames)
        print(f"{objects:7d} {r['median_ms_per_frame']:9.2f} {r['ms_per_object_frame']:12.2f} {r['cpu_ms_per_frame']:12.2f} "
              f"{r['results_thread_ms_per_frame']:11.2f} {r['loader_thread_ms_per_frame']:10.2f} {r['frames_per_s']:9.1f}")


if __name__ == "__main__":
    main()
