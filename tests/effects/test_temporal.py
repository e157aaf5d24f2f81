"""Temporal smoothing calms chatter and does not smear moving objects (see temporal.py)."""

from __future__ import annotations

import cv2
import numpy as np

from sam2_studio.effects import InMemoryClip, RefinedClip, RefineParams

from .conftest import textured

H, W = 120, 320
SIZE = 40  # the object's side


def chatter(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The edge wobbling by a pixel or two, the way a tracker's masks chatter."""
    k = int(rng.integers(1, 3))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    op = cv2.dilate if rng.random() < 0.5 else cv2.erode
    wobbled = op(mask, kernel)
    noise = rng.random(mask.shape) < 0.25
    edge = cv2.dilate(mask, kernel) != cv2.erode(mask, kernel)
    return np.where(edge & noise, 1 - wobbled, wobbled).astype(np.uint8)


def scene(speed: int, n: int = 7, seed: int = 0):
    """A textured square moving ``speed`` px/frame over a textured background."""
    rng = np.random.default_rng(seed)
    background = textured((H, W), seed=1)
    sprite = textured((SIZE, SIZE), seed=2, scale=1.5)
    sprite = np.clip(sprite.astype(int) + [60, -40, 0], 0, 255).astype(np.uint8)
    frames, truth, raw = [], [], []
    for i in range(n):
        x = 40 + speed * i
        f = background.copy()
        f[40 : 40 + SIZE, x : x + SIZE] = sprite
        m = np.zeros((H, W), np.uint8)
        m[40 : 40 + SIZE, x : x + SIZE] = 1
        frames.append(f)
        truth.append(m.astype(np.float32))
        raw.append(chatter(m, rng).astype(np.float32))
    return frames, truth, raw


def smoothed(frames, raw, radius: int) -> list[np.ndarray]:
    clip = RefinedClip(InMemoryClip(frames, {1: raw}), {1: RefineParams(temporal=radius)})
    return [clip.matte(1, i) for i in range(len(frames))]


def test_a_fast_moving_object_leaves_no_ghost_trail():
    frames, truth, raw = scene(speed=30)
    out = smoothed(frames, raw, radius=2)
    naive = np.mean(raw[1:6], axis=0)  # what a plain ±2 average gives at frame 3
    i = 3
    behind = np.zeros((H, W), bool)  # where the object was in frames 1 and 2, not now
    behind[40 : 40 + SIZE, 40 + 30 : 40 + 30 * 3 - 4] = True
    assert naive[behind].max() >= 0.3  # the smear a naive average would leave
    assert out[i][behind].max() < 0.05
    # ...and the object itself is all there.
    inner = cv2.erode(truth[i], np.ones((7, 7))) > 0
    assert out[i][inner].min() > 0.95


def _flicker(mattes, speed):
    """Mean change of the matte between consecutive frames, in the object's own frame."""
    return np.mean([
        np.abs(np.roll(mattes[i], speed, axis=1) - mattes[i + 1]).mean()
        for i in range(len(mattes) - 1)
    ])  # fmt: skip


def _wrong(mattes, truth):
    """Share of pixels on the wrong side of the edge (the matte cut at 0.5)."""
    return np.mean([((m >= 0.5) != (t >= 0.5)).mean() for m, t in zip(mattes, truth)])


def test_chatter_on_a_moving_object_is_reduced():
    # Averaging cannot undo a one-sided error on average (a pixel wrongly "in" on half the
    # frames is 0.5 after any average); it takes the flicker out and fixes the majority.
    frames, truth, raw = scene(speed=30, n=9)
    out = smoothed(frames, raw, radius=2)
    core = slice(2, 7)
    assert _flicker(out[core], 30) < 0.6 * _flicker(raw[core], 30)
    assert _wrong(out[core], truth[core]) < 0.75 * _wrong(raw[core], truth[core])


def test_chatter_on_a_still_object_is_reduced():
    frames, truth, raw = scene(speed=0, n=9)
    out = smoothed(frames, raw, radius=3)
    band = cv2.dilate(truth[0], np.ones((7, 7))) != cv2.erode(truth[0], np.ones((7, 7)))
    flicker_before = np.std(np.stack(raw)[:, band], axis=0).mean()
    flicker_after = np.std(np.stack(out[2:7])[:, band], axis=0).mean()
    assert flicker_after < 0.6 * flicker_before


def test_a_mask_error_goes_but_a_real_change_of_shape_stays():
    frames, truth, raw = scene(speed=0, n=5)
    i = 2
    raw = [r.copy() for r in raw]
    # A false blob of mask over plain background in frame i only (a tracker's mistake)...
    raw[i][10:30, 200:230] = 1
    # ...and a real arm that appears in frame i only: in the image and in the mask.
    frames = [f.copy() for f in frames]
    frames[i][80:100, 60:70] = (250, 30, 30)
    raw[i][80:100, 60:70] = 1
    out = smoothed(frames, raw, radius=2)[i]
    assert out[15:25, 205:225].max() < 0.5
    assert out[82:98, 62:68].min() > 0.9


def test_smoothing_brings_jittered_real_masks_closer_to_the_truth(car):
    rng = np.random.default_rng(3)
    n = 12
    frames = car.frames[10 : 10 + n]
    truth = [car.matte(1, i) for i in range(10, 10 + n)]
    raw = [chatter((t > 0.5).astype(np.uint8), rng).astype(np.float32) for t in truth]
    out = smoothed(frames, raw, radius=2)
    core = slice(2, n - 2)

    def chatter_of(mattes):
        """How much the error against the truth changes from frame to frame."""
        err = [m - t for m, t in zip(mattes[core], truth[core])]
        return np.mean([np.abs(a - b).mean() for a, b in zip(err, err[1:])])

    assert chatter_of(out) < 0.8 * chatter_of(raw)  # ±2 frames: ~0.71 measured
    assert _wrong(out[core], truth[core]) < 0.9 * _wrong(raw[core], truth[core])


def test_absent_frames_stay_absent_and_do_not_vote():
    frames, truth, raw = scene(speed=10, n=5)
    raw = list(raw)
    raw[1] = None
    clip = RefinedClip(InMemoryClip(frames, {1: raw}), {1: RefineParams(temporal=2)})
    assert clip.matte(1, 1) is None
    inner = cv2.erode(truth[2], np.ones((7, 7))) > 0
    assert clip.matte(1, 2)[inner].min() > 0.95
