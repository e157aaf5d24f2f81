"""The bounded cache and read-ahead give the same frames as the reader, forwards and backwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.media import CachedReader, FrameCache, open_video

from .conftest import N


def test_frame_cache_is_bounded_by_bytes() -> None:
    cache = FrameCache(max_bytes=3 * 100)
    for i in range(5):
        cache.put(i, np.full(100, i, np.uint8))
    assert len(cache) == 3 and cache.nbytes == 300
    assert cache.get(0) is None and cache.get(4) is not None
    cache.get(2)  # recently used: survives the next insertion
    cache.put(5, np.zeros(100, np.uint8))
    assert 2 in cache and 3 not in cache
    arr = cache.get(2)
    assert arr is not None and not arr.flags.writeable


@pytest.fixture(scope="module")
def sequential(gop_clip: Path) -> list[np.ndarray]:
    with open_video(gop_clip) as r:
        return [r.read(i) for i in range(len(r))]


def _wait_for(cond, timeout: float = 20.0) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_forward_read_ahead(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    with CachedReader(open_video(gop_clip), read_ahead=10) as c:
        assert np.array_equal(c.read(20), sequential[20])
        assert _wait_for(lambda: all(j in c.cache for j in range(21, 31)))
        for i in range(21, 60):
            assert np.array_equal(c.read(i), sequential[i])


def test_backward_read_ahead_fills_blocks(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    with CachedReader(open_video(gop_clip), read_ahead=12) as c:
        c.read(100)
        c.read(99)  # travelling backwards now
        assert _wait_for(lambda: all(j in c.cache for j in range(87, 99)))
        for i in range(98, 40, -1):
            assert np.array_equal(c.read(i), sequential[i])


def test_cache_stays_within_budget(gop_clip: Path) -> None:
    frame_bytes = 192 * 108 * 3
    with CachedReader(open_video(gop_clip), cache_bytes=10 * frame_bytes, read_ahead=50) as c:
        assert c.read_ahead == 5  # never more than half of what the cache holds
        for i in range(N):
            c.read(i)
        assert c.cache.nbytes <= 10 * frame_bytes


def test_consumer_and_read_ahead_in_parallel(gop_clip: Path, sequential: list[np.ndarray]) -> None:
    errors: list[int] = []
    with CachedReader(open_video(gop_clip), read_ahead=8) as c:

        def play() -> None:
            for i in list(range(0, N, 3)) + list(range(N - 1, 0, -5)):
                if not np.array_equal(c.read(i), sequential[i]):
                    errors.append(i)

        t = threading.Thread(target=play)
        t.start()
        t.join(timeout=120)
        assert not t.is_alive()
    assert errors == []
