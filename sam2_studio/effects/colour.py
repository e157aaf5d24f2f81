"""Colour effects: colour pop, recolour (hue shift or tint that keeps shading), colorize.

Recolouring works in CIE L*a*b*: turning the (a*, b*) plane changes hue while L* (the
shading) and the chroma (how colourful each pixel is) stay, so a red car becomes a blue car
with the same reflections and shadows instead of a flat blue shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sam2_studio.effects.effect import Effect, EffectContext, Target
from sam2_studio.effects.imaging import composite, luma
from sam2_studio.effects.params import Color, param


@dataclass(frozen=True)
class ColourPopParams:
    saturation: float = param(
        0.0, min=0, max=1, step=0.01, label="Colour left",
        help="0: fully grey; 1: unchanged",
    )  # fmt: skip


def desaturate(image: np.ndarray, keep: float) -> np.ndarray:
    grey = cv2.cvtColor(luma(image), cv2.COLOR_GRAY2RGB)
    if keep <= 0.0:
        return grey
    return cv2.addWeighted(image, keep, grey, 1.0 - keep, 0.0)


class ColourPop(Effect):
    id = "colour_pop"
    label = "Colour pop"
    description = "The object in colour, the rest in black and white."
    Params = ColourPopParams
    targets = (Target.BACKGROUND, Target.OBJECT)

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: ColourPopParams, ctx: EffectContext
    ) -> np.ndarray:
        keep = params.saturation
        return composite(frame, matte, ctx.box, ctx.outside, lambda img, _at: desaturate(img, keep))


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2Lab)


def _from_lab(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return cv2.convertScaleAbs(rgb, alpha=255.0)


def _lab_of(colour: Color) -> tuple[float, float, float]:
    px = np.array([[colour]], np.uint8)
    L, a, b = _to_lab(px)[0, 0]
    return float(L), float(a), float(b)


@dataclass(frozen=True)
class RecolourParams:
    mode: str = param(
        "shift", choices=("shift", "tint"), label="Mode",
        help="shift: turn every hue by an angle; tint: give everything the colour's hue",
    )  # fmt: skip
    hue: float = param(120.0, min=-180, max=180, step=1, unit="°", label="Hue shift")
    colour: Color = param(Color(40, 110, 230), label="Tint colour")
    saturation: float = param(
        1.0, min=0, max=4, step=0.05, label="Saturation", help="Multiplies colourfulness"
    )
    lightness: float = param(
        0.0, min=-100, max=100, step=1, label="Lightness", help="Added to L* (0..100)"
    )


def recolour(image: np.ndarray, p: RecolourParams) -> np.ndarray:
    # 8-bit L*a*b* (L scaled to 0..255, a* and b* offset by 128) is several times faster
    # than float and as fine as the 8-bit output it feeds.
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    lift = p.lightness * 2.55
    if p.mode == "shift":
        # A turn of the (a*, b*) plane is linear: one saturating pass does it all.
        t = math.radians(p.hue)
        c, s = math.cos(t) * p.saturation, math.sin(t) * p.saturation
        turn = np.array(
            [
                [1, 0, 0, lift],
                [0, c, -s, 128 * (1 - c + s)],
                [0, s, c, 128 * (1 - s - c)],
            ],
            np.float32,
        )
        return cv2.cvtColor(cv2.transform(lab, turn), cv2.COLOR_Lab2RGB)
    L, a8, b8 = cv2.split(lab)
    a = a8.astype(np.float32) - np.float32(128)
    b = b8.astype(np.float32) - np.float32(128)
    _, ta, tb = _lab_of(p.colour)
    norm = math.hypot(ta, tb)
    ua, ub = (ta / norm, tb / norm) if norm > 1e-6 else (0.0, 0.0)
    chroma = cv2.magnitude(a, b) * np.float32(p.saturation)
    a2 = np.clip(chroma * np.float32(ua) + np.float32(128.5), 0, 255).astype(np.uint8)
    b2 = np.clip(chroma * np.float32(ub) + np.float32(128.5), 0, 255).astype(np.uint8)
    if lift:
        L = cv2.add(L, lift)  # saturates at 0 and 255
    return cv2.cvtColor(cv2.merge([L, a2, b2]), cv2.COLOR_Lab2RGB)


class Recolour(Effect):
    id = "recolour"
    label = "Recolour"
    description = "Change the object's colour and keep its shading and highlights."
    Params = RecolourParams

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: RecolourParams, ctx: EffectContext
    ) -> np.ndarray:
        return composite(frame, matte, ctx.box, ctx.outside, lambda img, _at: recolour(img, params))


@dataclass(frozen=True)
class ColorizeParams:
    colour: Color = param(Color(214, 120, 60), label="Colour")
    strength: float = param(1.0, min=0, max=1, step=0.01, label="Strength")


def colorize_lut(colour: Color) -> np.ndarray:
    """For each grey level, the colour that has its lightness and ``colour``'s hue.

    Chroma peaks in the mid-tones and fades to neutral in deep shadows and highlights,
    as real colours do, so a colorized object keeps black shadows and white speculars.
    """
    grey = np.arange(256, dtype=np.uint8).reshape(1, 256, 1).repeat(3, axis=2)
    L = _to_lab(grey)[..., 0]
    _, ta, tb = _lab_of(colour)
    weight = np.sqrt(np.clip(L * (100.0 - L), 0, None)) / 50.0
    lab = cv2.merge([L, (ta * weight).astype(np.float32), (tb * weight).astype(np.float32)])
    return _from_lab(lab)  # 1×256×3


def colorize(image: np.ndarray, p: ColorizeParams) -> np.ndarray:
    grey = cv2.cvtColor(luma(image), cv2.COLOR_GRAY2RGB)
    coloured = cv2.LUT(grey, colorize_lut(p.colour))
    if p.strength >= 1.0:
        return coloured
    return cv2.addWeighted(coloured, p.strength, image, 1.0 - p.strength, 0.0)


class Colorize(Effect):
    id = "colorize"
    label = "Colorize"
    description = "Give a grey (or any) object one colour, following its light and shade."
    Params = ColorizeParams

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: ColorizeParams, ctx: EffectContext
    ) -> np.ndarray:
        return composite(frame, matte, ctx.box, ctx.outside, lambda img, _at: colorize(img, params))
