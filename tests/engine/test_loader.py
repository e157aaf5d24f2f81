"""The frame loader reads ahead in the propagation's order, on its own thread."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from sam2_studio.engine.loader import FrameLoader


def test_reads_ahead_in_order_on_another_thread():
    seen: list[tuple[int, str]] = []

    def prepare(i: int) -> torch.Tensor:
        seen.append((i, threading.current_thread().name))
        return torch.full((1,), float(i))

    with FrameLoader(prepare, [5, 6, 7, 8, 9], depth=2) as loader:
        assert loader.take(5).item() == 5
        time.sleep(0.05)
        assert [i for i, _ in seen][:3] == [5, 6, 7]  # two ahead of the frame taken
        assert loader.take(4) is None  # not in the order: the caller reads it itself
        assert loader.take(7).item() == 7  # 6 was skipped (a prompted frame): dropped, not kept
        assert loader.take(8).item() == 8 and loader.take(9).item() == 9
    assert all(name.startswith("frame-loader") for _, name in seen)


def test_a_bad_frame_is_raised_to_the_caller():
    def prepare(i: int) -> torch.Tensor:
        if i == 2:
            raise ValueError("frame 2 is corrupt")
        return torch.zeros(1)

    with FrameLoader(prepare, range(5)) as loader:
        loader.take(0)
        loader.take(1)
        with pytest.raises(ValueError, match="frame 2 is corrupt"):
            loader.take(2)
        assert loader.take(3) is not None


def test_a_propagation_reads_its_frames_on_the_loader_thread(make_session):
    s = make_session()
    s.add_points(0, 1, [[20, 45]], [1])  # frame 0 is read here, for the click
    threads: dict[int, str] = {}
    frame = s.features.frame

    def spy(i):  # noqa: ANN001, ANN202
        threads[i] = threading.current_thread().name
        return frame(i)

    s.features.frame = spy
    assert [r.frame for r in s.propagate()] == list(range(12))
    assert sorted(threads) == list(range(1, 12))  # each once; frame 0 was cached
    assert all(name.startswith("frame-loader") for name in threads.values())
