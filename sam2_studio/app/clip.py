"""An opened clip as the editor needs it: frames for the screen, and independent readers for
the threads that work beside it (the model worker, an export), plus thumbnails.

Decoding is the media layer's (``sam2_studio.media``); this module only decides which
reader serves whom, because a reader serves one thread at a time. ``ArrayClip`` holds
frames in memory for tests and stills.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sam2_studio.project import VideoInfo

DISPLAY_CACHE_BYTES = 384 << 20
MODEL_CACHE_BYTES = 128 << 20


@dataclass(frozen=True)
class ClipInfo:
    path: Path | None
    size: tuple[int, int]  # (width, height)
    fps: Fraction
    frame_count: int
    has_audio: bool = False
    kind: str = "video"  # "video", "image_sequence" or "memory"
    codec: str = ""
    problem: str | None = None  # damage found on opening; earlier frames are usable

    @property
    def duration(self) -> float:
        return self.frame_count / float(self.fps)


class Frames(Protocol):
    """What the engine and the effects read frames through (``engine.FrameSource``)."""

    def __len__(self) -> int: ...
    def get(self, index: int) -> np.ndarray: ...
    @property
    def size(self) -> tuple[int, int]: ...


class Clip(Protocol):
    info: ClipInfo

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (RGB uint8, read-only) from the screen's reader: one thread only."""
        ...

    def open_reader(self) -> ReaderFrames:
        """A reader of its own for another thread; close it when done."""
        ...

    def thumbnails(self, count: int, height: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """(slot, frame, RGB image) for a timeline strip; safe on a background thread."""
        ...

    def video_info(self) -> VideoInfo: ...

    def close(self) -> None: ...


class ReaderFrames:
    """A media reader seen as an engine ``FrameSource`` (``get`` instead of ``read``)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def __len__(self) -> int:
        return len(self.reader)

    def get(self, index: int) -> np.ndarray:
        return self.reader.read(index)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.reader.size)  # type: ignore[return-value]

    def close(self) -> None:
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


class MediaClip:
    """A video file or an image sequence, decoded by ``sam2_studio.media``."""

    def __init__(self, path: str | Path) -> None:
        from sam2_studio.media import CachedReader, open_media

        self.path = Path(path).absolute()
        reader = open_media(self.path)
        self._base = reader
        self._display = CachedReader(reader, cache_bytes=DISPLAY_CACHE_BYTES)
        info = reader.info
        self.info = ClipInfo(self.path, tuple(reader.size), Fraction(reader.fps), len(reader),
                             bool(reader.has_audio), info.kind, info.codec,
                             str(reader.problem.reason) if reader.problem is not None else None)

    def frame(self, index: int) -> np.ndarray:
        return self._display.read(index)

    def _independent(self) -> Any:
        clone = getattr(self._base, "clone", None)
        if clone is not None:
            return clone()
        from sam2_studio.media import open_media

        return open_media(self.path)

    def open_reader(self, cache_bytes: int = MODEL_CACHE_BYTES, read_ahead: int = 8) -> ReaderFrames:
        from sam2_studio.media import CachedReader

        return ReaderFrames(CachedReader(self._independent(), cache_bytes=cache_bytes, read_ahead=read_ahead))

    def thumbnails(self, count: int, height: int) -> Iterator[tuple[int, int, np.ndarray]]:
        from sam2_studio.media import iter_thumbnails

        for t in iter_thumbnails(self._base, count, height):
            yield t.slot, t.frame, t.image

    def identity_path(self) -> Path:
        """The file that stands for the clip in a project: the video, or a sequence's first
        image (a folder has no content to fingerprint)."""
        files = getattr(self._base, "files", None)
        if files and not self.path.is_file():
            return Path(files[0])
        return self.path

    def video_info(self) -> VideoInfo:
        w, h = self.info.size
        return VideoInfo.from_file(self.identity_path(), width=w, height=h,
                                   frame_count=self.info.frame_count, fps=self.info.fps)

    def close(self) -> None:
        self._display.close()


class ArrayClip:
    """Frames in memory (tests, stills); ``path`` is only what the project records."""

    def __init__(self, frames: Sequence[np.ndarray], fps: Fraction | int = 24,
                 path: str | Path | None = None) -> None:
        if len(frames) == 0:
            raise ValueError("a clip needs at least one frame")
        self._frames = [np.ascontiguousarray(f) for f in frames]
        for f in self._frames:
            f.flags.writeable = False
        h, w = self._frames[0].shape[:2]
        self.path = Path(path).absolute() if path is not None else None
        self.info = ClipInfo(self.path, (int(w), int(h)), Fraction(fps), len(self._frames), kind="memory")

    def frame(self, index: int) -> np.ndarray:
        return self._frames[index]

    def open_reader(self) -> ReaderFrames:
        return ReaderFrames(_ArrayReader(self._frames))

    def thumbnails(self, count: int, height: int) -> Iterator[tuple[int, int, np.ndarray]]:
        import cv2

        n = len(self._frames)
        count = max(1, min(count, n))
        w, h = self.info.size
        size = (max(1, round(height * w / h)), height)
        for slot in range(count):
            i = min(n - 1, int((slot + 0.5) * n / count))
            yield slot, i, cv2.resize(self._frames[i], size, interpolation=cv2.INTER_AREA)

    def video_info(self) -> VideoInfo:
        if self.path is None or not self.path.is_file():
            raise ValueError("an in-memory clip needs a file path to stand for it in a project")
        w, h = self.info.size
        return VideoInfo.from_file(self.path, width=w, height=h, frame_count=self.info.frame_count,
                                   fps=self.info.fps)

    def close(self) -> None:
        pass


class _ArrayReader:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self._frames = frames
        h, w = frames[0].shape[:2]
        self.size = (int(w), int(h))

    def __len__(self) -> int:
        return len(self._frames)

    def read(self, index: int) -> np.ndarray:
        return self._frames[index]


def open_clip(path: str | Path) -> MediaClip:
    """Open a video file or an image sequence (folder, pattern, or one of its frames);
    ``MediaError`` names the file and the problem."""
    return MediaClip(path)
