"""Which video a project belongs to, and finding it again when it has moved.

A path is not an identity: files move, and a different clip can land at the same path. The
project also keeps the file's size and a SHA-256 of its first 4 MiB (fast on any clip length,
and enough to tell two encodes apart, since containers put headers and the first frames
there), beside the picture size, frame count and frame rate the project's frames refer to.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from sam2_studio.project.errors import VideoMismatchError, unreadable

HASH_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    frame_count: int
    fps: Fraction
    file_size: int
    content_hash: str  # "sha256:" + hex digest of the first HASH_BYTES

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"a video has a positive size, got {self.width}×{self.height}")
        if self.frame_count <= 0:
            raise ValueError(f"a video has frames, got a frame count of {self.frame_count}")
        if self.fps <= 0:
            raise ValueError(f"a frame rate is positive, got {self.fps}")

    @classmethod
    def from_file(cls, path: str | Path, *, width: int, height: int, frame_count: int,
                  fps: Fraction | int | str) -> VideoInfo:
        """Identity of ``path``; the picture facts come from whoever decoded it (media)."""
        path = Path(path).absolute()
        size, digest = fingerprint(path)
        return cls(path, width, height, frame_count, Fraction(fps), size, digest)

    def same_content(self, path: Path) -> bool:
        return fingerprint(path) == (self.file_size, self.content_hash)

    def moved_to(self, path: Path) -> VideoInfo:
        return replace(self, path=Path(path).absolute())


def fingerprint(path: str | Path) -> tuple[int, str]:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            digest = hashlib.sha256(f.read(HASH_BYTES)).hexdigest()
    except OSError as exc:
        raise unreadable(exc, path, "video") from None
    return size, "sha256:" + digest


def check_same_video(info: VideoInfo, candidate: Path) -> None:
    """Raise ``VideoMismatchError`` unless ``candidate`` holds the project's video."""
    size, digest = fingerprint(candidate)
    if (size, digest) == (info.file_size, info.content_hash):
        return
    what = (f"it is {size:,} bytes, the project's video was {info.file_size:,}"
            if size != info.file_size else "its content differs from the project's video")
    raise VideoMismatchError(
        f"this is not the video the project was made on ({info.path.name}, "
        f"{info.width}×{info.height}, {info.frame_count} frames): {what}. Masks and prompts "
        "refer to that video's frames, so the project cannot use another one", candidate)


def candidate_paths(info: VideoInfo, project_path: Path | None,
                    relative: str | None) -> list[Path]:
    """Where to look, in order: where it was, where it is relative to the project (both moved
    together), and beside the project (sent as a pair)."""
    found: list[Path] = [info.path]
    if project_path is not None:
        base = Path(project_path).absolute().parent
        if relative:
            found.append(Path(os.path.normpath(base / relative)))
        found.append(base / info.path.name)
    unique: list[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def relative_video_path(video: Path, project_path: Path) -> str | None:
    try:
        return Path(os.path.relpath(video, Path(project_path).absolute().parent)).as_posix()
    except ValueError:  # another drive on Windows
        return None
