"""Decoded frame to display-ready RGB: the right colour matrix, square pixels, upright.

One place for the three things players get wrong most: BT.601 vs BT.709 (and full vs
limited range), anamorphic pixels, and phone rotation metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

# AVColorSpace (what the file says) -> swscale's matrix names (what the scaler takes).
_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def guess_matrix(colorspace: int, height: int) -> str:
    """The file's matrix, or the usual guess for untagged video: BT.709 from 720 lines up."""
    return _MATRIX.get(colorspace, "ITU709" if height >= 720 else "ITU601")


@dataclass(frozen=True)
class Geometry:
    """How coded pixels map to what a viewer sees."""

    coded_size: tuple[int, int]  # (width, height) as decoded
    sample_aspect: Fraction  # pixel width / pixel height
    rotation: int  # counter-clockwise degrees to turn the picture upright: 0, 90, 180, 270

    @property
    def unrotated_size(self) -> tuple[int, int]:
        """Square-pixel size before rotation."""
        w, h = self.coded_size
        if self.sample_aspect > 1:
            w = max(1, round(w * self.sample_aspect))
        elif 0 < self.sample_aspect < 1:
            h = max(1, round(h / self.sample_aspect))
        return w, h

    @property
    def display_size(self) -> tuple[int, int]:
        w, h = self.unrotated_size
        return (h, w) if self.rotation in (90, 270) else (w, h)

    def unrotate(self, size: tuple[int, int]) -> tuple[int, int]:
        """The pre-rotation size that becomes ``size`` once turned."""
        return (size[1], size[0]) if self.rotation in (90, 270) else size


def rotation_of(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (in degrees) the display matrix asks for."""
    try:
        angle = float(frame.rotation)
    except Exception:  # noqa: BLE001 - no side data, or an odd matrix
        return 0
    return int(round(angle / 90.0)) % 4 * 90


class FrameConverter:
    """Converts decoded frames of one stream to RGB uint8 at display size (or smaller)."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry
        self._scaler = VideoReformatter()

    def to_rgb(self, frame: av.VideoFrame, size: tuple[int, int] | None = None, *, fast: bool = False) -> np.ndarray:
        g = self.geometry
        w, h = g.unrotated_size if size is None else g.unrotate(size)
        fmt = frame.format.name
        kwargs: dict[str, object] = {}
        if fmt.startswith(("yuv", "nv", "p0", "p2", "y2", "uyv", "yuyv")):
            kwargs["src_colorspace"] = guess_matrix(frame.colorspace, frame.height)
            full = frame.color_range == _FULL_RANGE or fmt.startswith("yuvj")
            kwargs["src_color_range"] = "JPEG" if full else "MPEG"
            kwargs["dst_color_range"] = "JPEG"
        scaled = (w, h) != (frame.width, frame.height)
        interp = ("AREA" if fast else "BICUBIC") if scaled else "BILINEAR"
        rgb = self._scaler.reformat(frame, width=w, height=h, format="rgb24", interpolation=interp, **kwargs)
        arr = rgb.to_ndarray()
        if g.rotation:
            arr = np.ascontiguousarray(np.rot90(arr, k=g.rotation // 90))
        return arr
