"""The preview thread: latest request wins, a bad frame is reported and the thread goes on,
stack changes reach the renderer before the next picture."""

from __future__ import annotations

import threading
import time

import numpy as np

from sam2_studio.app.preview import PreviewRequest, PreviewService


class Sink:
    def __init__(self) -> None:
        self.frames = []
        self.event = threading.Event()

    def __call__(self, frame) -> None:  # noqa: ANN001
        self.frames.append(frame)
        self.event.set()

    def wait_for(self, predicate, timeout: float = 5.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.005)


def slow_frames(delay: float = 0.02):  # noqa: ANN201
    def read(i: int) -> np.ndarray:
        time.sleep(delay)
        if i == 13:
            raise OSError("damaged packet")
        return np.full((4, 6, 3), i, np.uint8)

    return read


def test_latest_request_wins():
    sink = Sink()
    service = PreviewService(slow_frames(), sink)
    try:
        for i in range(40):
            service.request(PreviewRequest(i if i != 13 else 12))
        sink.wait_for(lambda: sink.frames and sink.frames[-1].index == 39)
        assert len(sink.frames) < 10  # scrubbing over forty frames decoded a few, not forty
        assert int(sink.frames[-1].source[0, 0, 0]) == 39
    finally:
        service.stop()


def test_a_bad_frame_is_reported_and_the_service_goes_on():
    sink = Sink()
    service = PreviewService(slow_frames(0), sink)
    try:
        service.request(PreviewRequest(13))
        sink.wait_for(lambda: len(sink.frames) == 1)
        assert "damaged packet" in sink.frames[0].problems[0]
        service.request(PreviewRequest(2))
        sink.wait_for(lambda: len(sink.frames) == 2)
        assert not sink.frames[1].problems and sink.frames[1].index == 2
    finally:
        service.stop()


class FakeRenderer:
    def __init__(self) -> None:
        self.stacks = None
        self.invalidated = []
        self.thread = None

    def set_stacks(self, stacks, order):  # noqa: ANN001, ANN201
        self.stacks = (stacks, order)
        self.thread = threading.current_thread().name

    def invalidate(self, obj, frames):  # noqa: ANN001, ANN201
        self.invalidated.append((obj, frames))

    def render(self, i):  # noqa: ANN001, ANN201
        from types import SimpleNamespace

        return SimpleNamespace(rgb=np.zeros((4, 6, 3), np.uint8) + 200, alpha=None, problems=(), skipped=())

    def matte(self, obj, i):  # noqa: ANN001, ANN201
        return np.full((4, 6), 0.5, np.float32) if obj == 1 else None


def test_renderer_updates_are_applied_on_the_preview_thread_before_rendering():
    sink = Sink()
    renderer = FakeRenderer()
    service = PreviewService(slow_frames(0), sink, renderer)
    try:
        service.set_stacks({1: "stack"}, [1])
        service.invalidate(1, [3])
        service.request(PreviewRequest(3, effects=True, matte_objects=(1, 2)))
        sink.wait_for(lambda: len(sink.frames) == 1)
        f = sink.frames[0]
        assert renderer.stacks == ({1: "stack"}, [1]) and renderer.thread == "preview"
        assert renderer.invalidated == [(1, [3])]
        assert int(f.rendered[0, 0, 0]) == 200 and float(f.matte[0, 0]) == 0.5
    finally:
        service.stop()
