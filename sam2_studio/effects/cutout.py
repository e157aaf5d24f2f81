"""Cutout (keep the object, replace or drop the rest) and erase (fill the object)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sam2_studio.effects.effect import Effect, EffectContext, EffectOutput, Target
from sam2_studio.effects.imaging import composite, held_out_blur
from sam2_studio.effects.params import Color, param


def _fill(frame: np.ndarray, matte: np.ndarray, colour: Color, ctx: EffectContext) -> np.ndarray:
    def solid(img: np.ndarray, _at: object) -> np.ndarray:
        out = np.empty_like(img)
        out[:] = colour
        return out

    return composite(frame, matte, ctx.box, ctx.outside, solid)


def _transparent(frame: np.ndarray, matte: np.ndarray) -> EffectOutput:
    """The frame unchanged, with the region made transparent (straight alpha)."""
    return frame, 1.0 - matte


@dataclass(frozen=True)
class CutoutParams:
    mode: str = param(
        "transparent", choices=("transparent", "colour", "blur"), label="Background",
        help="transparent: an alpha channel for compositing; colour: a solid colour; "
        "blur: the background blurred",
    )  # fmt: skip
    colour: Color = param(Color(0, 177, 64), label="Colour", help="Used by the colour mode")
    strength: float = param(
        24.0, min=0.5, max=200, step=0.5, unit="px", label="Blur", help="Used by the blur mode"
    )


class Cutout(Effect):
    id = "cutout"
    label = "Cut out"
    description = "Keep the object; make the rest transparent, a solid colour or a blur."
    Params = CutoutParams
    targets = (Target.BACKGROUND,)

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: CutoutParams, ctx: EffectContext
    ) -> EffectOutput:
        if params.mode == "transparent":
            return _transparent(frame, matte)
        if params.mode == "colour":
            return _fill(frame, matte, params.colour, ctx)
        sigma = params.strength
        return composite(
            frame, matte, ctx.box, ctx.outside,
            lambda img, at: held_out_blur(img, matte[at.slices], sigma, ctx.box),
        )  # fmt: skip


@dataclass(frozen=True)
class EraseParams:
    mode: str = param(
        "colour", choices=("colour", "transparent"), label="Fill",
        help="colour: paint it over; transparent: punch a hole in the alpha channel",
    )  # fmt: skip
    colour: Color = param(Color(0, 0, 0), label="Colour")


class Erase(Effect):
    id = "erase"
    label = "Erase"
    description = "Paint the object over with a flat colour, or make it transparent."
    Params = EraseParams
    targets = (Target.OBJECT, Target.BACKGROUND)

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: EraseParams, ctx: EffectContext
    ) -> EffectOutput:
        if params.mode == "transparent":
            return _transparent(frame, matte)
        return _fill(frame, matte, params.colour, ctx)
