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


# == clicks between two frames of a run, prefetch while idle ==============================
def run_events(events: Events, timeout: float = 120.0) -> list:
    """Events until the run ends (that one included)."""
    seen = []
    while True:
        e = events.wait_for(object, timeout=timeout)
        seen.append(e)
        if isinstance(e, PropagationEnded):
            return seen


@pytest.mark.parametrize("direction, click_after", [("forward", 2), ("both", 3), ("both", 15), ("backward", 2)])
def test_a_click_during_a_run_is_answered_between_two_frames(worker, events, car, direction, click_after):
    source = GroundTruthSource(car, delay_s=0.03)
    start(worker, events, source, ArrayFrames(car.frames))
    x, y = click_inside(car, 6)
    worker.submit(SetPrompts(worker.next_request(), 1, 6, points=np.array([[x, y]]), labels=np.array([1])))
    events.wait_for(PromptAnswered)
    plain = list(source.sessions[-1].propagate(start=6, direction=direction))
    expected = [r.frame for r in plain]
    worker.submit(Propagate(worker.next_request(), 6, direction))
    seen = []
    while len([e for e in seen if isinstance(e, FramePropagated)]) < min(click_after, len(expected) - 1):
        seen.append(events.wait_for(object))
    # a second object clicked on another frame while the run goes on
    x2, y2 = click_inside(car, 9)
    click = worker.next_request()
    worker.submit(SetPrompts(click, 2, 9, points=np.array([[x2, y2]]), labels=np.array([1])))
    seen += run_events(events)
    kinds = [type(e).__name__ for e in seen]
    answered = next(i for i, e in enumerate(seen) if isinstance(e, PromptAnswered) and e.request == click)
    assert answered < kinds.index("PropagationEnded"), kinds
    frames = [e.frame for e in seen if isinstance(e, FramePropagated)]
    assert frames == expected, "every frame of the run, once, in order"
    done = [e.done for e in seen if isinstance(e, FramePropagated)]
    assert done == list(range(1, len(done) + 1))
    ended = seen[-1]
    assert not ended.cancelled and ended.error is None and ended.frames == len(expected)
    # the run went on with the click in the session: frames after it track object 2 as well,
    # and frame 9 keeps the click's answer (it is a prompted frame now)
    later = [e for e in seen[answered:] if isinstance(e, FramePropagated)]
    assert all(2 not in e.masks for e in later if e.frame == 9)
    assert any(2 in e.masks for e in later if e.frame != 9) or len(later) <= 1


def test_cancel_while_answering_between_frames_stops_the_run(worker, events, car):
    source = GroundTruthSource(car, delay_s=0.05)
    start(worker, events, source, ArrayFrames(car.frames))
    x, y = click_inside(car)
    worker.submit(SetPrompts(worker.next_request(), 1, 0, points=np.array([[x, y]]), labels=np.array([1])))
    events.wait_for(PromptAnswered)
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    events.wait_for(FramePropagated, where=lambda e: e.done >= 2)
    worker.submit(SetPrompts(worker.next_request(), 1, 5, points=np.array([[x, y]]), labels=np.array([0])))
    worker.cancel()
    ended = events.wait_for(PropagationEnded)
    assert ended.cancelled and ended.frames < len(car.frames)
    events.wait_for(PromptAnswered, where=lambda e: e.frame == 5)  # the click is answered all the same


class PrefetchingSession:
    """A ground-truth session that records prefetches (and can be slow at them)."""

    def __init__(self, inner, delay_s: float = 0.0) -> None:  # noqa: ANN001
        self.inner, self.delay_s, self.prefetched = inner, delay_s, []

    def prefetch(self, frame: int, obj_id: int | None = None) -> None:
        time.sleep(self.delay_s)
        self.prefetched.append((frame, obj_id))

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.inner, name)


def test_prefetch_runs_only_when_nothing_else_waits(worker, events, car):
    from sam2_studio.app.worker import Prefetch

    source = GroundTruthSource(car)
    start(worker, events, source, ArrayFrames(car.frames))
    session = worker.session = PrefetchingSession(source.sessions[-1], delay_s=0.2)
    worker.submit(Prefetch(3, 1))
    assert worker.wait_idle()
    assert session.prefetched == [(3, None), (3, 1)]  # the frame, then the object's memory
    # a click queued behind a prefetch waits for one step at most, then the rest gives way
    session.prefetched.clear()
    worker.submit(Prefetch(4, 1))
    time.sleep(0.05)  # the first step is under way
    x, y = click_inside(car, 4)
    t = time.monotonic()
    worker.submit(SetPrompts(worker.next_request(), 1, 4, points=np.array([[x, y]]), labels=np.array([1])))
    events.wait_for(PromptAnswered)
    assert time.monotonic() - t < 0.2 + 0.15
    assert session.prefetched == [(4, None)]
    # queued behind another command, a prefetch is stale: dropped
    worker.submit(SetPrompts(worker.next_request(), 1, 4, points=np.array([[x, y]]), labels=np.array([1])))
    worker.submit(Prefetch(5))
    worker.submit(SetPrompts(worker.next_request(), 1, 4, points=np.array([[x, y]]), labels=np.array([1])))
    assert worker.wait_idle()
    assert session.prefetched == [(4, None)]
    # a session without prefetch (the ground-truth one) ignores it; a bad frame is no error
    worker.session = source.sessions[-1]
    worker.submit(Prefetch(2))
    assert worker.wait_idle()
    assert not [e for e in events.seen if isinstance(e, CommandFailed)]


@pytest.mark.slow
def test_the_real_engine_answers_a_click_during_a_run_and_finishes_consistently(worker, events):
    """Random weights: a correction on a tracked frame and a new object, clicked mid-run, are
    answered before the run ends; the run's masks equal those of the same edits made with
    no run open (stop, click, track on from the next frame)."""
    rng = np.random.default_rng(0)
    frames = [(rng.random((96, 128, 3)) * 255).astype(np.uint8) for _ in range(8)]
    for i, f in enumerate(frames):
        f[30:60, 20 + 8 * i:50 + 8 * i] = (230, 60, 40)
    source = RandomWeights(image_size=128)
    start(worker, events, source, ArrayFrames(frames))
    click = np.array([[35.0, 45.0]], np.float32)
    worker.submit(SetPrompts(worker.next_request(), 1, 0, points=click, labels=np.array([1])))
    first = events.wait_for(PromptAnswered).mask
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    events.wait_for(FramePropagated, where=lambda e: e.frame == 2, timeout=120)
    fix = worker.next_request()
    worker.submit(SetPrompts(fix, 1, 1, points=np.array([[40.0, 45.0], [70.0, 20.0]], np.float32),
                             labels=np.array([1, 0])))
    new = worker.next_request()
    worker.submit(SetPrompts(new, 2, 6, points=np.array([[100.0, 80.0]], np.float32), labels=np.array([1])))
    seen = run_events(events, timeout=300)
    kinds = [(type(e).__name__, getattr(e, "request", None)) for e in seen]
    end = kinds.index(("PropagationEnded", seen[-1].request))
    assert kinds.index(("PromptAnswered", fix)) < end and kinds.index(("PromptAnswered", new)) < end
    assert seen[-1].error is None and not seen[-1].cancelled
    got = {e.frame: e.masks for e in events.seen if isinstance(e, FramePropagated)}
    assert sorted(got) == list(range(8))
    answers = {e.request: e.mask for e in seen if isinstance(e, PromptAnswered)}

    # the same edits, made by hand on a fresh session of the same model: the run stopped
    # after the frame before the answers, the clicks, then on from the next frame
    at = next(i for i, e in enumerate(events.seen) if isinstance(e, PromptAnswered) and e.request == fix)
    k = [e.frame for e in events.seen[:at] if isinstance(e, FramePropagated)][-1]
    s = worker.model.new_session(ArrayFrames(frames))
    assert np.array_equal(s.add_points(0, 1, click, [1]).masks[1], first)
    run = s.propagate(start=0)
    for r in run:
        if r.frame == k:
            break
    run.close()
    assert np.array_equal(s.add_points(1, 1, [[40.0, 45.0], [70.0, 20.0]], [1, 0]).masks[1], answers[fix])
    assert np.array_equal(s.add_points(6, 2, [[100.0, 80.0]], [1]).masks[2], answers[new])
    for r in s.propagate(start=k + 1):
        for obj in r.computed:
            assert np.array_equal(got[r.frame][obj], r.masks[obj]), (r.frame, obj)
    assert np.array_equal(worker.session.mask(6, 2), answers[new])
    assert worker.session.stale_ranges() == s.stale_ranges()


def test_a_prefetch_during_a_run_is_dropped_without_stopping_it(worker, events, car):
    from sam2_studio.app.worker import Prefetch

    source = GroundTruthSource(car, delay_s=0.05)
    start(worker, events, source, ArrayFrames(car.frames))
    session = worker.session = PrefetchingSession(source.sessions[-1])
    x, y = click_inside(car)
    worker.submit(SetPrompts(worker.next_request(), 1, 0, points=np.array([[x, y]]), labels=np.array([1])))
    worker.submit(Propagate(worker.next_request(), 0, "forward"))
    events.wait_for(FramePropagated, where=lambda e: e.done >= 2)
    worker.submit(Prefetch(7, 1))
    ended = events.wait_for(PropagationEnded)
    assert ended.frames == len(car.frames) and session.prefetched == []
    assert [c for c in session.inner.calls if c.startswith("propagate")] == ["propagate forward from 0"]
    assert worker.wait_idle()
