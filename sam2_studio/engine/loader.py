"""Reads the next frames of a propagation on a thread of its own while the model computes.

Decoding a 1080p frame and turning it into the model's input takes milliseconds of host
time that the accelerator would otherwise spend waiting. The loader runs ``prepare`` for the
frames in the order the propagation will visit them, a few ahead, and hands each over once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import torch

READ_AHEAD = 3  # frames prepared ahead: enough to hide a slow decode, little memory (pinned, 6 MB each at 1080p)


class FrameLoader:
    def __init__(self, prepare: Callable[[int], torch.Tensor], order: Iterable[int], depth: int = READ_AHEAD) -> None:
        self._prepare = prepare
        self._order = list(order)
        self._next = 0  # position in the order of the next frame to schedule
        self._depth = max(1, depth)
        self._ahead: dict[int, tuple[int, Future[torch.Tensor]]] = {}  # frame -> (position, work)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="frame-loader")
        self._fill()

    def _fill(self) -> None:
        while len(self._ahead) < self._depth and self._next < len(self._order):
            index = self._order[self._next]
            if index not in self._ahead:
                self._ahead[index] = (self._next, self._pool.submit(self._prepare, index))
            self._next += 1

    def take(self, index: int) -> torch.Tensor | None:
        """The prepared frame ``index`` (waiting for it), or None when it was not read ahead.
        Frames the caller went past unread are dropped. A failure to read the frame is
        raised here, in the caller's thread."""
        entry = self._ahead.pop(index, None)
        if entry is not None:
            for other in [i for i, (pos, _) in self._ahead.items() if pos < entry[0]]:
                self._ahead.pop(other)[1].cancel()
        self._fill()
        return None if entry is None else entry[1].result()

    def close(self) -> None:
        for _, future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> FrameLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
