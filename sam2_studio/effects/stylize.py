"""Pixelate and blur, on an object or on its background."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sam2_studio.effects.context import Box
from sam2_studio.effects.effect import Effect, EffectContext
from sam2_studio.effects.imaging import blend, composite, gaussian, held_out_blur, shrink
from sam2_studio.effects.params import param


@dataclass(frozen=True)
class PixelateParams:
    block: int = param(16, min=2, max=256, step=1, unit="px", label="Block size")
    whole_blocks: bool = param(
        True,
        label="Whole blocks",
        help="On an object: pixelate every block it touches, so its outline does not show",
    )


def _mosaic(image: np.ndarray, block: int) -> np.ndarray:
    """Blocks of ``block`` px averaged, the grid starting at the image's top-left corner."""
    h, w = image.shape[:2]
    hb, wb = math.ceil(h / block), math.ceil(w / block)
    pad_h, pad_w = hb * block - h, wb * block - w
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
    small = shrink(image, block)
    big = cv2.resize(small, (wb * block, hb * block), interpolation=cv2.INTER_NEAREST)
    return big[:h, :w]


def _grid_box(box: Box, block: int, shape: tuple[int, ...]) -> Box:
    """``box`` widened to the frame's block grid, so blocks do not shift as the object moves."""
    return Box(
        box.y0 // block * block,
        min(shape[0], -(-box.y1 // block) * block),
        box.x0 // block * block,
        min(shape[1], -(-box.x1 // block) * block),
    )


class Pixelate(Effect):
    id = "pixelate"
    label = "Pixelate"
    description = "Mosaic of coarse blocks, the classic way to hide a face or a plate."
    Params = PixelateParams

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: PixelateParams, ctx: EffectContext
    ) -> np.ndarray:
        b = params.block
        if ctx.outside > 0.0 or ctx.box is None:
            return composite(frame, matte, ctx.box, ctx.outside, lambda img, _at: _mosaic(img, b))
        grid = _grid_box(ctx.box, b, frame.shape)
        mosaic = _mosaic(frame[grid.slices], b)
        alpha = matte[grid.slices]
        if params.whole_blocks:
            # The coverage of each block becomes the block's largest matte value.
            alpha = _mosaic_max(alpha, b)
        out = frame.copy()
        out[grid.slices] = blend(frame[grid.slices], mosaic, alpha)
        return out


def _mosaic_max(matte: np.ndarray, block: int) -> np.ndarray:
    h, w = matte.shape
    hb, wb = math.ceil(h / block), math.ceil(w / block)
    padded = np.zeros((hb * block, wb * block), np.float32)
    padded[:h, :w] = matte
    peak = padded.reshape(hb, block, wb, block).max(axis=(1, 3))
    return np.repeat(np.repeat(peak, block, axis=0), block, axis=1)[:h, :w]


@dataclass(frozen=True)
class BlurParams:
    strength: float = param(
        12.0, min=0.5, max=200, step=0.5, unit="px", label="Strength",
        help="Standard deviation of the Gaussian blur",
    )  # fmt: skip
    hold_out: bool = param(
        True,
        label="Keep edges clean",
        help="Blur only with pixels of the same region, so colours do not bleed across "
        "the object's edge as a halo",
    )


class Blur(Effect):
    id = "blur"
    label = "Blur"
    description = "Gaussian blur, e.g. a shallow depth of field behind a subject."
    Params = BlurParams

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: BlurParams, ctx: EffectContext
    ) -> np.ndarray:
        sigma = params.strength
        if params.hold_out:
            # On a background the matte is 1 outside the objects' box.
            partial = ctx.box if ctx.outside > 0.0 else None

            def render(img: np.ndarray, at: Box) -> np.ndarray:
                return held_out_blur(img, matte[at.slices], sigma, partial)

        else:

            def render(img: np.ndarray, at: Box) -> np.ndarray:
                return gaussian(img, sigma)

        margin = int(math.ceil(3 * sigma)) + 1
        return composite(frame, matte, ctx.box, ctx.outside, render, margin)
