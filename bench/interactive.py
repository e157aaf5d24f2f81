"""Click -> mask latency through the model worker, as the editor sees it (CPU, tiny at 1024).

Every figure is the time from submitting a click to the worker until its mask comes back
(``PromptAnswered``), median over ``--repeat`` clicks on different frames:

- new frame, just landed: the playhead arrived and the user clicked at once (image encoder,
  then the decoder);
- new frame, rested: the playhead rested ``--rest`` seconds first, so the worker prefetched
  (encoded) the frame; the click runs only the decoder. Goal <= 150 ms;
- correction on a tracked frame, just landed / rested: a click on a frame already tracked
  attends to the object's memory (memory attention, the longest step); resting prefetches
  that too;
- during a propagation: a click on a frame ahead of the run, answered between two of its
  frames (waits for the frame in flight, then encodes and decodes);
- the reference (``sam2==1.1.0``, same weights, same process) on a new frame.

    .venv/bin/python bench/interactive.py [--size 1024] [--repeat 3] [--rest 3] [--threads 1]

On a shared machine use ``--threads 1`` (two threads fighting other jobs spin and run several
times slower) and read the CPU seconds beside the wall time. The worker runs at normal
priority here (in the editor it yields to the GUI thread; ``--nice`` measures that).
"""

from __future__ import annotations

import argparse
import queue
import statistics
import time
import warnings

import numpy as np
import torch

from common import ROOT  # noqa: F401, I001 - puts the repository first on sys.path

from propagate import load_frames, reference_session

from sam2_studio.app.model_source import LoadedModel, ModelInfo, _video_session
from sam2_studio.app.worker import (LoadModel, ModelLoaded, ModelWorker, OpenFrames, Prefetch,
                                    PromptAnswered, Propagate, PropagationEnded, SetPrompts, SetRange)
from sam2_studio.engine import ArrayFrames
from sam2_studio.model import build_model, describe
from tests.reference import build_reference, connected_components_cpu, copy_weights, randomize_


def paired_models(variant: str, size: int):  # noqa: ANN201
    """The reference video predictor on random weights, and ours on the same weights (as
    bench/propagate.py builds them)."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = randomize_(build_reference(variant, size, video=True))
    ours = build_model(variant, size, "cpu")
    copy_weights(ref, ours)
    return ref, ours


class Source:
    """Our model, already built (the reference gets the same weights)."""

    def __init__(self, model) -> None:  # noqa: ANN001
        self.model = model
        self.description = "random weights (bench)"

    def load(self) -> LoadedModel:
        info = ModelInfo(self.model.config.name, describe(self.model.device), True, None, self.model.image_size)
        return LoadedModel(info, self.model, _video_session("sam2"))


class Bench:
    def __init__(self, model, frames) -> None:  # noqa: ANN001
        self.events: queue.Queue = queue.Queue()
        self.unclaimed: list = []  # runs that ended while waiting for something else
        self.worker = ModelWorker(self.events.put)
        self.worker.submit(OpenFrames(ArrayFrames(frames)))
        self.worker.submit(LoadModel(Source(model)))
        self.wait(ModelLoaded)
        self.size = (frames[0].shape[1], frames[0].shape[0])

    def wait(self, kind, where=lambda e: True, timeout: float = 7200):  # noqa: ANN001, ANN201
        for e in self.unclaimed:
            if isinstance(e, kind) and where(e):
                self.unclaimed.remove(e)
                return e
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=1.0)  # wakes at once when an event comes
            except queue.Empty:
                continue
            if isinstance(e, kind) and where(e):
                return e
            if isinstance(e, PropagationEnded):
                self.unclaimed.append(e)
        raise TimeoutError(kind)

    def click(self, obj: int, frame: int, negative: bool = False) -> tuple[float, float]:
        """Seconds (wall, CPU) from submitting a click to its answer."""
        w, h = self.size
        x, y = (w * 0.55, h * 0.6) if negative else (w * 0.5, h * 0.6)
        request = self.worker.next_request()
        t, c = time.perf_counter(), time.process_time()
        self.worker.submit(SetPrompts(request, obj, frame, points=np.array([[x, y]], np.float32),
                                      labels=np.array([0 if negative else 1])))
        self.wait(PromptAnswered, lambda e: e.request == request)
        return time.perf_counter() - t, time.process_time() - c

    def rest(self, frame: int, obj: int | None, seconds: float) -> None:
        """The playhead rests on ``frame``: the editor asks for a prefetch, the user looks."""
        self.worker.submit(Prefetch(frame, obj))
        time.sleep(seconds)

    def track(self, start: int, end: int) -> None:
        self.worker.submit(SetRange(start, end))
        self.worker.submit(Propagate(self.worker.next_request(), start, "forward"))
        self.wait(PropagationEnded)


def fmt(samples: list[tuple[float, float]]) -> str:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    return f"{wall * 1000:8.0f} ms  (cpu {cpu * 1000:6.0f} ms, {len(samples)} clicks)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="sam2.1_hiera_tiny")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rest", type=float, default=3.0, help="seconds the playhead rests before a click")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--nice", action="store_true", help="the worker yields the CPU as in the editor")
    args = ap.parse_args()
    if not args.nice:
        import sam2_studio.app.worker as worker_module

        worker_module.lower_thread_priority = lambda step=0: False
    if args.threads:
        torch.set_num_threads(args.threads)
    r = args.repeat
    n = 5 * r + 4  # new frames 1..2r, corrections 2r+1..4r, then frames ahead of a run
    frames = load_frames(n)
    ref, ours = paired_models(args.variant, args.size)
    print(f"interactive: {args.variant} at {args.size}, frames {frames[0].shape[1]}x{frames[0].shape[0]}, "
          f"{describe(ours.device)}, torch threads {torch.get_num_threads()}")
    b = Bench(ours, frames)
    results: dict[str, list[tuple[float, float]]] = {}
    # clicks on new frames: odd frames just landed, even frames rested
    b.click(1, 0)  # warm-up (first call allocations); object 1 starts on frame 0
    for k in range(args.repeat):
        results.setdefault("new frame, just landed", []).append(b.click(2 + k, 1 + 2 * k))
        b.rest(2 + 2 * k, 10 + k, args.rest)
        results.setdefault(f"new frame, rested {args.rest:g} s", []).append(b.click(10 + k, 2 + 2 * k))
    # corrections on tracked frames of object 1
    first = 2 * r + 1
    b.track(0, 4 * r)
    for k in range(args.repeat):
        landed, rested = first + 2 * k, first + 2 * k + 1
        results.setdefault("correction on a tracked frame, just landed", []).append(b.click(1, landed, negative=True))
        b.rest(rested, 1, args.rest)
        results.setdefault(f"correction on a tracked frame, rested {args.rest:g} s", []).append(
            b.click(1, rested, negative=True))
    # a click during a propagation (object 20 on a frame the run has not reached)
    b.worker.submit(SetRange(0, n - 1))
    b.worker.submit(Propagate(b.worker.next_request(), 4 * r + 1, "forward"))
    during = []
    for k in range(args.repeat):
        time.sleep(1.0)
        if b.unclaimed:
            print("(the run ended before every click during it was made)")
            break
        during.append(b.click(20 + k, n - 1 - k))
    results["during a propagation (new frame ahead of the run)"] = during
    b.wait(PropagationEnded)
    b.worker.stop()

    if not args.skip_reference:
        import sam2.utils.misc

        sam2.utils.misc.get_connected_components = connected_components_cpu
        images = torch.cat([ours.preprocess(f) for f in frames])
        state = reference_session(ref, frames, images)
        w, h = b.size
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            ref.add_new_points_or_box(state, 0, 1, points=[[w * 0.5, h * 0.6]], labels=[1])  # warm-up
            for k in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                ref.add_new_points_or_box(state, 1 + 2 * k, 2 + k, points=[[w * 0.5, h * 0.6]], labels=[1])
                results.setdefault("reference, new frame", []).append((time.perf_counter() - t, time.process_time() - c))
    print(f"{'click':58s} {'latency':>10s}")
    for name, samples in results.items():
        print(f"{name:58s} {fmt(samples)}")


if __name__ == "__main__":
    main()
