"""Temporal matte smoothing that calms edge chatter without smearing moving objects.

A plain average of neighbouring mattes leaves a ghost trail behind anything that moves:
for a car crossing at 40 px/frame, a ±2 frame average puts a 40 % copy of the car where it
was two frames ago. Two things stop that here:

- motion compensation: each neighbour's matte (and frame) is shifted by the object's own
  displacement, measured as the change of the matte's centroid, so the shapes are averaged
  in the object's frame of reference, not the screen's;
- a colour gate: a neighbour's vote counts at a pixel only where its shifted frame looks like
  this frame there (weight ``exp(-(Δ/τ)²)`` on the mean absolute RGB difference Δ). Where the
  shift does not explain the motion (a swinging arm, an object turning, another object
  passing) the colours disagree and this frame's own matte wins.

The result: a still or steadily moving object's edge is the average of several frames'
edges (chatter falls roughly by the square root of the number of frames that agree), while
a part that really moved keeps its current position. Where the object and its surroundings
share a colour the gate cannot tell them apart, and a non-rigid motion there is softened
over the window; keep the radius small (1–2 frames) for such shots.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from sam2_studio.effects.context import Box, nonzero_box

# Colour difference (0..255 scale, mean of R, G, B) at which a neighbour's vote falls to 1/e.
COLOUR_TOLERANCE = 18.0


def _centroid(matte: np.ndarray, box: Box) -> tuple[float, float] | None:
    m = cv2.moments(matte[box.slices], binaryImage=False)
    if m["m00"] <= 1e-6:
        return None
    return box.x0 + m["m10"] / m["m00"], box.y0 + m["m01"] / m["m00"]


def _shifted(image: np.ndarray, dx: float, dy: float, box: Box, border: int) -> np.ndarray:
    """The part of ``image`` that lands in ``box`` after moving it by (dx, dy)."""
    warp = np.float32([[1, 0, box.x0 - dx], [0, 1, box.y0 - dy]])
    return cv2.warpAffine(
        image, warp, (box.width, box.height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border,
    )  # fmt: skip


def smooth(
    index: int,
    radius: int,
    count: int,
    matte_at: Callable[[int], np.ndarray | None],
    frame_at: Callable[[int], np.ndarray],
    tolerance: float = COLOUR_TOLERANCE,
) -> np.ndarray | None:
    """This frame's matte averaged with its neighbours' (±``radius``), motion-compensated.

    ``matte_at(j)`` gives frame ``j``'s matte (float32, after reshaping) or ``None`` when
    the object is absent; ``count`` is the clip length. Returns ``None`` when the object is
    absent here (smoothing never makes an object appear in a frame without it).
    """
    here = matte_at(index)
    if here is None or radius <= 0:
        return here
    here_box = nonzero_box(here)
    if here_box is None:
        return here
    centre = _centroid(here, here_box)
    assert centre is not None

    neighbours = []
    work = here_box
    for j in range(max(0, index - radius), min(count, index + radius + 1)):
        if j == index:
            continue
        m = matte_at(j)
        box = None if m is None else nonzero_box(m)
        if box is None:
            continue  # absent there: it says nothing about this frame's edge
        c = _centroid(m, box)
        assert c is not None
        dx, dy = centre[0] - c[0], centre[1] - c[1]
        moved = Box(
            int(np.floor(box.y0 + dy)), int(np.ceil(box.y1 + dy)),
            int(np.floor(box.x0 + dx)), int(np.ceil(box.x1 + dx)),
        )  # fmt: skip
        work = work.union(moved)
        weight = 1.0 - abs(j - index) / (radius + 1.0)
        neighbours.append((j, m, dx, dy, weight))
    if not neighbours:
        return here

    work = work.grown(2, here.shape)
    frame_here = frame_at(index)[work.slices]
    ref = cv2.GaussianBlur(frame_here, (0, 0), 1.0).astype(np.float32)
    total = here[work.slices].copy()
    weights = np.ones(total.shape, np.float32)
    inv_tol = np.float32(1.0 / (3.0 * tolerance))
    for j, m, dx, dy, weight in neighbours:
        m_j = _shifted(m, dx, dy, work, cv2.BORDER_CONSTANT)
        f_j = _shifted(frame_at(j), dx, dy, work, cv2.BORDER_REPLICATE)
        diff = cv2.absdiff(ref, cv2.GaussianBlur(f_j, (0, 0), 1.0).astype(np.float32))
        delta = cv2.transform(diff, np.full((1, 3), inv_tol, np.float32))  # mean Δ / τ
        gate = np.exp(-(delta * delta)) * np.float32(weight)
        total += gate * m_j
        weights += gate
    out = np.zeros_like(here)
    out[work.slices] = total / weights
    return out
