"""bench/edges.py: its measures, and its plumbing with random weights (the figures mean nothing)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def edges():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("edges")
    finally:
        sys.path.remove(str(BENCH))


def disc(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def test_measures(edges):
    truth = disc(200, 300, 150, 100, 60)
    assert edges.jaccard(truth, truth) == 1.0 and edges.boundary_f(truth, truth, 2) == 1.0
    near = np.roll(truth, 2, axis=1)
    far = np.roll(truth, 5, axis=1)
    assert edges.boundary_f(near, truth, 2) == 1.0 > edges.boundary_f(far, truth, 2)
    # the DAVIS tolerance here: ceil(0.008 × diagonal 361) = 3 px
    assert edges.boundary_f(np.roll(truth, 3, axis=1), truth, 0.008) == 1.0 > edges.boundary_f(far, truth, 0.008)
    assert 0 < edges.jaccard(far, truth) < edges.jaccard(near, truth) < 1
    spoke = truth.copy()
    spoke[98:101, 20:280] = True  # a thin structure, as a bike's: the grid loses it
    coarse = edges.through_grid(spoke, 16)
    assert edges.boundary_f(coarse, spoke, 2) < 0.9 and edges.jaccard(coarse, spoke) > 0.8


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        frame = (rng.random((90, 160, 3)) * 60).astype(np.uint8)
        mask = disc(90, 160, 60 + 5 * i, 45, 22)
        frame[mask] = (220, 90, 40)
        cv2.imwrite(str(tmp_path / "JPEGImages" / f"{i:05d}.jpg"), frame)
        cv2.imwrite(str(tmp_path / "Annotations" / f"{i:05d}.png"), mask.astype(np.uint8) * 255)
    return tmp_path


@pytest.mark.slow
def test_every_case_runs_with_random_weights(edges, folder):
    lines: list[str] = []
    res = edges.run([str(folder), "--random-weights", "--image-size", "128", "--sizes", "320x180"], lines.append)
    r = res["320x180"]
    assert set(r) == {"grid", "tracked", "detail", "cost"}
    assert len(r["grid"].j) == 3 and len(r["tracked"].j) == 2 and len(r["detail"].j) == 2
    assert all(0 <= v <= 1 for s in (r["grid"], r["tracked"], r["detail"]) for v in s.j + s.f_davis + s.f_2px)
    text = "\n".join(lines)
    assert "(a) truth through the grid" in text and "(c) tracked + detail pass" in text
    assert "detail pass: " in text and "object-frames" in text
    assert "random weights" in text
