"""What every frame reader offers, whatever the file behind it (video or image sequence)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import DamagedMediaError


@dataclass(frozen=True)
class MediaInfo:
    """What a UI shows about an opened clip, and what an export needs to match it."""

    path: Path
    kind: str  # "video" or "image_sequence"
    size: tuple[int, int]  # (width, height) as displayed: square pixels, upright
    fps: Fraction
    frame_count: int
    duration: float  # seconds
    has_audio: bool = False
    container: str = ""
    codec: str = ""
    pixel_format: str = ""
    bit_depth: int = 8
    coded_size: tuple[int, int] = (0, 0)  # (width, height) as stored, before aspect and rotation
    sample_aspect: Fraction = Fraction(1)
    rotation: int = 0  # counter-clockwise degrees applied to stored pixels
    variable_frame_rate: bool = False
    audio_codec: str | None = None
    first_frame_number: int = 0  # image sequences: the number in the first file name


@runtime_checkable
class FrameReader(Protocol):
    """Random access to RGB frames; cheap when read in order.

    ``read(i)`` returns an (H, W, 3) uint8 RGB array: frame ``i`` in presentation order,
    upright, with square pixels. Plain readers return a new array each time; a
    ``CachedReader`` returns a read-only one shared with its cache (copy before drawing).
    Implementations are safe to call from one reader thread and one read-ahead thread.
    """

    path: Path
    info: MediaInfo
    problem: DamagedMediaError | None  # damage found on open; the frames before it are usable

    def __len__(self) -> int: ...
    def read(self, index: int) -> np.ndarray: ...
    def close(self) -> None: ...
    def __enter__(self) -> FrameReader: ...
    def __exit__(self, *exc: object) -> None: ...

    @property
    def size(self) -> tuple[int, int]: ...
    @property
    def fps(self) -> Fraction: ...
    @property
    def frame_count(self) -> int: ...
    @property
    def duration(self) -> float: ...
    @property
    def has_audio(self) -> bool: ...
    @property
    def timestamps(self) -> np.ndarray: ...


class ReaderBase:
    """The properties every reader derives from its :class:`MediaInfo`."""

    path: Path
    info: MediaInfo
    problem: DamagedMediaError | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.info.size

    @property
    def fps(self) -> Fraction:
        return self.info.fps

    @property
    def frame_count(self) -> int:
        return self.info.frame_count

    @property
    def duration(self) -> float:
        return self.info.duration

    @property
    def has_audio(self) -> bool:
        return self.info.has_audio

    def __len__(self) -> int:
        return self.info.frame_count

    def index_at(self, seconds: float) -> int:
        """The frame shown at ``seconds`` from the start (the last one starting at or before)."""
        i = int(np.searchsorted(self.timestamps, seconds + 1e-9, side="right")) - 1
        return min(max(i, 0), len(self) - 1)

    @property
    def timestamps(self) -> np.ndarray:
        """Start time of every frame in seconds from the first frame."""
        return np.arange(len(self), dtype=np.float64) / float(self.fps)

    def _check(self, index: int) -> int:
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {index} is outside 0..{len(self) - 1} of {self.path.name}")
        return i

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self):  # noqa: ANN204 - returns the concrete reader
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
