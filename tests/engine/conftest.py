from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_studio.engine import ArrayFrames, SessionOptions, VideoSession
from sam2_studio.model import build_model
from tests.reference import randomize_

SMALL = 256  # a small model input: the semantics are the same, the tests fast


@pytest.fixture(scope="session")
def small_model():
    torch.manual_seed(0)
    model = build_model("sam2.1_hiera_tiny", SMALL, device="cpu")
    return randomize_(model)


def moving_square_clip(n: int = 12, size: tuple[int, int] = (160, 96), side: int = 30) -> list[np.ndarray]:
    """A bright square moving right over a textured background."""
    w, h = size
    rng = np.random.default_rng(0)
    background = (rng.random((h, w, 3)) * 80).astype(np.uint8)
    frames = []
    for i in range(n):
        f = background.copy()
        x = 10 + i * 6
        f[30 : 30 + side, x : x + side] = (230, 60, 40)
        frames.append(f)
    return frames


@pytest.fixture
def clip():
    return moving_square_clip()


@pytest.fixture
def make_session(small_model, clip):
    def make(frames=None, **kw):  # noqa: ANN001, ANN003
        policy = kw.pop("memory_policy", "sam2")
        return VideoSession(small_model, ArrayFrames(frames if frames is not None else clip), policy, SessionOptions(**kw))

    return make
