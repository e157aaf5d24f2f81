"""Mask overlays composed in numpy: each object's mask in its colour, with an outline.

Made once per frame (and again when a mask changes), at the video's resolution, as
premultiplied RGBA that the viewer draws over the picture at any zoom. Only each mask's
bounding box is touched, so a small object on a 4K frame costs little.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class Layer:
    mask: np.ndarray  # bool (H, W)
    color: tuple[int, int, int]
    active: bool = False


def compose(layers: list[Layer], size: tuple[int, int], opacity: float, outlines: bool) -> np.ndarray:
    """Premultiplied RGBA uint8 (H, W, 4); later layers cover earlier ones."""
    w, h = size
    out = np.zeros((h, w, 4), np.uint8)
    for layer in layers:
        m = layer.mask
        if m.shape != (h, w) or not m.any():
            continue
        m8 = m.view(np.uint8) if m.dtype == bool else (m > 0).astype(np.uint8)
        x, y, bw, bh = cv2.boundingRect(m8)
        x0, y0 = max(0, x - 2), max(0, y - 2)
        x1, y1 = min(w, x + bw + 2), min(h, y + bh + 2)
        sub = m8[y0:y1, x0:x1]
        region = out[y0:y1, x0:x1]
        a = opacity if layer.active else opacity * 0.75
        if a > 0:
            alpha = int(round(255 * a))
            fill = np.array([c * a for c in layer.color] + [alpha], np.float32).round().astype(np.uint8)
            region[sub.astype(bool)] = fill
        if outlines:
            edge = cv2.morphologyEx(sub, cv2.MORPH_GRADIENT, _KERNEL).astype(bool)
            if layer.active:
                edge = cv2.dilate(edge.view(np.uint8), _KERNEL).astype(bool)
            region[edge] = (*layer.color, 255)
    return out


def matte_to_grey(matte: np.ndarray) -> np.ndarray:
    """A matte (bool, uint8 or float 0..1) as an RGB uint8 image, white = object."""
    if matte.dtype == bool:
        g = matte.view(np.uint8) * np.uint8(255)
    elif matte.dtype == np.uint8:
        g = matte
    else:
        g = (np.clip(matte, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
