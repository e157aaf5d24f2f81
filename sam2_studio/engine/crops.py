"""Where the detail pass looks: crops and tiles of a frame, and putting their logits back.

Pure numpy, no model: the geometry is tested on its own (a stand-in whose output is a known
function of its input shows every pixel lands where it belongs). Regions are half-open
pixel rectangles ``[x0, x1) × [y0, y1)`` in frame pixels; a prompt box around a region's
pixels is ``(x0, y0, x1, y1)`` with the far edges *after* the last pixel, the convention of
the project's prompts (pixel (0, 0) covers 0..1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    """A half-open rectangle of pixels: columns ``x0 .. x1-1``, rows ``y0 .. y1-1``."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError(f"a region needs an area, got {self}")

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def within(self, outer: Region) -> tuple[slice, slice]:
        """This region's slices in the coordinates of ``outer`` (which must contain it)."""
        return (slice(self.y0 - outer.y0, self.y1 - outer.y0),
                slice(self.x0 - outer.x0, self.x1 - outer.x0))

    def box_in(self, outer: Region) -> tuple[float, float, float, float]:
        """This region as a prompt box in the pixel coordinates of a crop ``outer``."""
        return (float(self.x0 - outer.x0), float(self.y0 - outer.y0),
                float(self.x1 - outer.x0), float(self.y1 - outer.y0))


def mask_box(mask: np.ndarray) -> Region | None:
    """The smallest region holding every set pixel of ``mask``; None when it is empty."""
    rows = np.flatnonzero(np.any(mask, axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(np.any(mask, axis=0))
    return Region(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _fit(lo: int, hi: int, limit: int) -> tuple[int, int]:
    """``[lo, hi)`` moved (not shrunk) to lie inside ``[0, limit)``; cut only if longer."""
    if hi - lo >= limit:
        return 0, limit
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > limit:
        lo, hi = lo - (hi - limit), limit
    return lo, hi


def _widen(lo: int, hi: int, size: int) -> tuple[int, int]:
    """``[lo, hi)`` grown about its centre to at least ``size``."""
    extra = size - (hi - lo)
    if extra <= 0:
        return lo, hi
    return lo - extra // 2, hi + extra - extra // 2


def crop_around(box: Region, frame_size: tuple[int, int], *, margin: float, min_margin: int,
                min_side: int, max_aspect: float) -> Region:
    """The crop the model looks at for an object whose mask fills ``box``.

    ``margin`` (a fraction of the box's longer side, at least ``min_margin`` pixels) leaves
    room for an edge the coarse mask placed too far in; no side is shorter than ``min_side``
    (finer than a pixel per logit cell gains nothing) nor than the longer side over
    ``max_aspect`` (the model sees the crop squashed to a square, as it saw its training
    frames: a moderate aspect only). At a frame border the crop slides inwards rather than
    shrink, so the object keeps its context.
    """
    w, h = frame_size
    m = max(min_margin, math.ceil(margin * max(box.width, box.height)))
    x0, x1 = box.x0 - m, box.x1 + m
    y0, y1 = box.y0 - m, box.y1 + m
    x0, x1 = _widen(x0, x1, min_side)
    y0, y1 = _widen(y0, y1, min_side)
    x0, x1 = _widen(x0, x1, math.ceil((y1 - y0) / max_aspect))
    y0, y1 = _widen(y0, y1, math.ceil((x1 - x0) / max_aspect))
    x0, x1 = _fit(x0, x1, w)
    y0, y1 = _fit(y0, y1, h)
    return Region(x0, y0, x1, y1)


def _spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Overlapping ``[a, b)`` of at most ``tile`` covering ``[0, length)``, evenly spread."""
    if length <= tile:
        return [(0, length)]
    overlap = min(overlap, tile // 2)
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    starts = [round(i * (length - size) / (n - 1)) for i in range(n)]
    return [(s, s + size) for s in starts]


def tiles_of(region: Region, tile: int, overlap: int) -> list[Region]:
    """``region`` in overlapping tiles of at most ``tile`` pixels a side (one tile if it fits)."""
    xs = _spans(region.width, tile, overlap)
    ys = _spans(region.height, tile, overlap)
    return [Region(region.x0 + a, region.y0 + c, region.x0 + b, region.y0 + d)
            for c, d in ys for a, b in xs]


def _ramp(lo: int, hi: int, length: int, spans: list[tuple[int, int]]) -> np.ndarray:
    """Weights along one axis of a tile spanning ``[lo, hi)`` of ``[0, length)``: 1 inside,
    rising across the overlap with the span before and falling across the one after (never 0,
    so every pixel has weight)."""
    x = np.arange(lo, hi, dtype=np.float64) + 0.5
    w = np.ones(hi - lo, np.float64)
    before = [b for a, b in spans if a < lo and b > lo]
    after = [a for a, b in spans if b > hi and a < hi]
    if before:
        w = np.minimum(w, (x - lo) / (max(before) - lo))
    if after:
        w = np.minimum(w, (hi - x) / (hi - min(after)))
    return w


def blend(region: Region, tiles: list[Region], values: list[np.ndarray]) -> np.ndarray:
    """One map over ``region`` from the tiles' maps: a weighted average that fades each
    tile out across its overlaps, so the seams do not show. Weights sum to one at every
    pixel, so tiles that agree give back exactly what they agree on."""
    if len(tiles) == 1 and tiles[0] == region:
        return np.asarray(values[0], np.float32)
    total = np.zeros((region.height, region.width), np.float64)
    weight = np.zeros_like(total)
    rel = [t.within(region) for t in tiles]
    xspans = sorted({(s[1].start, s[1].stop) for s in rel})
    yspans = sorted({(s[0].start, s[0].stop) for s in rel})
    for (ys, xs), v in zip(rel, values):
        wx = _ramp(xs.start, xs.stop, region.width, xspans)
        wy = _ramp(ys.start, ys.stop, region.height, yspans)
        w = wy[:, None] * wx[None, :]
        total[ys, xs] += w * v
        weight[ys, xs] += w
    return (total / weight).astype(np.float32)


def coverage(logits: np.ndarray) -> np.ndarray:
    """Alpha 0..1 from logits at pixel resolution: the fraction of each pixel on the object's
    side of the zero crossing, assuming the edge is straight across the pixel (the logit over
    its gradient is the signed distance to the edge in pixels). A one-pixel anti-aliased
    edge, cut at 0.5 exactly where the logits cross 0."""
    gy, gx = np.gradient(logits.astype(np.float32))
    slope = np.hypot(gx, gy)
    return np.clip(0.5 + logits / np.maximum(slope, 1e-6), 0.0, 1.0).astype(np.float32)
