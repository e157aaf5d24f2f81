"""Session-wide test clips, generated once into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .clips import encode, source_frames

SIZE = (192, 108)
FPS = 24
GOP = 2 * FPS  # a 2-second GOP
N = 120


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def src_frames(data_dir: Path) -> list[np.ndarray]:
    return source_frames(data_dir, N, SIZE)


@pytest.fixture(scope="session")
def gop_clip(clip_dir: Path, src_frames: list[np.ndarray]) -> Path:
    """H.264 with B-frames and a 2-second GOP: 120 frames at 24 fps."""
    return encode(clip_dir / "gop.mp4", src_frames, options={"g": str(GOP), "keyint_min": str(GOP), "crf": "12", "bf": "3", "sc_threshold": "0"})


@pytest.fixture(scope="session")
def audio_clip(clip_dir: Path, src_frames: list[np.ndarray]) -> Path:
    """48 frames at 24 fps with 2 s of AAC audio."""
    return encode(clip_dir / "audio.mp4", src_frames[:48], options={"crf": "18"}, audio="aac", audio_seconds=2.0)
