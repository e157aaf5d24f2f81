"""Matte refinement does what each control's name says, on masks built for the purpose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam2_studio.effects import RefineParams
from sam2_studio.effects.refine import feather, grow, refine_still, reshape

H, W = 200, 240


def disc(radius: float, centre=(100, 120), shape=(H, W)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2).astype(np.float32)


def edge_radius(matte: np.ndarray, centre=(100, 120)) -> float:
    """Where the matte crosses 0.5 going right from the centre (linear interpolation)."""
    row = matte[centre[0], centre[1] :]
    k = int(np.argmax(row < 0.5))
    a, b = row[k - 1], row[k]
    return k - 1 + (a - 0.5) / (a - b)


def test_remove_specks_drops_small_islands_only():
    m = disc(40)
    m[5:8, 5:8] = 1  # 9 px
    m[20:25, 5:10] = 1  # 25 px
    m[150:160, 10:20] = 1  # 100 px
    out = reshape(m, RefineParams(remove_specks=30))
    assert out[6, 6] == 0 and out[22, 7] == 0
    assert out[155, 15] == 1 and out[100, 120] == 1


def test_remove_specks_never_removes_the_object_itself():
    m = disc(10)  # 317 px
    m[5:8, 5:8] = 1
    out = reshape(m, RefineParams(remove_specks=10_000))
    assert out[100, 120] == 1 and out[6, 6] == 0


def test_fill_holes_fills_small_enclosed_gaps_only():
    m = disc(60)
    m[95:100, 95:100] = 0  # 25 px hole
    m[110:125, 120:135] = 0  # 225 px hole
    m[100:104, 170:181] = 0  # a notch open to the outside: not a hole
    out = reshape(m, RefineParams(fill_holes=100))
    assert out[97, 97] == 1
    assert out[117, 127] == 0
    assert out[102, 178] == 0


def test_fill_holes_leaves_pockets_open_to_the_frame_border():
    m = np.zeros((H, W), np.float32)
    m[:60, :60] = 1
    m[:10, 20:30] = 0  # touches the top border: background, not a hole
    m[30:35, 30:35] = 0  # enclosed
    out = reshape(m, RefineParams(fill_holes=1000))
    assert out[2, 25] == 0 and out[32, 32] == 1


@pytest.mark.parametrize("distance", [5.0, -5.0, 12.5])
def test_grow_and_shrink_move_the_edge_by_that_many_pixels(distance):
    out = reshape(disc(40), RefineParams(grow=distance))
    assert edge_radius(out) == pytest.approx(40 + distance, abs=0.75)
    area = out.sum()
    assert area == pytest.approx(np.pi * (40 + distance) ** 2, rel=0.03)


def test_grow_in_a_crop_equals_grow_on_the_whole_frame():
    m = disc(30, centre=(20, 20))  # touches the frame border
    m[150:170, 200:230] = 1
    full = grow((m >= 0.5).astype(np.uint8), 7)
    assert np.array_equal(reshape(m, RefineParams(grow=7)), full)


def test_feather_is_a_centred_soft_edge_of_that_width():
    m = np.zeros((H, W), np.float32)
    m[:, :120] = 1
    out = feather(m, 10)
    row = out[100]
    assert row[119] > 0.5 > row[120]  # half height on the contour
    assert row[119 - 10] > 0.95 and row[120 + 10] < 0.05
    assert np.all(np.diff(row) <= 1e-6)  # monotonic
    assert row[:90].min() > 0.999 and row[150:].max() < 1e-3


def test_feather_keeps_a_soft_input_soft_and_nothing_else_changes_it():
    m = cv2.GaussianBlur(disc(40), (0, 0), 2)
    assert refine_still(m, RefineParams()) is m
    out = refine_still(m, RefineParams(feather=3))
    assert 0 < out[100, 160] < 1 and out[100, 120] == pytest.approx(1, abs=1e-3)


def test_smooth_edges_removes_spurs_and_jaggies_but_keeps_the_shape():
    rect = np.zeros((H, W), np.float32)
    rect[50:150, 60:180] = 1
    jagged = rect.copy()
    jagged[40:50, 100] = 1  # a one-pixel spur
    jagged[50, 60:180:4] = 0  # a comb of one-pixel notches
    out = reshape(jagged, RefineParams(smooth=4))
    assert out[42, 100] < 0.5  # spur gone
    assert out[50, 64] > 0.5 and out[50, 60 + 8] > 0.5  # notches closed
    iou = ((out >= 0.5) & (rect > 0)).sum() / ((out >= 0.5) | (rect > 0)).sum()
    assert iou > 0.97


def test_steps_run_in_the_documented_order():
    # A speck removed before growing stays removed; grown first it would survive.
    m = disc(30)
    m[10:13, 10:13] = 1
    out = reshape(m, RefineParams(remove_specks=20, grow=6))
    assert out[11, 11] == 0
    # A hole is filled before shrinking: shrinking a filled disc leaves no hole.
    holed = disc(40)
    holed[98:103, 118:123] = 0
    out = reshape(holed, RefineParams(fill_holes=100, grow=-3))
    assert out[100, 120] == 1


def test_empty_matte_stays_empty():
    out = refine_still(np.zeros((H, W), np.float32), RefineParams(grow=5, feather=4, fill_holes=9))
    assert not out.any()
