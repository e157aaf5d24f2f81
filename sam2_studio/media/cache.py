"""A bounded frame cache and a read-ahead thread, for playback and propagation.

Wrapping a reader in :class:`CachedReader` keeps recently used frames in memory up to a
byte budget and decodes the frames the user (or the tracker) will most likely ask for next,
forwards or backwards, on a background thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .reader import FrameReader, MediaInfo, ReaderBase

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


class FrameCache:
    """Least-recently-used frames up to ``max_bytes``; thread-safe. Cached arrays are read-only."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(index)
            if arr is not None:
                self._items.move_to_end(index)
            return arr

    def __contains__(self, index: int) -> bool:
        with self._lock:
            return index in self._items

    def put(self, index: int, frame: np.ndarray) -> np.ndarray:
        frame.flags.writeable = False
        with self._lock:
            old = self._items.pop(index, None)
            if old is not None:
                self._bytes -= old.nbytes
            if frame.nbytes > self.max_bytes:
                return frame
            self._items[index] = frame
            self._bytes += frame.nbytes
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
        return frame

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


class CachedReader(ReaderBase):
    """A reader with a frame cache and read-ahead in the direction of travel.

    ``read(i)`` returns a read-only array shared with the cache (copy it to draw on it).
    Forwards, the ``read_ahead`` frames after the last request are decoded in the
    background. Backwards, frames are decoded in blocks of ``read_ahead`` in ascending
    order, so stepping back costs one seek per block instead of one per frame. Meant for
    one consumer thread; the read-ahead steps aside whenever the consumer waits.
    """

    def __init__(self, reader: FrameReader, *, cache_bytes: int = DEFAULT_CACHE_BYTES, read_ahead: int = 24) -> None:
        self.reader = reader
        self.path: Path = reader.path
        self.info: MediaInfo = reader.info
        self.problem = reader.problem
        self.cache = FrameCache(cache_bytes)
        w, h = reader.size
        # Never more read-ahead than half the cache holds, or it would evict what it reads.
        self.read_ahead = max(0, min(read_ahead, cache_bytes // max(1, 3 * w * h) // 2))
        self._wanted = threading.Condition()
        self._decoding = threading.Lock()  # one decode at a time: the consumer's or the read-ahead's
        self._waiting = 0  # consumers waiting for _decoding
        self._cursor = -1
        self._step = 1
        self._stop = False
        self._failed: set[int] = set()
        self._thread: threading.Thread | None = None
        if self.read_ahead:
            self._thread = threading.Thread(target=self._run, name=f"read-ahead {self.path.name}", daemon=True)
            self._thread.start()

    @property
    def timestamps(self) -> np.ndarray:
        return self.reader.timestamps

    def read(self, index: int) -> np.ndarray:
        i = self._check(index)
        with self._wanted:
            if i != self._cursor:
                self._step = -1 if self._cursor - self.read_ahead <= i < self._cursor else 1
            self._cursor = i
            self._wanted.notify()
        arr = self.cache.get(i)
        if arr is not None:
            return arr
        with self._wanted:
            self._waiting += 1
        try:
            with self._decoding:  # the read-ahead may be decoding this very frame
                arr = self.cache.get(i)
                if arr is None:
                    self._failed.discard(i)
                    if self._step < 0:  # fill the block below in one pass
                        for j in range(max(0, i - self.read_ahead + 1), i):
                            if j not in self.cache:
                                self._decode(j)
                    arr = self.cache.put(i, self.reader.read(i))
        finally:
            with self._wanted:
                self._waiting -= 1
        return arr

    def _decode(self, j: int) -> None:
        try:
            self.cache.put(j, self.reader.read(j))
        except Exception:  # noqa: BLE001 - a consumer reading j gets the error in words
            self._failed.add(j)

    def _next_block(self) -> range | None:
        """Frames to decode next, ascending; None when the read-ahead is complete."""
        if self._cursor < 0:
            return None
        missing = lambda j: j not in self.cache and j not in self._failed  # noqa: E731
        if self._step > 0:
            for j in range(self._cursor + 1, min(len(self), self._cursor + 1 + self.read_ahead)):
                if missing(j):
                    return range(j, j + 1)
            return None
        for j in range(self._cursor - 1, max(-1, self._cursor - 1 - self.read_ahead), -1):
            if missing(j):
                return range(max(0, j - self.read_ahead + 1), j + 1)
        return None

    def _run(self) -> None:
        while True:
            with self._wanted:
                block = self._next_block()
                while not self._stop and (block is None or self._waiting):
                    self._wanted.wait(0.05 if block is not None else None)
                    block = self._next_block()
                if self._stop:
                    return
            for j in block:
                if self._waiting or self._stop:
                    break  # the consumer goes first; the block is picked up again later
                with self._decoding:
                    if j not in self.cache:
                        self._decode(j)

    def close(self) -> None:
        with self._wanted:
            self._stop = True
            self._wanted.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.cache.clear()
        self.reader.close()
