"""Sticker: an image (or a star) that follows the object, sized to it, without jitter.

The template for effects that read neighbouring frames: ``frames_needed`` says how far it
looks, and ``ctx.clip.matte(obj, j)`` gives the object's refined matte at frame ``j``. The
sticker's position and size are averaged over those frames, so it glides with the object
instead of shaking with every small change of the mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sam2_studio.effects.plugin_api import (
    Box,
    Color,
    Effect,
    EffectContext,
    EffectError,
    Target,
    blend,
    nonzero_box,
    param,
)


@dataclass(frozen=True)
class StickerParams:
    image: str = param(
        "", kind="path", label="Image", file_filter="Images (*.png *.webp *.jpg)",
        help="A PNG with transparency works best; empty: a star",
    )  # fmt: skip
    colour: Color = param(Color(255, 205, 40), label="Star colour")
    anchor: str = param(
        "above", choices=("above", "top", "centre", "bottom", "left", "right"), label="Anchor"
    )
    size: float = param(0.4, min=0.02, max=4, step=0.01, label="Size", help="× object width")
    offset_x: float = param(0.0, min=-2, max=2, step=0.01, label="Offset X", help="× object width")
    offset_y: float = param(0.0, min=-2, max=2, step=0.01, label="Offset Y", help="× object height")
    opacity: float = param(1.0, min=0, max=1, step=0.01, label="Opacity")
    steadiness: int = param(
        4, min=0, max=30, step=1, unit="frames", label="Steadiness",
        help="Average the object's position over this many frames each side",
    )  # fmt: skip


def star(colour: Color, size: int = 256) -> np.ndarray:
    """A five-pointed star with a white rim, RGBA uint8 (straight alpha)."""
    canvas = np.zeros((size, size, 4), np.uint8)
    c, outer, inner = size / 2, size * 0.47, size * 0.19
    angles = [-math.pi / 2 + k * math.pi / 5 for k in range(10)]
    pts = [
        (
            c + (outer if k % 2 == 0 else inner) * math.cos(a),
            c + (outer if k % 2 == 0 else inner) * math.sin(a),
        )
        for k, a in enumerate(angles)
    ]
    poly = np.round(np.array(pts) * 16).astype(np.int32)  # 4 fractional bits: smooth edges
    cv2.fillPoly(canvas, [poly], (*colour, 255), cv2.LINE_AA, shift=4)
    cv2.polylines(
        canvas, [poly], True, (255, 255, 255, 255), max(1, size // 40), cv2.LINE_AA, shift=4
    )
    return canvas


def load_image(path: str) -> np.ndarray:
    """An image file as RGBA uint8; an error that names the file if it cannot be read."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise EffectError("cannot read the sticker image", path)
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / np.iinfo(image.dtype).max)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGBA)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGBA)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


class Sticker(Effect):
    id = "sticker"
    label = "Sticker"
    description = "An image or a star that follows the object and scales with it."
    Params = StickerParams
    targets = (Target.OBJECT,)

    def frames_needed(self, params: StickerParams) -> int:
        return params.steadiness

    def _picture(self, params: StickerParams, ctx: EffectContext) -> np.ndarray:
        """The sticker as RGBA, loaded once per file version and kept in ``ctx.state``."""
        if not params.image:
            key = ("star", params.colour)
        else:
            path = Path(params.image)
            key = ("file", str(path), path.stat().st_mtime if path.exists() else None)
        if ctx.state.get("key") != key:
            ctx.state["picture"] = (
                star(params.colour) if not params.image else load_image(params.image)
            )
            ctx.state["key"] = key
        return ctx.state["picture"]

    def _steady_box(
        self, params: StickerParams, ctx: EffectContext
    ) -> tuple[float, float, float, float]:
        """Centre x, centre y, width, height of the object, averaged over nearby frames."""
        total = np.zeros(4)
        weights = 0.0
        n = params.steadiness
        for j in range(max(0, ctx.index - n), min(len(ctx.clip), ctx.index + n + 1)):
            if j == ctx.index:
                box = ctx.box
            else:
                m = ctx.clip.matte(ctx.obj, j)
                box = None if m is None else nonzero_box(m)
            if box is None:
                continue
            w = 1.0 - abs(j - ctx.index) / (n + 1.0)
            total += w * np.array(
                [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2, box.width, box.height]
            )
            weights += w
        cx, cy, bw, bh = total / weights
        return cx, cy, bw, bh

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: StickerParams, ctx: EffectContext
    ) -> np.ndarray:
        if ctx.box is None:
            return frame
        picture = self._picture(params, ctx)
        cx, cy, bw, bh = self._steady_box(params, ctx)
        w = max(2, round(params.size * bw))
        h = max(2, round(w * picture.shape[0] / picture.shape[1]))
        x = cx + params.offset_x * bw
        y = cy + params.offset_y * bh
        dx, dy = {
            "above": (0, -bh / 2 - h / 2), "top": (0, -bh / 2), "centre": (0, 0),
            "bottom": (0, bh / 2), "left": (-bw / 2, 0), "right": (bw / 2, 0),
        }[params.anchor]  # fmt: skip
        x0, y0 = round(x + dx - w / 2), round(y + dy - h / 2)
        # Clip the sticker to the frame.
        H, W = frame.shape[:2]
        at = Box(max(0, y0), min(H, y0 + h), max(0, x0), min(W, x0 + w))
        if at.height <= 0 or at.width <= 0:
            return frame
        scaled = cv2.resize(
            picture,
            (w, h),
            interpolation=cv2.INTER_AREA if w < picture.shape[1] else cv2.INTER_LINEAR,
        )
        part = scaled[at.y0 - y0 : at.y1 - y0, at.x0 - x0 : at.x1 - x0]
        alpha = part[..., 3].astype(np.float32) * np.float32(params.opacity / 255)
        out = frame.copy()
        out[at.slices] = blend(frame[at.slices], np.ascontiguousarray(part[..., :3]), alpha)
        return out
