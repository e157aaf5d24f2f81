"""Temporal matte smoothing that calms edge chatter without smearing moving objects.

A plain average of neighbouring mattes leaves a ghost trail behind anything that moves:
for a car crossing at 30 px/frame, a ±2 frame average puts a 30 % copy of the car where it
was two frames ago. Two things stop that here:

- motion compensation, in two layers: the object's motion from frame ``i`` to a neighbour
  is measured on the image (corners inside the object tracked with Lucas–Kanade, a
  similarity transform fitted with RANSAC; the matte's centroid shift when the object has
  too little texture), and so is the background's around it. Each neighbour's matte is
  warped by the object's motion, so shapes are averaged in the object's frame of
  reference, not the screen's: it can move, turn and grow without trailing;
- a colour gate: a neighbour's vote counts at a pixel only where its frame, warped the
  same way, looks like this frame there (weight ``exp(-(Δ/τ)²)`` on the mean absolute RGB
  difference Δ). A vote for "object" must match through the object's motion (the same
  point of the object); a vote for "background" may match through either motion (the
  background does not move with the object). Where no motion explains a change — an arm
  swinging, another object passing, a mask error in one frame — the colours disagree and
  this frame's own matte wins.

So a steadily moving object's edge becomes the consensus of several frames (chatter
flicker falls roughly with the number of frames that agree, and the majority fixes
one-frame errors), while a part that really changed keeps this frame's shape. Where the
object and its surroundings share a colour the gate cannot tell them apart, and a
non-rigid motion there is softened over the window: keep the radius at 1–2 frames for
such shots.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from sam2_studio.effects.context import Box, nonzero_box

# Colour difference (0..255 scale, mean of R, G, B) at which a neighbour's vote falls to 1/e.
COLOUR_TOLERANCE = 18.0
_MIN_POINTS = 8
_SEARCH = 32  # px around the object searched for background corners
_REACH = 48  # px of motion (beyond the first guess) that tracking can follow
_TRACK_WIDTH = 960  # motion is measured on frames no wider than this


class _Scale:
    """Between full-size coordinates and the reduced size motion is measured at."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        h, w = shape[:2]
        self.s = s = min(1.0, _TRACK_WIDTH / w)
        self.size = (max(1, round(w * s)), max(1, round(h * s)))
        self._down = np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1]])
        self._up = np.linalg.inv(self._down)

    def grey(self, rgb: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return g if self.s == 1.0 else cv2.resize(g, self.size, interpolation=cv2.INTER_AREA)

    def box(self, box: Box) -> Box:
        s = self.s
        return Box(
            int(box.y0 * s), min(self.size[1], int(np.ceil(box.y1 * s))),
            int(box.x0 * s), min(self.size[0], int(np.ceil(box.x1 * s))),
        )  # fmt: skip

    def small(self, M: np.ndarray) -> np.ndarray:
        return (self._down @ np.vstack([M, [0, 0, 1]]) @ self._up)[:2]

    def full(self, M: np.ndarray | None) -> np.ndarray | None:
        return None if M is None else (self._up @ np.vstack([M, [0, 0, 1]]) @ self._down)[:2]


def _centroid(matte: np.ndarray, box: Box) -> tuple[float, float]:
    m = cv2.moments(matte[box.slices], binaryImage=False)
    return box.x0 + m["m10"] / m["m00"], box.y0 + m["m01"] / m["m00"]


def _corners(grey: np.ndarray, where: np.ndarray, region: Box) -> np.ndarray | None:
    """Trackable corners of ``grey`` inside ``where`` (a mask of ``region``), frame coordinates."""
    pts = cv2.goodFeaturesToTrack(grey[region.slices], 80, 0.01, 5, mask=where, blockSize=5)
    if pts is None or len(pts) < _MIN_POINTS:
        return None
    return pts + np.float32([region.x0, region.y0])


def _track(
    grey_i: np.ndarray, grey_j: np.ndarray, pts: np.ndarray | None, guess: np.ndarray
) -> np.ndarray | None:
    """A 2×3 similarity taking frame ``i`` coordinates to frame ``j``, fitted to ``pts``
    tracked from ``i`` into ``j`` starting where ``guess`` puts them."""
    if pts is None:
        return None
    start = cv2.transform(pts, guess)
    # Track inside the box the points can reach, not over the whole frame.
    both = np.concatenate([pts, start]).reshape(-1, 2)
    (x0, y0), (x1, y1) = both.min(axis=0) - _REACH, both.max(axis=0) + _REACH
    h, w = grey_i.shape
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
    at = np.float32([x0, y0])
    a, b = grey_i[y0:y1, x0:x1], grey_j[y0:y1, x0:x1]
    p, q = pts - at, start - at
    lk = {"winSize": (15, 15), "maxLevel": 3}
    fwd, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, p, q, flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(
        b, a, fwd, p.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk
    )
    ok = (st1[:, 0] == 1) & (st2[:, 0] == 1)
    ok &= np.linalg.norm((back - p).reshape(-1, 2), axis=1) < 1.0
    if ok.sum() < _MIN_POINTS:
        return None
    M, inliers = cv2.estimateAffinePartial2D(
        pts[ok], fwd[ok] + at, method=cv2.RANSAC, ransacReprojThreshold=1.5
    )
    if M is None or inliers.sum() < _MIN_POINTS:
        return None
    return M


def _warped(image: np.ndarray, M: np.ndarray, box: Box, border: int) -> np.ndarray:
    """Frame ``j``'s ``image`` seen in frame ``i``'s ``box`` (``M``: ``i`` → ``j``)."""
    at_box = M @ np.array([[1, 0, box.x0], [0, 1, box.y0], [0, 0, 1]], np.float64)
    return cv2.warpAffine(
        image, at_box, (box.width, box.height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border,
    )  # fmt: skip


def _mapped_box(box: Box, M: np.ndarray, shape: tuple[int, ...]) -> Box:
    """Frame ``j``'s ``box`` in frame ``i`` coordinates (``M``: ``i`` → ``j``)."""
    inv = cv2.invertAffineTransform(M)
    corners = np.float32([[box.x0, box.y0], [box.x1, box.y0], [box.x0, box.y1], [box.x1, box.y1]])
    pts = cv2.transform(corners.reshape(-1, 1, 2), inv).reshape(-1, 2)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return Box(max(0, y0), min(shape[0], y1), max(0, x0), min(shape[1], x1))


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
    shape = here.shape
    centre = _centroid(here, here_box)
    scale = _Scale(shape)
    grey_i = scale.grey(frame_at(index))
    region = here_box.grown(_SEARCH, shape)
    small = scale.box(region)
    solid = cv2.resize(
        here[region.slices], (small.width, small.height), interpolation=cv2.INTER_AREA
    )
    solid = (solid >= 0.5).astype(np.uint8)
    kernel = np.ones((5, 5), np.uint8)
    on_object = _corners(grey_i, cv2.erode(solid, kernel) * 255, small)
    around = _corners(grey_i, (1 - cv2.dilate(solid, kernel)) * 255, small)
    still = np.float64([[1, 0, 0], [0, 1, 0]])

    neighbours = []
    work = here_box
    for j in range(max(0, index - radius), min(count, index + radius + 1)):
        m = None if j == index else matte_at(j)
        box = None if m is None else nonzero_box(m)
        if box is None:
            continue  # this frame, or absent there: nothing to say about this frame's edge
        cx, cy = _centroid(m, box)
        shift = np.float64([[1, 0, cx - centre[0]], [0, 1, cy - centre[1]]])
        frame_j = frame_at(j)
        grey_j = scale.grey(frame_j)
        obj_motion = scale.full(_track(grey_i, grey_j, on_object, scale.small(shift)))
        if obj_motion is None:
            obj_motion = shift
        bg_motion = scale.full(_track(grey_i, grey_j, around, still))
        work = work.union(_mapped_box(box, obj_motion, shape))
        weight = 1.0 - abs(j - index) / (radius + 1.0)
        neighbours.append((m, frame_j, obj_motion, bg_motion, weight))
    if not neighbours:
        return here

    work = work.grown(2, shape)
    ref = _smoothed(frame_at(index)[work.slices])
    total = here[work.slices].copy()
    weights = np.ones(total.shape, np.float32)
    per_channel = np.full((1, 3), 1.0 / (3.0 * tolerance), np.float32)

    def agreement(frame_j: np.ndarray, M: np.ndarray) -> np.ndarray:
        seen = _warped(frame_j, M, work, cv2.BORDER_REPLICATE)
        delta = cv2.transform(cv2.absdiff(ref, _smoothed(seen)), per_channel)  # mean |Δ| / τ
        return np.exp(-(delta * delta))

    for m, frame_j, obj_motion, bg_motion, weight in neighbours:
        vote = _warped(m, obj_motion, work, cv2.BORDER_CONSTANT)
        same_point = agreement(frame_j, obj_motion)
        same_place = same_point if bg_motion is None else agreement(frame_j, bg_motion)
        gate = vote * same_point + (1.0 - vote) * np.maximum(same_point, same_place)
        gate *= np.float32(weight)
        total += gate * vote
        weights += gate
    out = np.zeros_like(here)
    out[work.slices] = total / weights
    return out


def _smoothed(rgb: np.ndarray) -> np.ndarray:
    """Float RGB with sensor noise and JPEG blocks softened, for colour comparisons."""
    return cv2.GaussianBlur(rgb, (0, 0), 1.0).astype(np.float32)
