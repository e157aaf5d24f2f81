"""Where the engine gets frames from: anything with a length, a size and ``get(i)``.

The engine asks for one frame at a time and never holds the clip; a decoded video, an image
sequence or a test array all fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrameSource(Protocol):
    def __len__(self) -> int: ...

    def get(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB uint8 (H, W, 3)."""
        ...

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of every frame."""
        ...


class ArrayFrames:
    """Frames already in memory (tests, short clips)."""

    def __init__(self, frames: Sequence[np.ndarray] | np.ndarray) -> None:
        if len(frames) == 0:
            raise ValueError("a clip needs at least one frame")
        self._frames = frames
        h, w = np.asarray(frames[0]).shape[:2]
        self._size = (int(w), int(h))

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, index: int) -> np.ndarray:
        return np.asarray(self._frames[index])

    @property
    def size(self) -> tuple[int, int]:
        return self._size


class GeneratedFrames:
    """Frames made on demand by a function: long synthetic clips that are never all in memory."""

    def __init__(self, count: int, size: tuple[int, int], make: Callable[[int], np.ndarray]) -> None:
        self._count = count
        self._size = size
        self._make = make

    def __len__(self) -> int:
        return self._count

    def get(self, index: int) -> np.ndarray:
        if not 0 <= index < self._count:
            raise IndexError(index)
        return self._make(index)

    @property
    def size(self) -> tuple[int, int]:
        return self._size
