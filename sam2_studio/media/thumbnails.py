"""Thumbnails for a timeline strip, without decoding every frame at full size.

Each thumbnail stands for an equal span of the clip. The quick strip shows the keyframe
nearest each span (one intra frame decoded per distinct keyframe, scaled down by the
converter directly from YUV); the exact strip shows each span's middle frame. A UI shows
the quick strip at once and swaps in the exact one as it arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .reader import FrameReader
from .sequence import ImageSequenceReader
from .video import VideoReader


@dataclass(frozen=True)
class Thumbnail:
    """One picture of the strip: ``slot`` in the strip, showing frame ``frame``."""

    slot: int
    frame: int
    image: np.ndarray  # (h, w, 3) uint8 RGB


def thumbnail_size(size: tuple[int, int], height: int) -> tuple[int, int]:
    w, h = size
    return max(1, round(height * w / h)), height


def slot_frames(frame_count: int, count: int) -> list[int]:
    """The middle frame of each of ``count`` equal spans of the clip."""
    count = max(1, min(count, frame_count))
    return [min(frame_count - 1, int((s + 0.5) * frame_count / count)) for s in range(count)]


def iter_thumbnails(reader: FrameReader, count: int, height: int = 64, *, exact: bool = False) -> Iterator[Thumbnail]:
    """Yield ``count`` thumbnails (fewer for a shorter clip) in strip order.

    Works on its own decoder for videos, so the main reader keeps its place; safe to run on
    a background thread next to playback.
    """
    size = thumbnail_size(reader.size, height)
    targets = slot_frames(len(reader), count)
    base = getattr(reader, "reader", reader)  # a CachedReader's own reader
    if isinstance(base, VideoReader):
        yield from _video_thumbnails(base, targets, size, exact)
    elif isinstance(base, ImageSequenceReader):
        for slot, i in enumerate(targets):
            yield Thumbnail(slot, i, base.read(i, size))  # JPEGs decode at 1/2..1/8 size
    else:
        for slot, i in enumerate(targets):
            yield Thumbnail(slot, i, cv2.resize(reader.read(i), size, interpolation=cv2.INTER_AREA))


def _video_thumbnails(reader: VideoReader, targets: list[int], size: tuple[int, int], exact: bool) -> Iterator[Thumbnail]:
    own = reader.clone()
    try:
        if exact:
            for slot, i in enumerate(targets):
                yield Thumbnail(slot, i, own.read(i, size))
            return
        last: tuple[int, np.ndarray] | None = None
        for slot, i in enumerate(targets):
            k = own.nearest_keyframe(i)
            if last is None or last[0] != k:
                last = (k, own.read_keyframe(k, size))
            yield Thumbnail(slot, k, last[1])
    finally:
        own.close()
