"""Effects that draw attention to an object: a tinted overlay with an outline, a spotlight."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sam2_studio.effects.effect import Effect, EffectContext, Target
from sam2_studio.effects.imaging import blend, gaussian
from sam2_studio.effects.params import Color, param


def outline_alpha(matte: np.ndarray, width: float) -> np.ndarray:
    """A ring ``width`` px wide just outside the matte, anti-aliased on both sides."""
    outside = (matte < 0.5).astype(np.uint8)
    d = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ring = np.clip(np.float32(width + 1.0) - d, 0.0, 1.0)
    # The inner edge follows the matte's own soft edge, so ring and fill meet without a gap.
    return ring * (1.0 - matte)


@dataclass(frozen=True)
class OverlayParams:
    colour: Color = param(Color(0, 170, 255), label="Fill colour")
    opacity: float = param(0.35, min=0, max=1, step=0.01, label="Fill opacity")
    outline: float = param(3.0, min=0, max=100, step=0.5, unit="px", label="Outline width")
    outline_colour: Color = param(Color(255, 255, 255), label="Outline colour")
    outline_opacity: float = param(1.0, min=0, max=1, step=0.01, label="Outline opacity")


class Overlay(Effect):
    id = "overlay"
    label = "Highlight"
    description = "A see-through colour over the object and an outline around it."
    Params = OverlayParams
    targets = (Target.OBJECT,)

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: OverlayParams, ctx: EffectContext
    ) -> np.ndarray:
        if ctx.box is None:
            return frame
        width = params.outline if params.outline_opacity > 0 else 0.0
        box = ctx.box.grown(int(math.ceil(width)) + 2, frame.shape)
        m = matte[box.slices]
        region = frame[box.slices]
        if params.opacity > 0:
            fill = np.empty_like(region)
            fill[:] = params.colour
            region = blend(region, fill, m * np.float32(params.opacity))
        if width > 0:
            line = np.empty_like(region)
            line[:] = params.outline_colour
            alpha = outline_alpha(m, width) * np.float32(params.outline_opacity)
            region = blend(region, line, alpha)
        out = frame.copy()
        out[box.slices] = region
        return out


@dataclass(frozen=True)
class SpotlightParams:
    darkness: float = param(0.65, min=0, max=1, step=0.01, label="Darkness")
    softness: float = param(
        40.0, min=0, max=500, step=1, unit="px", label="Falloff",
        help="How far from the object the light fades out",
    )  # fmt: skip


class Spotlight(Effect):
    id = "spotlight"
    label = "Spotlight"
    description = "Darken everything but the object, with a soft falloff of light around it."
    Params = SpotlightParams
    targets = (Target.BACKGROUND,)

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: SpotlightParams, ctx: EffectContext
    ) -> np.ndarray:
        if params.darkness <= 0:
            return frame
        shade = matte
        if params.softness > 0 and ctx.box is not None:
            # The light spills outwards only: multiplying by the region keeps the object lit.
            shade = gaussian(matte, params.softness / 2.0) * matte
        alpha = shade * np.float32(params.darkness)
        return blend(frame, np.zeros_like(frame), alpha)
