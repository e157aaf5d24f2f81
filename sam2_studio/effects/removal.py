"""Object removal: fill the object with the background other frames show, else inpaint.

For frame ``i`` the hole is the object's matte grown by ``expand`` (its edge, motion blur
and contact shadow go with it). Frames around ``i`` are sampled on a fixed grid
(``j = 0, s, 2s, …`` within ±``search``) and each is warped onto frame ``i`` by the camera
motion (``alignment.py``). A sample counts at a pixel only where no object covers it there
(every tracked object, grown the same way); its weight falls with the distance in time and
with how badly it matches frame ``i`` in a ring around the hole (a bad warp, a lighting
change). The fill is the weighted mean of the samples.

Why it does not flicker: the samples sit on a grid that does not move with ``i`` and their
weights change smoothly with ``i``, so consecutive frames blend nearly the same pixels in
nearly the same proportions. Where the total weight is low (background seen only far
away, or never) the fill fades into an inpainting (``cv2.inpaint``, Telea or
Navier–Stokes, at a reduced size that keeps it smooth) instead of switching to it
abruptly. Finally the low-frequency difference between the fill and frame ``i`` around the
hole is spread across it, so exposure changes over the clip leave no visible seam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sam2_studio.effects.alignment import CameraMotion
from sam2_studio.effects.context import Box, FrameContext, as_matte, nonzero_box
from sam2_studio.effects.effect import Effect, EffectContext, Target
from sam2_studio.effects.imaging import blend
from sam2_studio.effects.params import param
from sam2_studio.effects.refine import grow

_RING = 12  # px around the hole used to judge samples and match exposure
_MATCH_TOLERANCE = (
    10.0  # ring error (median abs RGB difference) above the best sample's for weight 1/e
)
_FULL_WEIGHT = 0.5  # total sample weight from which the temporal fill is fully trusted
_INPAINT_SIZE = 256  # longest side of the hole's box when inpainting


@dataclass(frozen=True)
class RemovalParams:
    expand: float = param(
        4.0, min=0, max=100, step=0.5, unit="px", label="Expand",
        help="Grow the removed area to take the object's edge, motion blur and shadow",
    )  # fmt: skip
    search: int = param(
        60, min=0, max=600, step=1, unit="frames", label="Search",
        help="How far before and after to look for the background behind the object",
    )  # fmt: skip
    samples: int = param(
        16, min=1, max=96, step=1, label="Samples",
        help="How many of those frames to blend: more is cleaner and slower",
    )  # fmt: skip
    follow_camera: bool = param(
        True, label="Follow camera", help="Align frames for pans, zooms and shake"
    )
    match_exposure: bool = param(True, label="Match exposure", help="Hide seams from light changes")
    inpaint: str = param(
        "telea", choices=("telea", "navier-stokes"), label="Inpainting",
        help="Where no frame shows the background",
    )  # fmt: skip


def sample_frames(index: int, count: int, search: int, samples: int) -> list[int]:
    """Frames to draw the background from: a grid fixed in the clip, nearest first.

    The grid's spacing depends on the clip and the settings only, never on ``index``, so
    neighbouring frames draw on the same source frames.
    """
    if search <= 0 or count <= 1:
        return []
    step = max(1, math.ceil(min(2 * search, count - 1) / samples))
    lo, hi = max(0, index - search), min(count - 1, index + search)
    grid = range(-(-lo // step) * step, hi + 1, step)
    return sorted((j for j in grid if j != index), key=lambda j: (abs(j - index), j))


def _translated(H: np.ndarray, box: Box) -> np.ndarray:
    """``H`` followed by moving ``box``'s corner to the origin."""
    return np.array([[1, 0, -box.x0], [0, 1, -box.y0], [0, 0, 1]], float) @ H


def _seam_offset(diff: np.ndarray, known: np.ndarray, size: float) -> np.ndarray:
    """``diff`` (known where ``known``) spread smoothly over the whole box."""
    k = max(1, int(size / 32))
    h, w = known.shape
    small = (max(1, w // k), max(1, h // k))
    d = cv2.resize(diff * known[..., None], small, interpolation=cv2.INTER_AREA)
    n = cv2.resize(known, small, interpolation=cv2.INTER_AREA)
    sigma = max(1.0, size / (4 * k))
    d = cv2.GaussianBlur(d, (0, 0), sigma)
    n = cv2.GaussianBlur(n, (0, 0), sigma)
    off = d / np.maximum(n, 1e-3)[..., None]
    off[n < 1e-3] = 0
    return cv2.resize(off, (w, h), interpolation=cv2.INTER_LINEAR)


def _inpaint(image: np.ndarray, hole: np.ndarray, method: str) -> np.ndarray:
    h, w = hole.shape
    scale = min(1.0, _INPAINT_SIZE / max(h, w))
    flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
    if scale >= 1.0:
        return cv2.inpaint(image, hole, 5, flag)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_hole = (cv2.resize(hole, size, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, cv2.dilate(small_hole, np.ones((3, 3))), 5, flag)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


class ObjectRemoval(Effect):
    id = "remove"
    label = "Remove object"
    description = "Replace the object with the background seen in other frames."
    Params = RemovalParams
    targets = (Target.OBJECT,)
    hides_object = True

    def frames_needed(self, params: RemovalParams) -> int:
        return params.search

    def _motion(self, ctx: EffectContext, follow: bool) -> CameraMotion | None:
        if not follow:
            return None
        motion = ctx.state.get("motion")
        if motion is None or motion.clip is not ctx.clip:
            clip = ctx.clip
            motion = CameraMotion(clip, lambda i, warp, size: _objects_seen(clip, i, warp, size))
            ctx.state["motion"] = motion
        return motion

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: RemovalParams, ctx: EffectContext
    ) -> np.ndarray:
        if ctx.box is None:
            return frame
        box = ctx.box.grown(int(math.ceil(params.expand)) + _RING + 2, frame.shape)
        hole_soft = matte[box.slices]
        if params.expand:
            grown = grow((hole_soft > 0.02).astype(np.uint8), params.expand)
            hole_soft = np.maximum(hole_soft, grown)
        hole = (hole_soft > 0.0).astype(np.uint8)
        here = frame[box.slices]

        # Background frame i itself shows around the hole (other objects excluded).
        size = (box.width, box.height)
        others = _objects_seen(ctx.clip, ctx.index, _translated(np.eye(3), box), size, ctx.obj)
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _RING + 1,) * 2)
        ring = (cv2.dilate(hole, disc) > 0) & (hole == 0) & (others < 0.02)

        samples = self._samples(ctx, params, box, hole, ring, here)
        num, den = _weighted_mean(samples, ctx.index, params.search, here.shape)
        fill = num / np.maximum(den, 1e-6)[..., None]
        if params.match_exposure:
            known = ring * (den > 1e-3).astype(np.float32)
            if known.sum() >= 16:
                diff = here.astype(np.float32) - fill
                fill += _seam_offset(diff, known, max(box.width, box.height))
        trust = np.clip(den / _FULL_WEIGHT, 0.0, 1.0)
        need = (hole > 0) & (trust < 0.999)
        if need.any():
            # Inpaint from frame i's surroundings and what the samples did fill, and fade
            # between the two by how much the samples can be trusted.
            base = here.astype(np.float32)
            base[hole > 0] = fill[hole > 0]
            seed = np.clip(base + 0.5, 0, 255).astype(np.uint8)
            painted = _inpaint(seed, need.astype(np.uint8), params.inpaint).astype(np.float32)
            fill = fill * trust[..., None] + painted * (1 - trust[..., None])
        out = frame.copy()
        out[box.slices] = blend(here, np.clip(fill + 0.5, 0, 255).astype(np.uint8), hole_soft)
        return out

    def _samples(
        self,
        ctx: EffectContext,
        params: RemovalParams,
        box: Box,
        hole: np.ndarray,
        ring: np.ndarray,
        here: np.ndarray,
    ) -> list[tuple[int, np.ndarray, np.ndarray, float | None]]:
        """Other frames warped onto ``box`` of frame i: (index, pixels, where they show
        background, median difference from frame i on the ring, if it can be told)."""
        motion = self._motion(ctx, params.follow_camera)
        size = (box.width, box.height)
        reach = 2 * int(math.ceil(params.expand)) + 3
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))
        shape = ctx.object_matte.shape  # the frame's
        ones = ctx.state.get("ones")
        if ones is None or ones.shape != shape:
            ones = ctx.state["ones"] = np.ones(shape, np.uint8)
        samples = []
        for j in sample_frames(ctx.index, len(ctx.clip), params.search, params.samples):
            H = np.eye(3) if motion is None else motion.homography(j, ctx.index)
            warp = _translated(H, box)
            src = cv2.warpPerspective(
                ctx.clip.frame(j), warp, size,
                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
            )  # fmt: skip
            # Background shows where frame j has pixels and no object (grown) covers them.
            inside = cv2.warpPerspective(ones, warp, size, flags=cv2.INTER_NEAREST)
            covered = _objects_seen(ctx.clip, j, warp, size) > 0.02
            covered = cv2.dilate(covered.astype(np.uint8), kernel)
            visible = ((inside > 0) & (covered == 0)).astype(np.uint8)
            vis = cv2.erode(visible, np.ones((3, 3), np.uint8)).astype(np.float32)
            if not (vis * hole).any():
                continue
            agree = ring & (vis > 0)
            err = None
            if agree.sum() >= 16:
                err = float(np.median(cv2.absdiff(src, here)[agree].mean(axis=1)))
            samples.append((j, src, vis, err))
        return samples


def _weighted_mean(
    samples: list[tuple[int, np.ndarray, np.ndarray, float | None]],
    index: int,
    search: int,
    shape: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of weighted sample pixels and sum of weights, per pixel.

    A sample's weight falls with its distance in time and with how much worse it matches
    frame i on the ring than the best sample does (shadows and noise next to the object
    differ in every frame alike, so only the excess says the warp or the light is off).
    """
    sigma_t = max(1.0, search / 2.0)
    errors = [e for *_, e in samples if e is not None]
    best = min(errors, default=0.0)
    num, den = np.zeros(shape, np.float32), np.zeros(shape[:2], np.float32)
    for j, src, vis, err in samples:
        match = 0.5 if err is None else math.exp(-(((err - best) / _MATCH_TOLERANCE) ** 2))
        w = math.exp(-0.5 * ((j - index) / sigma_t) ** 2) * match
        if w < 1e-3:
            continue
        wv = vis * np.float32(w)
        num += src.astype(np.float32) * wv[..., None]
        den += wv
    return num, den


def _crop(clip: FrameContext, obj: int, index: int) -> tuple[Box, np.ndarray] | None:
    """An object's matte cropped to its box (cheap from a RefinedClip's cache)."""
    refined = getattr(clip, "refined", None)
    if refined is not None:
        return refined(obj, index)[1]
    m = clip.matte(obj, index)
    if m is None:
        return None
    m = as_matte(m, m.shape)
    box = nonzero_box(m)
    return None if box is None else (box, m[box.slices])


def _objects_seen(
    clip: FrameContext,
    index: int,
    warp: np.ndarray,
    size: tuple[int, int],
    exclude: int | None = None,
) -> np.ndarray:
    """Union of the objects' mattes at frame ``index`` seen through ``warp`` (3×3, frame
    coordinates → output) in an output of ``size`` (width, height)."""
    out = np.zeros((size[1], size[0]), np.float32)
    for obj in clip.objects:
        if obj == exclude:
            continue
        item = _crop(clip, obj, index)
        if item is None:
            continue
        box, m = item
        seen = cv2.warpPerspective(m, _moved(warp, box), size, flags=cv2.INTER_LINEAR)
        cv2.max(out, seen, dst=out)
    return out


def _moved(warp: np.ndarray, box: Box) -> np.ndarray:
    """``warp`` for an image whose origin is ``box``'s corner."""
    return warp @ np.array([[1, 0, box.x0], [0, 1, box.y0], [0, 0, 1]], float)
