"""Model benchmark: ours vs the reference (sam2==1.1.0), same weights and inputs, one process.

Times the image encoder, a click (prompt encoder + mask decoder on cached features) and
memory attention with a full bank (7 memories + 16 object pointers), prints the ratios
ours / reference (< 1 means we are faster). With --memory, each implementation runs each
stage alone in a fresh process so that peak RSS growth is not shared between them (in one
process, whoever runs second finds the first one's freed heap and looks free).

    .venv/bin/python bench/model.py [--variant sam2.1_hiera_tiny] [--size 1024] [--device cpu]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import warnings

import torch

from common import PeakRss, timeit  # noqa: I001 - bench/ is on sys.path when run as a script

from sam2_studio.model import PointerMemory, SpatialMemory, build_model, describe, inference_context
from sam2_studio.model.image_encoder import ImageFeatures
from tests.reference import build_reference, copy_weights, randomize_


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="sam2.1_hiera_tiny")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-reference", action="store_true", help="time ours only (e.g. on a GPU machine without sam2)")
    ap.add_argument("--dtype", choices=["fp32", "bf16", "auto"], default="fp32")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--memory", action="store_true", help="peak RSS growth of each stage, one fresh process each")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory:
        return memory_table(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "auto": None}[args.dtype]
    torch.manual_seed(0)
    ours = build_model(args.variant, args.size, dev)
    ref = None
    if not args.no_reference:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = randomize_(build_reference(args.variant, args.size, video=True)).to(dev)
        copy_weights(ref, ours)
    print(f"{args.variant} at {args.size}, {describe(dev)}, autocast={args.dtype}, threads={torch.get_num_threads()}")

    s, h = args.size, args.size // 16
    image = torch.randn(1, 3, s, s, device=dev)
    g = torch.Generator(device="cpu").manual_seed(1)
    rnd = lambda *shape: torch.randn(*shape, generator=g).to(dev)  # noqa: E731
    emb, s0, s1 = rnd(1, 256, h, h), rnd(1, 32, 4 * h, 4 * h), rnd(1, 64, 2 * h, 2 * h)
    pts, labs = torch.tensor([[[s * 0.4, s * 0.3]]], device=dev), torch.tensor([[1]], dtype=torch.int32, device=dev)
    mems = [(rnd(1, 64, h, h), rnd(1, 64, h, h)) for _ in range(7)]
    ptrs = [rnd(1, 256) for _ in range(16)]
    cur, cur_pos = rnd(1, 256, h, h), rnd(1, 256, h, h)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def ours_encoder():
        ours.encode_image(image)
        sync()

    def ours_click():
        ours.decode(emb, (s0, s1), pts, labs, multimask=True)
        sync()

    spatial = [SpatialMemory(f, p, 6 if i == 0 else i - 1) for i, (f, p) in enumerate(mems)]
    pointers = [PointerMemory(p, i) for i, p in enumerate(ptrs)]
    feats = ImageFeatures(cur, (s0, s1), cur_pos)

    def ours_memattn():
        ours.condition_on_memory(feats, spatial, pointers, 15)
        sync()

    rows = [("image encoder", ours_encoder), ("click (prompt + decoder)", ours_click), ("memory attention, full bank", ours_memattn)]
    ref_fns = {}
    if ref is not None:
        def ref_encoder():
            ref.forward_image(image)
            sync()

        def ref_click():
            ref._forward_sam_heads(emb, {"point_coords": pts, "point_labels": labs}, None, [s0, s1], True)
            sync()

        cond = {0: {"maskmem_features": mems[0][0], "maskmem_pos_enc": [mems[0][1]], "obj_ptr": ptrs[0]}}
        non_cond = {t: {"maskmem_features": mems[i][0], "maskmem_pos_enc": [mems[i][1]], "obj_ptr": ptrs[i]} for i, t in enumerate(range(14, 20), start=1)}
        for t in range(5, 14):
            non_cond[t] = {"maskmem_features": mems[1][0], "maskmem_pos_enc": [mems[1][1]], "obj_ptr": ptrs[t - 4]}
        seq = cur.flatten(2).permute(2, 0, 1)
        seq_pos = cur_pos.flatten(2).permute(2, 0, 1)

        def ref_memattn():
            ref._prepare_memory_conditioned_features(20, False, [seq], [seq_pos], [(h, h)], {"cond_frame_outputs": cond, "non_cond_frame_outputs": non_cond}, 40)
            sync()

        ref_fns = {"image encoder": ref_encoder, "click (prompt + decoder)": ref_click, "memory attention, full bank": ref_memattn}

    if args.child:
        impl, name = args.child.split(":", 1)
        fn = dict(rows)[name] if impl == "ours" else ref_fns[name]
        with inference_context(dev, dtype), PeakRss() as m:
            fn()
            fn()
        print(f"PEAK {m.growth:.1f}")
        return

    print(f"{'':30s} {'ours':>38s} {'reference':>38s}  ratio (wall, cpu)  peak RSS growth ours/ref (MB)")
    with inference_context(dev, dtype):
        for name, fn in rows:
            with PeakRss() as mo:
                to = timeit(fn, repeat=args.repeat)
            line = f"{name:30s} {to!s:>38s}"
            if name in ref_fns:
                with PeakRss() as mr:
                    tr = timeit(ref_fns[name], repeat=args.repeat)
                line += f" {tr!s:>38s}  {to.median / tr.median:5.2f} {to.cpu / tr.cpu:5.2f}  {mo.growth:7.0f} / {mr.growth:.0f}"
            print(line, flush=True)


STAGES = ("image encoder", "click (prompt + decoder)", "memory attention, full bank")


def memory_table(args: argparse.Namespace) -> None:
    base = [sys.executable, __file__, "--variant", args.variant, "--size", str(args.size), "--device", args.device, "--dtype", args.dtype]
    if args.threads:
        base += ["--threads", str(args.threads)]
    print(f"{args.variant} at {args.size}, {args.device}: peak RSS growth over two calls, fresh process each (MB)")
    print(f"{'':30s} {'ours':>8s} {'reference':>10s}  ratio")
    for name in STAGES:
        peaks = []
        for impl in ("ours", "ref"):
            out = subprocess.run(base + ["--child", f"{impl}:{name}"], capture_output=True, text=True, check=True).stdout
            peaks.append(float(out.rsplit("PEAK", 1)[1]))
        print(f"{name:30s} {peaks[0]:8.0f} {peaks[1]:10.0f}  {peaks[0] / max(peaks[1], 1e-9):5.2f}", flush=True)


if __name__ == "__main__":
    main()
