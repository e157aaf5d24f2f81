"""The tracker keeps the worker's session in step with the document and writes answers back."""

from __future__ import annotations

import queue
import sqlite3
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.app.tracking import Tracker, prompt_command
from sam2_studio.app.worker import ModelWorker, PropagationEnded
from sam2_studio.engine import ArrayFrames
from sam2_studio.project import Document, VideoInfo
from tests.ground_truth import GroundTruthSource, load_clip


@pytest.fixture(scope="module")
def car(data_dir):
    return load_clip(data_dir / "davis16_car-shadow", count=10, scale=0.25)


def new_doc(clip) -> Document:  # noqa: ANN001
    w, h = clip.size
    return Document(VideoInfo(Path("/clips/car.mp4"), w, h, len(clip.frames), Fraction(24), 1, "sha256:x"))


class Harness:
    """A tracker driven like the GUI drives it: worker events handled on this thread."""

    def __init__(self, clip, delay_s: float = 0.0) -> None:  # noqa: ANN001
        self.q: queue.Queue = queue.Queue()
        self.worker = ModelWorker(self.q.put)
        self.tracker = Tracker(self.worker)
        self.source = GroundTruthSource(clip, delay_s)
        self.doc = new_doc(clip)
        self.tracker.attach(self.doc, ArrayFrames(clip.frames))
        self.tracker.load_model(self.source)
        self.pump(lambda: self.tracker.has_model)
        self.handled: list = []

    def pump(self, until, timeout: float = 30.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until():
                return
            try:
                e = self.q.get(timeout=0.02)
            except queue.Empty:
                continue
            self.tracker.handle(e)
            getattr(self, "handled", []).append(e)
        raise AssertionError("timed out")

    def click(self, clip, frame: int = 0, name: str | None = None):  # noqa: ANN001, ANN201
        """A new object clicked inside the clip's object on ``frame``, answered by the engine."""
        obj = self.doc.add_object(name)
        x, y = inside(clip, frame)
        with self.tracker.answering():
            self.doc.add_point(obj.id, frame, x, y)
        self.settle()
        return obj

    def settle(self) -> None:
        """Until the worker has answered everything sent so far."""
        assert self.worker.wait_idle()
        self.pump(lambda: self.q.empty())

    def close(self) -> None:
        self.tracker.close()
        self.worker.stop()


@pytest.fixture
def h(car):
    harness = Harness(car)
    yield harness
    harness.close()


def inside(clip, frame=0):  # noqa: ANN001, ANN201
    ys, xs = np.nonzero(clip.labels[frame])
    return float(xs[len(xs) // 2]) + 0.5, float(ys[len(ys) // 2]) + 0.5


def test_a_click_gets_its_mask_in_the_same_undo_step(h, car):
    obj = h.click(car, name="Car")
    assert np.array_equal(h.doc.mask(obj.id, 0), car.labels[0] == 1)
    assert h.doc.history.undo_label == "Add point"
    h.doc.undo()  # prompt and mask go together
    assert h.doc.prompts(obj.id, 0) == () and h.doc.mask(obj.id, 0) is None
    h.settle()
    h.doc.redo()
    h.settle()
    assert np.array_equal(h.doc.mask(obj.id, 0), car.labels[0] == 1)
    assert h.doc.history.can_undo and not h.doc.history.can_redo


def test_an_undo_is_not_answered_into_the_document(h, car):
    obj = h.click(car)
    steps = h.doc.history.steps
    h.doc.undo()
    h.doc.redo()
    h.settle()
    assert h.doc.history.steps == steps and h.doc.history.can_undo  # redo stack intact, nothing new


def test_propagation_fills_every_frame_as_one_undo_step(h, car):
    obj = h.click(car, 4)
    h.tracker.propagate("both", start=4)
    h.pump(lambda: not h.tracker.running)
    assert h.doc.mask_frames(obj.id) == list(range(len(car.frames)))
    for f in range(len(car.frames)):
        assert np.array_equal(h.doc.mask(obj.id, f), car.labels[f] == 1), f
    assert h.doc.history.undo_label == "Track both ways"
    h.doc.undo()
    assert h.doc.mask_frames(obj.id) == [4]


def test_in_out_points_bound_the_run(h, car):
    obj = h.doc.add_object()
    x, y = inside(car, 3)
    with h.tracker.answering():
        h.doc.add_point(obj.id, 3, x, y)
    h.doc.set_frame_range(2, 6)
    h.settle()
    h.tracker.propagate("both", start=3)
    h.pump(lambda: not h.tracker.running)
    assert h.doc.mask_frames(obj.id) == [2, 3, 4, 5, 6]


def test_locked_objects_keep_their_masks(h, car):
    obj = h.click(car)
    h.doc.update_object(obj.id, locked=True)
    h.tracker.propagate("forward", start=0)
    h.pump(lambda: not h.tracker.running)
    assert h.doc.mask_frames(obj.id) == [0]


def test_a_brush_stroke_is_sent_as_a_mask_prompt(h, car):
    obj = h.doc.add_object()
    stroke = h.doc.begin_stroke(obj.id, 2, radius=5)
    stroke.add_points((40, 40), (60, 40))
    stroke.finish()
    cmd = prompt_command(h.doc, obj.id, 2, request=1)
    assert cmd.mask is not None and cmd.mask[40, 50] and cmd.points is None
    h.settle()
    assert "mask 1@2" in h.source.sessions[-1].calls
    painted = h.doc.mask(obj.id, 2)
    assert painted[40, 50]  # the painted mask stays as painted: the answer is not written


def test_removing_an_object_tells_the_session(h, car):
    obj = h.click(car)
    h.doc.remove_object(obj.id)
    h.settle()
    assert "remove 1" in h.source.sessions[-1].calls
    h.doc.undo()  # back, with its prompts: the session hears them again
    h.settle()
    assert h.source.sessions[-1].calls[-1] == "points 1@0"


def test_cancel_keeps_what_was_tracked(car):
    h = Harness(car, delay_s=0.05)
    try:
        obj = h.click(car)
        h.tracker.propagate("forward", start=0)
        h.pump(lambda: len(h.doc.mask_frames(obj.id)) >= 3)
        h.tracker.cancel()
        h.pump(lambda: not h.tracker.running)
        ended = [e for e in h.handled if isinstance(e, PropagationEnded)][-1]
        assert ended.cancelled
        n = len(h.doc.mask_frames(obj.id))
        assert 3 <= n < len(car.frames)
        assert not h.doc.history.in_group and h.doc.history.undo_label == "Track forward"
    finally:
        h.close()


def test_the_models_evidence_lands_with_the_masks(h, car):
    obj = h.click(car)
    assert h.doc.evidence(obj.id, 0).object_score == 8.0  # the click's answer, same step
    h.tracker.propagate("forward", start=0)
    h.pump(lambda: not h.tracker.running)
    for f in range(1, len(car.frames)):
        ev = h.doc.evidence(obj.id, f)
        assert ev.object_score == 8.0 and 0.88 <= ev.iou <= 0.97 and 0.75 <= ev.agreement <= 0.95
    h.doc.undo()
    assert h.doc.evidence(obj.id, 3) is None


def test_changing_the_memory_restarts_the_session_and_outdates_the_tracks(h, car):
    obj = h.click(car)
    h.tracker.propagate("forward", start=0)
    h.pump(lambda: not h.tracker.running)
    h.settle()
    first = h.source.sessions[-1]
    assert first.policy == "sam2" and h.tracker.state.stale == {}
    h.doc.set_memory_policy("distractor_aware")
    h.settle()
    session = h.source.sessions[-1]
    assert session is not first and session.policy == "distractor_aware"
    assert session.calls == ["points 1@0"]  # the prompts went again
    n = len(car.frames)
    assert h.tracker.state.stale == {obj.id: [(1, n - 1)]}
    h.tracker.propagate("forward", start=0)  # tracking again with it clears them
    h.pump(lambda: not h.tracker.running)
    h.settle()
    assert h.tracker.state.stale == {}


def test_injected_faults_reach_the_review_through_the_worker(car):
    """End to end: a faulty engine's masks and evidence through the worker and tracker into
    the document, where the review finds them."""
    from sam2_studio.app.review import Review
    from tests.faults import Fault, FaultyClip

    faults = [Fault("lost", 3), Fault("swap", 6)]
    clip = FaultyClip(car.frames, car.labels, faults, noise_seed=None)
    h = Harness(clip)
    try:
        obj = h.click(car)
        h.tracker.propagate("forward", start=0)
        h.pump(lambda: not h.tracker.running)
        review = Review(h.doc)
        assert [(s.frame, s.text) for s in review.suspects()] == [(3, "vanishes"), (6, "jumps")]
        assert h.doc.evidence(obj.id, 3).object_score < 0  # the engine said: not there
        h.doc.set_checked([(obj.id, 3)])
        assert [s.frame for s in review.suspects()] == [6]
    finally:
        h.close()


def test_a_click_during_a_run_is_answered_in_its_own_step_and_the_run_goes_on(car):
    h = Harness(car, delay_s=0.08)
    try:
        car_obj = h.click(car, 0, name="Car")
        h.tracker.propagate("forward", start=0)
        h.pump(lambda: len(h.doc.mask_frames(car_obj.id)) >= 3)
        assert h.tracker.running
        x, y = inside(car, 8)
        with h.tracker.answering():  # as the editor does it: the run's step closes first
            other = h.doc.add_object("Second")
            h.doc.add_point(other.id, 8, x, y)
        h.pump(lambda: h.doc.mask(other.id, 8) is not None)
        assert h.tracker.running, "the click was answered between two frames, not after the run"
        h.pump(lambda: not h.tracker.running)
        assert h.doc.mask_frames(car_obj.id) == list(range(len(car.frames)))
        for f in range(len(car.frames)):
            assert np.array_equal(h.doc.mask(car_obj.id, f), car.labels[f] == 1), f
        assert np.array_equal(h.doc.mask(other.id, 8), car.labels[8] == 1)
        # undo goes back in the order things happened: the rest of the run, the click (with
        # its answer), the new object, the run's first part
        labels = []
        while h.doc.history.can_undo and len(labels) < 4:
            labels.append(h.doc.undo())
        assert labels == ["Track forward", "Add point", "Add Second", "Track forward"]
        assert h.doc.mask_frames(car_obj.id) == [0]
    finally:
        h.close()


def test_prefetch_is_asked_only_with_a_model_and_no_run(car):
    from sam2_studio.app.worker import Prefetch

    h = Harness(car, delay_s=0.05)
    try:
        sent = []
        real = h.worker.submit
        h.worker.submit = lambda c: (sent.append(c), real(c))  # type: ignore[method-assign]
        h.tracker.prefetch(3, 1)
        assert sent == [Prefetch(3, 1)]
        h.tracker.prefetch(99)  # outside the clip: nothing
        obj = h.click(car)
        h.tracker.propagate("forward", start=0)
        sent.clear()
        h.tracker.prefetch(5, obj.id)
        assert not [c for c in sent if isinstance(c, Prefetch)]
        h.pump(lambda: not h.tracker.running)
    finally:
        h.close()
    h2 = Harness.__new__(Harness)  # a tracker that never loaded a model sends nothing
    from sam2_studio.app.worker import ModelWorker

    h2.q = queue.Queue()
    worker = ModelWorker(h2.q.put)
    try:
        tracker = Tracker(worker)
        tracker.attach(new_doc(car), ArrayFrames(car.frames))
        sent = []
        worker.submit = lambda c: sent.append(c)  # type: ignore[method-assign]
        tracker.prefetch(2)
        assert sent == []
    finally:
        worker.stop()


def test_a_full_disk_pauses_the_run_and_keeps_every_frame(car, tmp_path):
    from sam2_studio.project.mask_store import MaskStore

    h = Harness(car, delay_s=0.05)
    notices = []
    h.tracker.notices.connect(notices.append)
    store = MaskStore(tmp_path / "masks.sqlite", retry_s=3600)
    try:
        h.doc.use_store(store)
        obj = h.click(car)
        h.tracker.propagate("forward", start=0)
        h.pump(lambda: len(h.doc.mask_frames(obj.id)) >= 3)

        def full(*args):  # noqa: ANN002, ANN202 - what SQLite raises on ENOSPC
            raise sqlite3.OperationalError("database or disk is full")

        store._transaction = full  # type: ignore[method-assign]  # the disk fills up
        h.pump(lambda: not h.tracker.running)
        ended = [e for e in h.handled if isinstance(e, PropagationEnded)][-1]
        assert ended.cancelled, "the run went on with a full disk"
        assert any(n.level == "error" and "paused" in n.text and "full" in n.text for n in notices)
        assert "paused after" in notices[-1].text
        tracked = h.doc.mask_frames(obj.id)
        assert len(tracked) < len(car.frames)
        for f in tracked:  # everything tracked is there, from the disk or from RAM
            assert np.array_equal(h.doc.mask(obj.id, f), car.labels[f] == 1), f
    finally:
        h.close()
        store.close()
