"""The model worker: commands in order on one thread, streamed propagation, cancel, errors."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest

from sam2_studio.app.model_source import CheckpointFile, RandomWeights, random_weights_from_env
from sam2_studio.app.worker import (CommandFailed, FramePropagated, LoadModel, ModelFailed,
                                    ModelLoaded, ModelWorker, OpenFrames, PromptAnswered,
                                    Propagate, PropagationEnded, PropagationStarted, SetPrompts)
from sam2_studio.engine import ArrayFrames
from tests.ground_truth import GroundTruthSource, load_clip


class Events:
    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()
        self.seen: list = []
        self.threads: set[str] = set()

    def __call__(self, event) -> None:  # noqa: ANN001
        self.threads.add(threading.current_thread().name)
        self.q.put(event)

    def wait_for(self, kind, timeout: float = 60.0, where=lambda e: True):  # noqa: ANN001, ANN201
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.q.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(e)
            if isinstance(e, kind) and where(e):
                return e
        raise AssertionError(f"no {kind} within {timeout}s; saw {[type(e).__name__ for e in self.seen]}")


@pytest.fixture(scope="module")
def car(data_dir):
    return load_clip(data_dir / "davis16_car-shadow", count=12, scale=0.25)


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def worker(events):
    w = ModelWorker(events)
    yield w
    w.stop()
    assert not w.alive


def start(worker: ModelWorker, events: Events, source, frames) -> None:  # noqa: ANN001
    worker.submit(OpenFrames(frames))
    worker.submit(LoadModel(source))
    events.wait_for(ModelLoaded)


def click_inside(clip, frame: int = 0) -> tuple[float, float]:  # noqa: ANN001
    ys, xs = np.nonzero(clip.labels[frame])
    k = len(xs) // 2
    return float(xs[k]) + 0.5, float(ys[k]) + 0.5


def test_prompt_answer_and_propagation_stream_frame_by_frame(worker, events, car):
    start(worker, events, GroundTruthSource(car), ArrayFrames(car.frames))
    x, y = click_inside(car)
    r = worker.next_request()
    worker.submit(SetPrompts(r, 1, 0, points=np.array([[x, y]], np.float32), labels=np.array([1])))
    answer = events.wait_for(PromptAnswered)
    assert answer.request == r and answer.obj == 1 and np.array_equal(answer.mask, car.labels[0] == 1)

    p = worker.next_request()
    worker.submit(Propagate(p, 0, "forward"))
    started = events.wait_for(PropagationStarted)
    assert started.total == len(car.frames)
    frames = []
    while True:
        e = events.wait_for((FramePropagated, PropagationEnded))
        if isinstance(e, FramePropagated):
            frames.append(e.frame)
            if 1 in e.masks:
                assert np.array_equal(e.masks[1], car.labels[e.frame] == 1)
        if isinstance(e, PropagationEnded):
            break
    assert frames == list(range(len(car.frames)))
    assert e.frames == len(car.frames) and not e.cancelled and e.error is None
    assert events.threads == {"model-worker"}


def test_cancel_stops_at_the_next_frame_and_the_worker_goes_on(worker, events, car):
    start(worker, events, GroundTruthSource(car, delay_s=0.05), ArrayFrames(car.frames))
    x, y = click_inside(car)
    worker.submit(SetPrompts(worker.next_request(), 1, 0, points=np.array([[x, y]]), labels=np.array([1])))
    events.wait_for(PromptAnswered)
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    events.wait_for(FramePropagated, where=lambda e: e.done >= 2)
    worker.cancel()
    ended = events.wait_for(PropagationEnded)
    assert ended.cancelled and ended.frames < len(car.frames)
    # a new run after the cancel is not cancelled by it
    worker.submit(Propagate(worker.next_request(), 0, "backward"))
    ended = events.wait_for(PropagationEnded)
    assert not ended.cancelled and ended.frames == 1


def test_out_of_memory_is_reported_and_the_session_keeps_working(worker, events, car):
    source = GroundTruthSource(car)
    start(worker, events, source, ArrayFrames(car.frames))
    x, y = click_inside(car)
    worker.submit(SetPrompts(worker.next_request(), 1, 0, points=np.array([[x, y]]), labels=np.array([1])))
    events.wait_for(PromptAnswered)
    source.sessions[-1].fail_next = "CUDA out of memory. Tried to allocate 2.00 GiB"
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    ended = events.wait_for(PropagationEnded)
    assert ended.error and "out of memory" in ended.error and "smaller model" in ended.error
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    ended = events.wait_for(PropagationEnded)
    assert ended.error is None and ended.frames == len(car.frames)


def test_a_bad_prompt_is_reported_as_a_failed_command(worker, events, car):
    start(worker, events, GroundTruthSource(car), ArrayFrames(car.frames))
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    ended = events.wait_for(PropagationEnded)
    assert "no object has a prompt" in ended.error


def test_a_wrong_checkpoint_fails_with_the_file_named(worker, events, tmp_path):
    bad = tmp_path / "sam2.1_hiera_tiny.pt"
    bad.write_bytes(b"<html>not found</html>")
    worker.submit(LoadModel(CheckpointFile(bad)))
    failed = events.wait_for(ModelFailed)
    assert failed.path == str(bad) and "not a PyTorch checkpoint" in failed.message


def test_the_real_engine_with_random_weights(worker, events):
    rng = np.random.default_rng(0)
    frames = [(rng.random((96, 128, 3)) * 255).astype(np.uint8) for _ in range(4)]
    for i, f in enumerate(frames):
        f[30:60, 20 + 10 * i:50 + 10 * i] = (230, 60, 40)
    start(worker, events, RandomWeights(image_size=256), ArrayFrames(frames))
    loaded = [e for e in events.seen if isinstance(e, ModelLoaded)][0]
    assert loaded.info.random_weights and "RANDOM WEIGHTS" in loaded.info.label
    worker.submit(SetPrompts(worker.next_request(), 1, 0, points=np.array([[35.0, 45.0]]), labels=np.array([1])))
    answer = events.wait_for(PromptAnswered)
    assert answer.mask.shape == (96, 128) and answer.mask.dtype == bool
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    ended = events.wait_for(PropagationEnded, timeout=120)
    assert ended.error is None and ended.frames == 4
    got = [e.frame for e in events.seen if isinstance(e, FramePropagated)]
    assert got == [0, 1, 2, 3]
    assert not [e for e in events.seen if isinstance(e, CommandFailed)]


def test_out_of_gpu_memory_in_the_real_engine_names_the_frame_and_keeps_the_rest(worker, events):
    """Injected into the real engine: the frames before it arrive, the message says which
    frame, how much was asked for and what to try, and the next run goes on."""
    import torch

    rng = np.random.default_rng(0)
    frames = [(rng.random((96, 128, 3)) * 255).astype(np.uint8) for _ in range(5)]
    start(worker, events, RandomWeights(image_size=128), ArrayFrames(frames))
    model = worker.model.model
    attention, seen = model.memory_attention.forward, {"calls": 0}

    def failing(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        seen["calls"] += 1
        if seen["calls"] == 3:  # frames 1, 2 pass; frame 3 runs out of memory
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 512.00 MiB.")
        return attention(*args, **kw)

    model.memory_attention.forward = failing
    worker.submit(SetPrompts(worker.next_request(), 1, 0, points=np.array([[35.0, 45.0]]), labels=np.array([1])))
    events.wait_for(PromptAnswered)
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    ended = events.wait_for(PropagationEnded, timeout=120)
    assert [e.frame for e in events.seen if isinstance(e, FramePropagated)] == [0, 1, 2]
    assert "frame 3" in ended.error and "512.00 MiB" in ended.error and "smaller working resolution" in ended.error
    del model.memory_attention.forward
    worker.submit(Propagate(worker.next_request(), 3, "forward"))
    ended = events.wait_for(PropagationEnded, timeout=120)
    assert ended.error is None and ended.frames == 2


def test_random_weights_switch():
    assert random_weights_from_env({}) is None
    assert random_weights_from_env({"SAM2_STUDIO_RANDOM_WEIGHTS": "0"}) is None
    assert random_weights_from_env({"SAM2_STUDIO_RANDOM_WEIGHTS": "1"}) == RandomWeights()
    rw = random_weights_from_env({"SAM2_STUDIO_RANDOM_WEIGHTS": "sam2_hiera_small@512"})
    assert rw.variant == "sam2_hiera_small" and rw.image_size == 512
