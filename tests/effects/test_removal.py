"""Object removal restores the background other frames show, steadily, and inpaints the rest."""

from __future__ import annotations

import cv2
import numpy as np

from sam2_studio.effects import InMemoryClip, ObjectStack, Renderer
from sam2_studio.effects.removal import sample_frames

from .conftest import textured

H, W = 120, 200


def _remove(frames, mattes, registry, frames_to_render, **params):
    clip = InMemoryClip(frames, mattes)
    stacks = {1: ObjectStack(effects=(registry.entry("remove", **params),))}
    r = Renderer(clip, stacks, registry=registry)
    return [r.render(i).rgb for i in frames_to_render]


def _walker(n=20, speed=6, size=30, pan=0, seed=0):
    """A textured object walking over a textured background; the camera may pan."""
    world = textured((H, W + pan * n + 10), seed=seed)
    sprite = np.full((size, size, 3), (250, 40, 40), np.uint8)
    frames, mattes, plates = [], [], []
    for i in range(n):
        plate = world[:, pan * i : pan * i + W].copy()
        f = plate.copy()
        x = 20 + speed * i
        f[45 : 45 + size, x : x + size] = sprite
        m = np.zeros((H, W), np.uint8)
        m[45 : 45 + size, x : x + size] = 255
        frames.append(f)
        mattes.append(m)
        plates.append(plate)
    return frames, mattes, plates


def _hole(mattes, i, grow=4):
    return cv2.dilate((mattes[i] > 0).astype(np.uint8), np.ones((2 * grow + 1,) * 2)) > 0


def test_sample_frames_sit_on_a_grid_that_does_not_move_with_the_frame():
    a = sample_frames(50, 200, search=40, samples=10)
    b = sample_frames(51, 200, search=40, samples=10)
    assert a[0] in (48, 56) and set(a) & set(b) and all(j % 8 == 0 for j in a + b)
    assert sample_frames(3, 1, 10, 4) == [] and sample_frames(3, 10, 0, 4) == []


def test_removal_restores_the_background_seen_in_other_frames(registry):
    frames, mattes, plates = _walker()
    outs = _remove(frames, {1: mattes}, registry, [10], search=10, samples=10)
    hole = _hole(mattes, 10)
    err = np.abs(outs[0].astype(int) - plates[10])[hole].mean()
    assert err < 2.0
    assert np.array_equal(outs[0][~_hole(mattes, 10, 8)], frames[10][~_hole(mattes, 10, 8)])


def test_removal_follows_a_panning_camera(registry):
    frames, mattes, plates = _walker(pan=4, seed=3)
    outs = _remove(frames, {1: mattes}, registry, [10], search=10, samples=10)
    hole = _hole(mattes, 10)
    err = np.abs(outs[0].astype(int) - plates[10])[hole].mean()
    assert err < 4.0
    # Without following the camera the same frames give the wrong background.
    wrong = _remove(frames, {1: mattes}, registry, [10], search=10, samples=10, follow_camera=False)
    assert np.abs(wrong[0].astype(int) - plates[10])[hole].mean() > 2 * err


def test_the_fill_is_steady_from_frame_to_frame(registry):
    frames, mattes, plates = _walker(n=24, speed=5)
    rng = np.random.default_rng(0)
    noisy = [
        np.clip(f.astype(int) + rng.normal(0, 4, f.shape), 0, 255).astype(np.uint8) for f in frames
    ]
    outs = _remove(noisy, {1: mattes}, registry, range(8, 14), search=12, samples=12)
    # Where the hole covers the same pixels in consecutive frames, the fill hardly changes:
    # far less than the sensor noise does between two frames of the source.
    steps, noise = [], []
    for k in range(len(outs) - 1):
        both = _hole(mattes, 8 + k) & _hole(mattes, 9 + k)
        steps.append(np.abs(outs[k].astype(int) - outs[k + 1])[both].mean())
        noise.append(np.abs(noisy[8 + k].astype(int) - noisy[9 + k])[~both].mean())
    assert max(steps) < 0.5 * np.mean(noise)


def test_background_never_seen_is_inpainted(registry):
    # A still object: no frame shows what is behind it. A smooth gradient background.
    yy, xx = np.mgrid[:H, :W]
    plate = np.dstack([xx * 255 // W, yy * 255 // H, np.full((H, W), 90)]).astype(np.uint8)
    frame = plate.copy()
    frame[40:80, 80:120] = (255, 255, 255)
    m = np.zeros((H, W), np.uint8)
    m[40:80, 80:120] = 255
    frames, mattes = [frame] * 6, [m] * 6
    out = _remove(frames, {1: mattes}, registry, [3], search=3, samples=6)[0]
    hole = m > 0
    err = np.abs(out.astype(int) - plate)[hole].mean()
    assert err < 12  # plausible continuation of the gradient, not the white object
    assert np.abs(frame.astype(int) - plate)[hole].mean() > 100


def test_other_objects_are_not_used_as_background(registry):
    frames, mattes, plates = _walker()
    # A second object (blue) passes over the place behind the first in the other frames.
    blocker = []
    for i, f in enumerate(frames):
        m = np.zeros((H, W), np.uint8)
        if i != 10:
            x = 20 + 6 * 10 - 10
            f[40:80, x : x + 50] = (0, 0, 255)
            m[40:80, x : x + 50] = 255
        blocker.append(m)
    outs = _remove(frames, {1: mattes, 2: blocker}, registry, [10], search=10, samples=10)
    hole = _hole(mattes, 10)
    assert (outs[0][hole][:, 2] > 200).mean() < 0.02  # no blue pulled in


def test_removal_on_real_footage_restores_the_true_background(car, registry):
    """A stand-in object rides along beside the car, in a place that in frame ``i`` shows
    real background; removing it must give back those true pixels, which the clip shows in
    other frames (the camera pans, so they come from elsewhere on screen)."""
    n = len(car.frames)
    shift = -130  # px left of the car, at the test size
    ghost = []
    for t in range(n):
        m = car.masks[1][t]
        moved = np.zeros_like(m)
        moved[:, :shift] = m[:, -shift:]
        ghost.append(moved)
    i = 22
    assert not (ghost[i] & car.masks[1][i]).any()
    outs = _remove(car.frames, {1: ghost, 2: car.masks[1]}, registry, [i])
    hole = ghost[i] > 0
    truth = car.frames[i]
    err = np.abs(outs[0].astype(int) - truth)[hole].mean()
    # The baseline any editor has: inpainting from the surroundings.
    inpainted = cv2.inpaint(truth, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    baseline = np.abs(inpainted.astype(int) - truth)[hole].mean()
    assert err < 0.6 * baseline
    assert err < 15
