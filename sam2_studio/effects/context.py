"""How effects reach a clip: the :class:`FrameContext` protocol and its small helpers.

The renderer never holds a whole clip. It asks a ``FrameContext`` for the frame and the
mattes it needs, by index, so the exporter can stream a clip of any length through a
bounded decoder cache and the editor can preview one frame; effects that look at
neighbouring frames (temporal smoothing, object removal) ask the same object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import cv2
import numpy as np

from sam2_studio.effects.errors import EffectError


@runtime_checkable
class FrameContext(Protocol):
    """A clip as effects see it: frames and per-object mattes by frame index.

    ``frame(i)``: RGB uint8 ``H×W×3``. Treat it as read-only (it may live in a cache).
    ``matte(obj, i)``: the object's matte at frame ``i``, or ``None`` where the object has
    none (not yet tracked, or absent). Sources may hand out bool, uint8 (0..255) or float
    arrays at any size; :func:`as_matte` turns them into float32 0..1 at frame size.
    ``objects``: the ids of every object of the clip, in layer order (first is bottom).
    """

    def __len__(self) -> int: ...

    @property
    def objects(self) -> Sequence[int]: ...

    def frame(self, index: int) -> np.ndarray: ...

    def matte(self, obj: int, index: int) -> np.ndarray | None: ...


class InMemoryClip:
    """A :class:`FrameContext` over arrays already in memory (tests, stills, short clips)."""

    def __init__(
        self,
        frames: Sequence[np.ndarray],
        mattes: Mapping[int, Sequence[np.ndarray | None]] | None = None,
    ) -> None:
        self._frames = list(frames)
        self._mattes = {int(k): list(v) for k, v in (mattes or {}).items()}
        for obj, seq in self._mattes.items():
            if len(seq) != len(self._frames):
                raise EffectError(
                    f"object {obj} has {len(seq)} mattes for {len(self._frames)} frames"
                )

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def objects(self) -> Sequence[int]:
        return tuple(self._mattes)

    def frame(self, index: int) -> np.ndarray:
        return self._frames[index]

    def matte(self, obj: int, index: int) -> np.ndarray | None:
        seq = self._mattes.get(obj)
        return None if seq is None else seq[index]

    def set_matte(self, obj: int, index: int, matte: np.ndarray | None) -> None:
        """Replace one matte (tell the renderer with ``invalidate``)."""
        self._mattes.setdefault(obj, [None] * len(self._frames))[index] = matte


class Box(NamedTuple):
    """A pixel rectangle, half-open: rows ``y0:y1``, columns ``x0:x1``."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    def grown(self, margin: int, shape: tuple[int, ...]) -> Box:
        """Larger by ``margin`` on every side, clipped to an image of ``shape``."""
        return Box(
            max(0, self.y0 - margin),
            min(shape[0], self.y1 + margin),
            max(0, self.x0 - margin),
            min(shape[1], self.x1 + margin),
        )

    def union(self, other: Box | None) -> Box:
        if other is None:
            return self
        return Box(
            min(self.y0, other.y0), max(self.y1, other.y1),
            min(self.x0, other.x0), max(self.x1, other.x1),
        )  # fmt: skip


def nonzero_box(mask: np.ndarray) -> Box | None:
    """The bounding box of a mask's non-zero pixels, or ``None`` when it is empty."""
    if mask.dtype == bool:
        mask = mask.view(np.uint8)
    elif mask.dtype == np.float32:
        mask = cv2.compare(mask, 0.0, cv2.CMP_GT)  # one vectorised pass
    elif mask.dtype != np.uint8:
        mask = (mask > 0).view(np.uint8)
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return None
    return Box(y, y + h, x, x + w)


def as_matte(matte: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """A source matte as float32 0..1 at the frame's ``(H, W)``; ``None`` stays ``None``."""
    if matte is None:
        return None
    m = np.asarray(matte)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise EffectError(f"a matte must be a single-channel image, got shape {m.shape}")
    if m.dtype == bool:
        m = m.astype(np.float32)
    elif m.dtype == np.uint8:
        m = np.multiply(m, np.float32(1 / 255), dtype=np.float32)
    elif m.dtype == np.uint16:
        m = np.multiply(m, np.float32(1 / 65535), dtype=np.float32)
    else:
        m = np.clip(m.astype(np.float32, copy=False), 0.0, 1.0)
    h, w = shape[:2]
    if m.shape != (h, w):
        # e.g. a mask saved one pixel narrower than its frame, or tracked at a lower size
        m = np.clip(cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    return m
