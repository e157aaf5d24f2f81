"""Glow outline: a neon line around the object with a soft light that can pulse.

A complete plugin in one file, and the simplest template: parameters, one effect class,
work done only around the object. Copy it into your plugins folder and change ``apply``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sam2_studio.effects.plugin_api import (
    Color,
    Effect,
    EffectContext,
    Target,
    gaussian,
    outline_alpha,
    param,
)


@dataclass(frozen=True)
class GlowParams:
    colour: Color = param(Color(0, 255, 200), label="Colour")
    width: float = param(2.0, min=0.5, max=30, step=0.5, unit="px", label="Line width")
    glow: float = param(14.0, min=0, max=150, step=1, unit="px", label="Glow size")
    intensity: float = param(1.0, min=0, max=3, step=0.05, label="Intensity")
    pulse: int = param(
        0, min=0, max=600, step=1, unit="frames", label="Pulse period",
        help="0: steady; otherwise the glow breathes with this period",
    )  # fmt: skip


class GlowOutline(Effect):
    id = "glow_outline"
    label = "Glow outline"
    description = "A neon outline with a soft glow around the object."
    Params = GlowParams
    targets = (Target.OBJECT,)

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: GlowParams, ctx: EffectContext
    ) -> np.ndarray:
        if ctx.box is None:
            return frame
        # Work only where the light can reach: the object's box plus the glow's extent.
        box = ctx.box.grown(int(math.ceil(params.width + 1.5 * params.glow)) + 2, frame.shape)
        m = matte[box.slices]
        line = outline_alpha(m, params.width)
        light = line + gaussian(line, params.glow / 2.0) * np.float32(2.0) if params.glow else line
        strength = params.intensity
        if params.pulse:
            strength *= 0.6 + 0.4 * math.cos(2 * math.pi * ctx.index / params.pulse)
        # The glow stays outside the object; the object itself keeps its look.
        light = np.clip(light * np.float32(strength), 0.0, 1.0) * (1.0 - m)
        # Screen blend: light adds to what is there without clipping to a flat colour.
        region = frame[box.slices].astype(np.float32)
        colour = np.float32(params.colour) * light[..., None]
        lit = 255.0 - (255.0 - region) * (255.0 - colour) * np.float32(1 / 255)
        out = frame.copy()
        out[box.slices] = np.clip(lit + 0.5, 0, 255).astype(np.uint8)
        return out
