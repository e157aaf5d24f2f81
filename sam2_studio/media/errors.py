"""Errors of the media layer, worded for the person who chose the file.

Every failure to read or write media ends as a :class:`MediaError` whose message names the
file and says what is wrong in words; front ends show it instead of a traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path

from sam2_studio.errors import StudioError


class MediaError(StudioError):
    """A file could not be read or written; ``reason`` says why in words."""


class DamagedMediaError(MediaError):
    """Part of a file cannot be decoded; the frames before ``usable_frames`` still can."""

    def __init__(self, message: str, path: str | Path | None, usable_frames: int) -> None:
        super().__init__(message, path)
        self.usable_frames = usable_frames


# OS error numbers a user can do something about, in words.
_OS_REASONS = {
    errno.ENOENT: "the file or folder does not exist",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "the file grew larger than this disk or system allows",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EIO: "the disk reported an input/output error",
}


def os_reason(exc: BaseException) -> str | None:
    """The words for an OS-level failure (also when FFmpeg reports it), or None."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        # FFmpeg reports AVERROR(e) = -e; PyAV usually turns it back into e.
        return _OS_REASONS.get(abs(code))
    return None


def timecode(seconds: float) -> str:
    """``HH:MM:SS.mmm``, the way editors read a position."""
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
