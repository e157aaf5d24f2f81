"""Image sequences (JPEG, PNG, TIFF, EXR) as clips: a folder, a pattern, or one of its files."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .errors import MediaError
from .images import IMAGE_EXTENSIONS, read_image
from .naming import SequenceNaming, find_sequences, sequence_of
from .reader import MediaInfo, ReaderBase

DEFAULT_SEQUENCE_FPS = Fraction(24)


class ImageSequenceReader(ReaderBase):
    """Frames from numbered files; frame ``i`` is the i-th file by number.

    ``frame_numbers`` keeps the numbers in the file names (e.g. from 1001), and
    ``missing_numbers`` the gaps, which a UI should point out. Every frame is given the
    size of the first one (a stray frame of another size is resized, and listed in
    ``resized_frames`` once read).
    """

    def __init__(self, naming: SequenceNaming, frames: list[tuple[int, Path]], fps: Fraction) -> None:
        if not frames:
            raise MediaError("no frame of this sequence exists in its folder", naming.folder / naming.pattern)
        self.naming = naming
        self.path = frames[0][1] if naming.padding == 0 else naming.folder / naming.pattern
        self.files = [p for _, p in frames]
        self.frame_numbers = [n for n, _ in frames]
        span = range(self.frame_numbers[0], self.frame_numbers[-1] + 1)
        self.missing_numbers = sorted(set(span) - set(self.frame_numbers))
        self.resized_frames: set[int] = set()
        first = read_image(self.files[0])
        h, w = first.shape[:2]
        self._first = first
        self.info = MediaInfo(
            path=self.path,
            kind="image_sequence",
            size=(w, h),
            fps=Fraction(fps),
            frame_count=len(self.files),
            duration=len(self.files) / float(fps),
            container="image2",
            codec=naming.suffix.lstrip(".").lower(),
            pixel_format="rgb24",
            coded_size=(w, h),
            first_frame_number=self.frame_numbers[0],
        )

    def read(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        i = self._check(index)
        w, h = self.size
        reduce = 1
        if size is not None and self.files[i].suffix.lower() in (".jpg", ".jpeg"):
            while reduce < 8 and w // (reduce * 2) >= size[0] and h // (reduce * 2) >= size[1]:
                reduce *= 2
        img = self._first.copy() if i == 0 and reduce == 1 else read_image(self.files[i], reduce=reduce)
        target = size or (w, h)
        if reduce == 1 and img.shape[:2] != (h, w):
            self.resized_frames.add(i)
        if img.shape[1::-1] != tuple(target):
            shrink = img.shape[1] > target[0]
            img = cv2.resize(img, target, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return img

    def close(self) -> None:
        self._first = np.zeros((0, 0, 3), np.uint8)


def open_image_sequence(source: str | os.PathLike[str], *, fps: Fraction | int = DEFAULT_SEQUENCE_FPS) -> ImageSequenceReader:
    """Open a folder of frames, a pattern (``shot.%04d.exr``, ``shot.####.exr``) or one frame file.

    A folder holding several sequences opens the longest one.
    """
    src = Path(source)
    name = src.name
    if "%" in name or "#" in name:
        naming = SequenceNaming.parse(src)
        if not naming.folder.is_dir():
            raise MediaError("the folder of this image sequence does not exist", src)
        frames = naming.scan()
        if not frames:
            raise MediaError("no frame of this sequence exists in its folder", src)
        return ImageSequenceReader(naming, frames, Fraction(fps))
    if not src.exists():
        raise MediaError("file or folder not found", src)
    if src.is_dir():
        try:
            found = find_sequences(src, IMAGE_EXTENSIONS)
        except OSError as exc:
            raise MediaError(f"cannot list the folder: {exc.strerror or exc}", src) from exc
        if not found:
            raise MediaError("this folder contains no numbered image frames (JPEG, PNG, TIFF or EXR)", src)
        naming, frames = found[0]
        return ImageSequenceReader(naming, frames, Fraction(fps))
    if src.suffix.lower() not in IMAGE_EXTENSIONS:
        raise MediaError("this is not an image file (JPEG, PNG, TIFF or EXR)", src)
    seq = sequence_of(src, IMAGE_EXTENSIONS)
    if seq is None:  # a single still image
        naming = SequenceNaming(src.parent, src.stem, src.suffix, 0)
        return ImageSequenceReader(naming, [(0, src)], Fraction(fps))
    return ImageSequenceReader(seq[0], seq[1], Fraction(fps))
