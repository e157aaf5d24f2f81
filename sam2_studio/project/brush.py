"""Rasterising brush strokes onto a mask, in numpy so the document layer needs nothing else."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paint(mask: np.ndarray, points: Sequence[tuple[float, float]], radius: float,
          erase: bool = False) -> None:
    """Set (or clear) in place every pixel whose centre lies within ``radius`` of the polyline.

    Only the bounding box of each segment is touched, so a dab costs its own size, not the
    frame's.
    """
    if not len(points):
        return
    h, w = mask.shape
    pts = list(points) if len(points) > 1 else [points[0], points[0]]
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
        c0 = max(int(np.floor(min(ax, bx) - radius)), 0)
        c1 = min(int(np.ceil(max(ax, bx) + radius)) + 1, w)
        r0 = max(int(np.floor(min(ay, by) - radius)), 0)
        r1 = min(int(np.ceil(max(ay, by) + radius)) + 1, h)
        if c0 >= c1 or r0 >= r1:
            continue
        px = np.arange(c0, c1, dtype=np.float64)[None, :] + 0.5
        py = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        if length2 > 0:
            t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0.0, 1.0)
        else:
            t = np.zeros((1, 1))
        inside = (px - (ax + t * dx)) ** 2 + (py - (ay + t * dy)) ** 2 <= radius * radius
        region = mask[r0:r1, c0:c1]
        if erase:
            region[inside] = False
        else:
            region[inside] = True
