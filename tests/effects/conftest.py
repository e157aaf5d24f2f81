"""Real frames and masks for the effects tests, at half size (854×480 → 427×240) for speed.

Every property tested here (what changes, what does not, what is restored) holds at any
size; only bench/effects.py measures at 1080p.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from sam2_studio.effects import InMemoryClip, Registry

SIZE = (427, 240)  # width, height


@dataclass(frozen=True)
class Clip:
    frames: list[np.ndarray]  # RGB uint8
    masks: dict[int, list[np.ndarray | None]]  # object id -> uint8 0/255 per frame

    def context(self) -> InMemoryClip:
        return InMemoryClip(self.frames, self.masks)

    def matte(self, obj: int, index: int) -> np.ndarray:
        m = self.masks[obj][index]
        assert m is not None
        return m.astype(np.float32) / 255.0


def _rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def _mask(ids: np.ndarray, value: int) -> np.ndarray:
    m = (ids == value).astype(np.uint8) * 255
    return cv2.resize(m, SIZE, interpolation=cv2.INTER_NEAREST)


@pytest.fixture(scope="session")
def car(data_dir: Path) -> Clip:
    """DAVIS car-shadow: 40 frames, the camera pans after a car; one mask per frame."""
    root = data_dir / "davis16_car-shadow"
    names = sorted(p.stem for p in (root / "JPEGImages").glob("*.jpg"))
    frames = [_rgb(root / "JPEGImages" / f"{n}.jpg") for n in names]
    masks = [
        _mask(cv2.imread(str(root / "Annotations" / f"{n}.png"), cv2.IMREAD_GRAYSCALE), 255)
        for n in names
    ]
    return Clip(frames, {1: masks})


@pytest.fixture(scope="session")
def judo(data_dir: Path) -> Clip:
    """Cutie judo: 16 frames, objects 1–4 each annotated on one frame (0, 5, 8, 13)."""
    root = data_dir / "cutie_judo"
    frames = [_rgb(p) for p in sorted((root / "JPEGImages").glob("*.jpg"))]
    masks: dict[int, list[np.ndarray | None]] = {}
    for path in sorted((root / "Annotations").glob("*.png")):
        ids = np.array(Image.open(path))  # palette indices = object ids
        for obj in (int(v) for v in np.unique(ids) if v):
            seq = masks.setdefault(obj, [None] * len(frames))
            seq[int(path.stem)] = _mask(ids, obj)
    return Clip(frames, masks)


@pytest.fixture(scope="session")
def judo_frame(judo: Clip) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Frame 13 with all four people's masks (each from the frame it was annotated on)."""
    mattes = {}
    for obj, seq in judo.masks.items():
        mattes[obj] = next(m for m in seq if m is not None).astype(np.float32) / 255.0
    return judo.frames[13], mattes


@pytest.fixture
def registry() -> Registry:
    return Registry()


def still(frame: np.ndarray, mattes: dict[int, np.ndarray]) -> InMemoryClip:
    """A one-frame clip."""
    return InMemoryClip([frame], {obj: [m] for obj, m in mattes.items()})


def textured(shape: tuple[int, int], seed: int, scale: float = 3.0) -> np.ndarray:
    """A smooth random RGB texture (enough detail to see misplacement, no aliasing)."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (*shape, 3)).astype(np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), scale)
    tex = (tex - tex.mean()) / (tex.std() + 1e-6) * 45 + 128
    return np.clip(tex, 0, 255).astype(np.uint8)
