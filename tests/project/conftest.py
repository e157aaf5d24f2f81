"""Documents over a stand-in video file: the project layer only hashes the file's bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sam2_studio.project import Document, VideoInfo

W, H, FRAMES = 64, 48, 30


def make_video_file(path: Path, seed: int = 0, size: int = 50_000) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def video_info(path: Path) -> VideoInfo:
    return VideoInfo.from_file(path, width=W, height=H, frame_count=FRAMES, fps="30000/1001")


@pytest.fixture
def video(tmp_path: Path) -> VideoInfo:
    return video_info(make_video_file(tmp_path / "clip.mp4"))


@pytest.fixture
def doc(video: VideoInfo) -> Document:
    return Document(video)


def disc(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r


def state(doc: Document) -> dict[str, Any]:
    """Everything a user could see of a document, in comparable form (masks as pixels)."""
    return {
        "objects": doc.objects,
        "prompts": {(o.id, f): doc.prompts(o.id, f) for o in doc.objects
                    for f in doc.prompt_frames(o.id)},
        "masks": {(o.id, f): doc.mask(o.id, f).tobytes() for o in doc.objects
                  for f in doc.mask_frames(o.id)},
        "range": doc.frame_range if doc.has_frame_range else None,
        "model": doc.model_variant,
        "video": doc.video,
    }
