"""One entry point for whatever the user drops on the window: a video, a folder, a pattern, a frame."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from .images import IMAGE_EXTENSIONS
from .reader import FrameReader
from .sequence import DEFAULT_SEQUENCE_FPS, open_image_sequence
from .video import open_video


def open_media(source: str | os.PathLike[str], *, sequence_fps: Fraction | int = DEFAULT_SEQUENCE_FPS) -> FrameReader:
    """A video file, or an image sequence given as a folder, a pattern or one of its frames."""
    p = Path(source)
    if p.is_dir() or "%" in p.name or "#" in p.name or p.suffix.lower() in IMAGE_EXTENSIONS:
        return open_image_sequence(p, fps=sequence_fps)
    return open_video(p)
