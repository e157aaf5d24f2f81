"""The detail pass's geometry: crops, tiles, blending and pasting land every pixel where it
belongs (a stand-in model whose output is a known function of its input shows it)."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_studio.engine.crops import Region, blend, coverage, crop_around, mask_box, tiles_of
from sam2_studio.engine.detail import DetailParams, crop_logits, detail_pass, mask_prompt, plan


def coded_frame(w: int, h: int) -> np.ndarray:
    """Every pixel's colour spells its position: x = R + 256·(B mod 16), y = G + 256·(B div 16)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x % 256, y % 256, (x // 256) + 16 * (y // 256)]).astype(np.uint8)


def decode(image: np.ndarray) -> np.ndarray:
    """The position code of each pixel, as a float map: y·4096 + x."""
    r, g, b = (image[..., i].astype(np.int64) for i in range(3))
    return ((g + 256 * (b // 16)) * 4096 + r + 256 * (b % 16)).astype(np.float32)


class StandIn:
    """A 'model' whose logits are a known function of the crop's pixels; it records what
    it was asked."""

    def __init__(self, input_size: int) -> None:
        self.input_size = input_size
        self.calls: list[tuple[np.ndarray, tuple[float, ...], np.ndarray]] = []

    def __call__(self, image, box, mask_logits):  # noqa: ANN001
        self.calls.append((image.copy(), box, mask_logits.copy()))
        return decode(image)


def blob(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1


CASES = [
    # frame (w, h), ellipse (cx, cy, rx, ry), model input size
    ((853, 481), (400, 240, 150, 90), 256),  # odd sizes, one crop
    ((853, 481), (20, 15, 60, 50), 256),  # at the top-left corner: the crop slides inwards
    ((853, 481), (845, 475, 90, 70), 256),  # at the bottom-right corner
    ((853, 481), (426, 240, 410, 230), 256),  # nearly the whole frame: tiles
    ((1001, 333), (500, 166, 480, 160), 128),  # many tiles, a wide crop, at the borders
]


@pytest.mark.parametrize("size, ellipse, input_size", CASES)
def test_every_pixel_lands_where_it_belongs(size, ellipse, input_size):
    w, h = size
    frame = coded_frame(w, h)
    mask = blob(h, w, *ellipse)
    model = StandIn(input_size)
    p = plan(mask, input_size, DetailParams(min_gain=0))
    assert p.skipped is None and p.region is not None
    merged, encoded = crop_logits(frame, mask, model, p)
    # the blended logits over the region are the code of exactly those frame pixels
    np.testing.assert_array_equal(merged, decode(frame)[p.region.slices])
    # each tile was given its own pixels, the part of the mask inside it and that part's box
    asked = [t for t in p.tiles if mask[t.slices].any()]
    assert len(model.calls) == len(asked) and encoded == sum(t.area for t in asked)
    for tile, (image, box, logits) in zip(asked, model.calls):
        np.testing.assert_array_equal(image, frame[tile.slices])
        np.testing.assert_array_equal(logits, mask_prompt(mask[tile.slices]))
        inner = mask_box(mask[tile.slices])
        ys, xs = np.nonzero(mask[tile.slices])
        assert box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == inner.box_in(Region(0, 0, 1, 1))
    if ellipse[2] > 400:
        assert len(p.tiles) > 1


def test_the_region_holds_the_object_with_its_margin_and_stays_in_the_frame():
    for (w, h), ellipse, input_size in CASES:
        mask = blob(h, w, *ellipse)
        params = DetailParams(min_gain=0)
        r = plan(mask, input_size, params).region
        box = mask_box(mask)
        assert 0 <= r.x0 <= box.x0 and box.x1 <= r.x1 <= w and 0 <= r.y0 <= box.y0 and box.y1 <= r.y1 <= h
        m = max(params.min_margin, int(np.ceil(params.margin * max(box.width, box.height))))
        # the margin is there wherever the frame leaves room for it
        assert r.x0 <= max(0, box.x0 - m) and r.x1 >= min(w, box.x1 + m)
        assert r.y0 <= max(0, box.y0 - m) and r.y1 >= min(h, box.y1 + m)
        assert max(r.width, r.height) <= params.max_aspect * min(r.width, r.height) + 1 or \
            min(r.width, r.height) in (w, h)


def test_a_thin_object_gets_a_crop_of_moderate_aspect_and_a_small_one_a_minimum_side():
    r = crop_around(Region(100, 200, 700, 210), (1920, 1080), margin=0.0, min_margin=4, min_side=64, max_aspect=2.0)
    assert r.width == 608 and r.height == 304 and r.y0 <= 200 and r.y1 >= 210
    r = crop_around(Region(5, 5, 9, 9), (1920, 1080), margin=0.0, min_margin=2, min_side=64, max_aspect=2.0)
    assert (r.x0, r.y0, r.width, r.height) == (0, 0, 64, 64)  # slid in from the corner


@pytest.mark.parametrize("length, tile, overlap", [(1000, 384, 48), (385, 384, 48), (3840, 1536, 192), (97, 40, 5)])
def test_tiles_cover_the_region_overlapping_and_no_larger_than_asked(length, tile, overlap):
    region = Region(7, 3, 7 + length, 3 + length // 2)
    tiles = tiles_of(region, tile, overlap)
    cover = np.zeros((region.height, region.width), int)
    for t in tiles:
        assert t.width <= tile and t.height <= tile
        cover[t.within(region)] += 1
    assert cover.min() >= 1
    xs = sorted({(t.x0, t.x1) for t in tiles})
    for (a0, a1), (b0, b1) in zip(xs, xs[1:]):
        assert a1 - b0 >= overlap  # neighbours share at least the overlap


def test_blending_fades_across_seams_and_keeps_what_tiles_agree_on():
    region = Region(0, 0, 100, 20)
    tiles = tiles_of(region, 60, 20)
    assert len(tiles) == 2
    same = blend(region, tiles, [np.full((t.height, t.width), 3.0, np.float32) for t in tiles])
    np.testing.assert_allclose(same, 3.0, rtol=0, atol=1e-6)
    ramp = blend(region, tiles, [np.full((t.height, t.width), v, np.float32) for t, v in zip(tiles, (0.0, 1.0))])
    row = ramp[0]
    left, right = tiles[0].x1, tiles[1].x0
    assert np.all(row[:right] == 0) and np.all(row[left:] == 1)
    assert np.all(np.diff(row) >= 0) and 0 < row[(left + right) // 2] < 1  # a smooth fade


def test_pasting_puts_the_crop_back_at_its_place():
    h, w = 481, 853
    mask = blob(h, w, 845, 475, 90, 70)
    frame = coded_frame(w, h)
    result = detail_pass(frame, mask, StandIn(256), DetailParams(min_gain=0, soft_edge=False))
    matte = result.matte((h, w))
    r = result.region
    expect = np.zeros((h, w), np.float32)
    expect[r.slices] = (decode(frame)[r.slices] > 0).astype(np.float32)
    np.testing.assert_array_equal(matte, expect)
    assert np.all(matte[: r.y0] == 0) and np.all(matte[:, : r.x0] == 0)


def test_coverage_is_the_exact_area_for_a_straight_edge():
    x = np.arange(40, dtype=np.float32) + 0.5  # pixel centres
    edge = 17.3
    logits = np.tile(2.5 * (edge - x), (5, 1))  # object on the left of x = 17.3
    alpha = coverage(logits)[2]
    exact = np.clip(edge - (x - 0.5), 0, 1)
    np.testing.assert_allclose(alpha, exact, atol=1e-5)
    assert np.array_equal(alpha >= 0.5, logits[2] >= 0)
