"""Batch throughput: shots per hour with 1 and 2 local workers, and Ray's cost per shot.

Every configuration runs the same jobs file through ``sam2-studio batch --force`` in this
process: N shots of the DAVIS car-shadow clip (10 frames at 214×120, one box prompt, a
project and a PNG matte sequence each).

1. ``model``: random weights at a small input size (``--image-size``, default 128) on the
   CPU: the real engine, so the shots cost what tracking costs. 1 local worker (in this
   process, all threads; and again with 1 thread), 2 local workers (processes, threads
   shared out), and Ray on a local cluster of 2 CPUs (a task a CPU).
2. ``overhead``: the ground-truth test engine (no model: a shot is decoding, writing and
   bookkeeping), 1 local worker against Ray, to show what Ray adds per shot: scheduling, a
   worker process per CPU, the model shipped and loaded once per worker.

Ray is timed twice: the first batch on a new cluster (its workers start and load the model),
then again on the warm cluster. Wall time is what a user waits; CPU time is this process's
and its worker processes' (Ray's own processes are not counted).

    .venv/bin/python bench/batch.py [--shots 4] [--image-size 128] [--skip-ray]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT  # noqa: I001

from sam2_studio.app.cli import CliContext, run
from tests.ground_truth import GroundTruthSource, load_clip
from tests.media.clips import encode

DATA = ROOT.parent / "shared" / "data" / "davis16_car-shadow"


def make_jobs(folder: Path, shots: int) -> tuple[Path, object]:
    truth = load_clip(DATA, count=10, scale=0.25)
    encode(folder / "car.mp4", truth.frames, rate=25)
    ys, xs = np.nonzero(truth.mask(0, 1))
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    (folder / "p.json").write_text(json.dumps([{"frame": 0, "object": "car", "box": box}]))
    jobs = [{"shot": f"sh{i:03d}", "video": "car.mp4", "prompts": "p.json",
             "project": f"out/sh{i:03d}.s2s", "mattes": f"out/sh{i:03d}"} for i in range(shots)]
    path = folder / "jobs.json"
    path.write_text(json.dumps(jobs))
    return path, truth


def batch(argv: list[str], source: object | None = None) -> tuple[float, float]:
    """(wall s, CPU s of this process and its finished children) of one batch run."""
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO())
    if source is not None:
        ctx.model_source = lambda args: source
    cpu0 = _cpu()
    t0 = time.perf_counter()
    code = run(argv, lambda path: 1, context=ctx)
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"batch {' '.join(argv)} failed ({code}):\n{ctx.stderr.getvalue()}")
    return wall, _cpu() - cpu0


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def row(label: str, shots: int, wall: float, cpu: float, base: float | None = None) -> str:
    extra = f"   {(wall - base) / shots:+7.2f} s/shot vs 1 local worker" if base is not None else ""
    return (f"{label:<34}{wall:8.1f} s wall {cpu:8.1f} s CPU {wall / shots:7.2f} s/shot "
            f"{shots / wall * 3600:8.0f} shots/hour{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs, truth = make_jobs(Path(tmp), args.shots)
        model = ["batch", str(jobs), "--force", "--random-weights", "--image-size",
                 str(args.image_size), "--device", "cpu"]
        n = args.shots
        print(f"{n} shots of 10 frames (214×120); random weights sam2.1_hiera_tiny @ "
              f"{args.image_size}px on the CPU")
        one = batch(model + ["--workers", "1"])
        print(row("model, 1 local worker", n, *one))
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # what each of 2 workers gets on 2 cores
        try:
            print(row("model, 1 local worker, 1 thread", n, *batch(model + ["--workers", "1"])))
        finally:
            torch.set_num_threads(threads)
        two = batch(model + ["--workers", "2"])
        print(row("model, 2 local workers", n, *two))
        truth_source = GroundTruthSource(truth)
        base = batch(["batch", str(jobs), "--force"], truth_source)
        print(row("overhead, 1 local worker", n, *base))
        if args.skip_ray:
            return
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        try:
            cold = batch(["batch", str(jobs), "--force", "--ray", "auto"], truth_source)
            print(row("overhead, Ray (new cluster)", n, *cold, base=base[0]))
            warm = batch(["batch", str(jobs), "--force", "--ray", "auto"], truth_source)
            print(row("overhead, Ray (warm cluster)", n, *warm, base=base[0]))
            ray_model = batch(model + ["--ray", "auto"])
            print(row("model, Ray 2 CPUs (1 a shot)", n, *ray_model, base=two[0]).replace(
                "vs 1 local worker", "vs 2 local workers"))
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
