"""Matte refinement: the edge controls a compositor expects, in one fixed order.

0. detail pass: the model looks again at the object's edge at full resolution (the app
   layer runs it, as it owns the model: ``engine/detail.py``; here it is only a switch);
1. remove specks: foreground islands up to an area go (the largest island always stays,
   so a distant object is never erased for being small);
2. fill holes: background pockets up to an area, enclosed by the object, become object;
3. smooth edges: a Gaussian of the shape re-cut at half height removes jaggies and
   one-pixel spurs while keeping corners of the given radius;
4. grow / shrink (choke) by a distance in pixels, measured with a Euclidean distance
   transform so the offset is round and exact at any size;
5. temporal smoothing over neighbouring frames (``temporal.py``);
6. feather: a Gaussian soft edge centred on the contour.

Clean the topology before moving the edge (a speck must not grow into a blob), move the
edge before comparing frames (neighbours are compared as they will be used), and soften
last, because the soft edge is what the compositor sees. Steps 1–4 work on the matte cut at
0.5; a matte with none of them active keeps its own soft edge. Each step runs only inside
the box around the object, so refinement cost follows the object's size, not the frame's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sam2_studio.effects.context import Box, nonzero_box
from sam2_studio.effects.imaging import gaussian
from sam2_studio.effects.params import param


@dataclass(frozen=True)
class RefineParams:
    """How one object's matte is cleaned and softened before its effects see it."""

    detail: bool = param(
        False, label="Detail pass",
        help="Let the model look again at the object's edge at full resolution (a crop "
        "around the object): sharper mattes at 1080p and 4K; needs a model, slower",
    )  # fmt: skip
    remove_specks: float = param(
        0.0, min=0, max=1_000_000, step=10, unit="px²",
        label="Remove specks", help="Drop islands of the matte up to this area",
    )  # fmt: skip
    fill_holes: float = param(
        0.0, min=0, max=1_000_000, step=10, unit="px²",
        label="Fill holes", help="Fill gaps inside the object up to this area",
    )  # fmt: skip
    smooth: float = param(
        0.0, min=0, max=50, step=0.5, unit="px",
        label="Smooth edges", help="Remove jaggies and spurs narrower than about this",
    )  # fmt: skip
    grow: float = param(
        0.0, min=-200, max=200, step=0.5, unit="px",
        label="Grow / shrink", help="Move the edge outwards (positive) or choke it (negative)",
    )  # fmt: skip
    temporal: int = param(
        0, min=0, max=6, step=1, unit="frames",
        label="Temporal smoothing",
        help="Average the edge over this many frames each side, following the object's "
        "motion, to calm chatter",
    )  # fmt: skip
    feather: float = param(
        0.0, min=0, max=300, step=0.5, unit="px",
        label="Feather", help="Width of the soft edge",
    )  # fmt: skip

    @property
    def reshapes(self) -> bool:
        """True when steps 1–4 change the shape (and the matte is cut at 0.5 for them)."""
        return bool(self.remove_specks or self.fill_holes or self.smooth or self.grow)

    @property
    def is_identity(self) -> bool:
        """Nothing for the effects layer to do (the detail pass happens before, at the source)."""
        return not (self.reshapes or self.temporal or self.feather)


def remove_specks(binary: np.ndarray, max_area: float) -> np.ndarray:
    """Foreground islands (8-connected) of at most ``max_area`` pixels removed, largest kept."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 2:
        return binary
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = areas > max_area
    keep[0] = False
    keep[1 + int(np.argmax(areas[1:]))] = True
    return keep.astype(np.uint8)[labels]


def fill_holes(binary: np.ndarray, max_area: float) -> np.ndarray:
    """Background pockets (4-connected) of at most ``max_area`` not touching the border, filled.

    Call it on an image with a background margin around the object (or the whole frame):
    pockets that touch the image border count as outside.
    """
    background = (binary == 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    if n <= 1:
        return binary
    h, w = binary.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    fill = (~touches) & (stats[:, cv2.CC_STAT_AREA] <= max_area)
    fill[0] = False
    if not fill.any():
        return binary
    return binary | fill.astype(np.uint8)[labels]


def smooth_edges(binary: np.ndarray, radius: float) -> np.ndarray:
    """The shape blurred and re-cut at half height, with a one-pixel anti-aliased edge."""
    sigma = radius / 2.0
    blurred = gaussian(binary.astype(np.float32), sigma)
    # A straight edge blurred by σ has slope 1/(σ√2π) at 0.5; rescale it to one pixel.
    slope = sigma * math.sqrt(2 * math.pi)
    return np.clip((blurred - 0.5) * slope + 0.5, 0.0, 1.0)


def grow(binary: np.ndarray, distance: float) -> np.ndarray:
    """The shape's edge moved out (positive) or in (negative) by ``distance`` pixels."""
    if distance > 0:
        d = cv2.distanceTransform(1 - binary, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return np.clip(distance + 1.0 - d, 0.0, 1.0)
    d = cv2.distanceTransform(binary, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip(d + distance, 0.0, 1.0)


def feather(matte: np.ndarray, radius: float) -> np.ndarray:
    """A soft edge about ``radius`` pixels wide on each side of the contour."""
    if radius <= 0:
        return matte
    return np.clip(gaussian(matte, radius / 2.0), 0.0, 1.0)


def _reshape(binary: np.ndarray, p: RefineParams) -> np.ndarray:
    if p.remove_specks:
        binary = remove_specks(binary, p.remove_specks)
    if p.fill_holes:
        binary = fill_holes(binary, p.fill_holes)
    if p.smooth:
        soft = smooth_edges(binary, p.smooth)
        if not p.grow:
            return soft
        binary = (soft >= 0.5).astype(np.uint8)
    if p.grow:
        return grow(binary, p.grow)
    return binary.astype(np.float32)


def reshape(matte: np.ndarray, p: RefineParams) -> np.ndarray:
    """Steps 1–4 on a float32 matte; returns a new float32 matte (or the same if none apply)."""
    if not p.reshapes:
        return matte
    binary = (matte >= 0.5).astype(np.uint8)
    box = nonzero_box(binary)
    out = np.zeros(matte.shape, np.float32)
    if box is None:
        return out
    # Room for the edge to move and for a one-pixel background ring (holes must be enclosed).
    margin = int(math.ceil(max(p.grow, 0.0) + 1.5 * p.smooth)) + 2
    crop = box.grown(margin, matte.shape)
    out[crop.slices] = _reshape(binary[crop.slices], p)
    return out


def soft_box(matte: np.ndarray, extra: float = 0.0) -> Box | None:
    """Where a matte is non-zero, grown by ``extra`` pixels (the reach of a later blur)."""
    box = nonzero_box(matte)
    return None if box is None else box.grown(int(math.ceil(extra)), matte.shape)


def feather_in_box(matte: np.ndarray, radius: float) -> np.ndarray:
    """:func:`feather`, computed only around the object."""
    if radius <= 0:
        return matte
    box = soft_box(matte, 1.5 * radius + 2)
    if box is None:
        return matte
    out = np.zeros_like(matte)
    out[box.slices] = feather(matte[box.slices], radius)
    return out


def refine_still(matte: np.ndarray, p: RefineParams) -> np.ndarray:
    """Refinement of a single image (every step but temporal smoothing)."""
    return feather_in_box(reshape(matte, p), p.feather)
