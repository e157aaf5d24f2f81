"""Alpha mattes for compositors, in one call whatever the format.

PNG sequences (8- or 16-bit grey, or the source frame as RGBA with the matte as alpha),
EXR sequences (half-float grey, or linear RGBA), ProRes 4444 with alpha, and FFV1 lossless
grey video. Colour with alpha is straight unless premultiplied is asked for — except EXR,
whose convention (and every compositor's assumption) is premultiplied.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from functools import partial
from fractions import Fraction
from pathlib import Path

import numpy as np

from .atomic import Export
from .images import srgb_decode
from .mattes import matte_float, matte_u8, matte_u16, rgba
from .naming import SequenceNaming
from .sequence_writer import ImageSequenceWriter
from .writers import AudioSource, Ffv1, ProRes, ProResProfile, VideoWriter


class MatteFormat(enum.Enum):
    PNG8 = "png8"  # grey 8-bit PNG sequence
    PNG16 = "png16"  # grey 16-bit PNG sequence
    PNG8_RGBA = "png8_rgba"  # source colour + matte as alpha
    PNG16_RGBA = "png16_rgba"
    EXR = "exr"  # half-float grey (channel Y)
    EXR_RGBA = "exr_rgba"  # scene-linear colour + alpha, half float
    PRORES_4444 = "prores4444"  # .mov, yuva444p10le: colour + alpha for editors
    FFV1 = "ffv1"  # .mkv, lossless 16-bit grey video

    @property
    def needs_frame(self) -> bool:
        return self in (MatteFormat.PNG8_RGBA, MatteFormat.PNG16_RGBA, MatteFormat.EXR_RGBA, MatteFormat.PRORES_4444)

    @property
    def is_sequence(self) -> bool:
        return self not in (MatteFormat.PRORES_4444, MatteFormat.FFV1)

    @property
    def suffix(self) -> str:
        return {MatteFormat.PRORES_4444: ".mov", MatteFormat.FFV1: ".mkv"}.get(
            self, ".exr" if self in (MatteFormat.EXR, MatteFormat.EXR_RGBA) else ".png"
        )


@dataclass(frozen=True)
class MatteExport:
    """How mattes are written: format, frame numbering of sequences, alpha convention."""

    format: MatteFormat = MatteFormat.PNG16
    start_number: int = 1  # 0, 1 or 1001 are the usual choices
    padding: int = 4
    premultiplied: bool | None = None  # None: the format's convention (EXR yes, others no)

    @property
    def premultiply(self) -> bool:
        if self.premultiplied is not None:
            return self.premultiplied
        return self.format is MatteFormat.EXR_RGBA


class MatteWriter(Export):
    """``write(matte, frame=None)`` per frame, then ``close()``; ``abort()`` removes the output.

    ``matte``: (H, W) bool, uint8, uint16 or float32 0..1. ``frame``: the RGB uint8 source
    frame, needed by the colour + alpha formats.
    """

    def __init__(self, path: str | Path, export: MatteExport, size: tuple[int, int], fps: Fraction | int, *, audio: AudioSource | None = None) -> None:
        self.export = export
        self.size = size
        fmt = export.format
        target = Path(path)
        self._video: VideoWriter | None = None
        self._sequence: ImageSequenceWriter | None = None
        if fmt.is_sequence:
            # "shot.%04d.png", "shot.####.png" or "shot.png" (numbered with the chosen padding)
            if not any(c in target.name for c in "%#") and target.suffix.lower() not in (".png", ".exr"):
                target = target.with_name(target.name + fmt.suffix)
            naming = SequenceNaming.parse(target, padding=export.padding)
            if naming.suffix.lower() != fmt.suffix:
                naming = replace(naming, suffix=fmt.suffix)
            self._sequence = ImageSequenceWriter(naming, start=export.start_number)
            self.path = self._sequence.path
        else:
            if target.suffix.lower() != fmt.suffix:
                target = target.with_suffix(fmt.suffix)
            codec = ProRes(ProResProfile.P4444, alpha=True) if fmt is MatteFormat.PRORES_4444 else Ffv1(bits=16)
            self._video = VideoWriter(target, size, fps, codec, audio=audio)
            self.path = target

    @property
    def frames_written(self) -> int:
        w = self._video or self._sequence
        assert w is not None
        return w.frames_written

    def write(self, matte: np.ndarray, frame: np.ndarray | None = None) -> None:
        fmt = self.export.format
        w, h = self.size
        if np.shape(matte)[:2] != (h, w):
            raise ValueError(f"matte is {np.shape(matte)[1]}×{np.shape(matte)[0]}, the export is {w}×{h}")
        if fmt.needs_frame and frame is None:
            raise ValueError(f"{fmt.value} mattes need the source frame as well")
        if self._video is not None:
            if fmt is MatteFormat.PRORES_4444:
                assert frame is not None
                rgb = frame
                if self.export.premultiply:
                    rgb = rgba(frame, matte, premultiplied=True)[..., :3]
                self._video.write(rgb, alpha=matte)
            else:
                self._video.write(matte_u16(matte))
            return
        assert self._sequence is not None
        # The conversion runs on the writer's worker threads, next to the encoding; they get
        # their own copy of anything the caller could still change.
        self._sequence.write(_frozen(matte), partial(_sequence_pixels, fmt, None if frame is None else _frozen(frame), self.export.premultiply))

    def close(self) -> None:
        (self._video or self._sequence).close()  # type: ignore[union-attr]

    def abort(self) -> None:
        (self._video or self._sequence).abort()  # type: ignore[union-attr]



def _frozen(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    return a if not a.flags.writeable else a.copy()


def _sequence_pixels(fmt: MatteFormat, frame: np.ndarray | None, premultiplied: bool, matte: np.ndarray) -> np.ndarray:
    """What a sequence file of ``fmt`` stores for one matte (and frame)."""
    if fmt is MatteFormat.PNG8:
        return matte_u8(matte)
    if fmt is MatteFormat.PNG16:
        return matte_u16(matte)
    if fmt is MatteFormat.EXR:  # grey: no frame needed
        return matte_float(matte)
    assert frame is not None
    if fmt is MatteFormat.PNG8_RGBA:
        return rgba(frame, matte, bits=8, premultiplied=premultiplied)
    if fmt is MatteFormat.PNG16_RGBA:
        return rgba(frame, matte, bits=16, premultiplied=premultiplied)
    a = matte_float(matte)
    linear = srgb_decode(frame.astype(np.float32) * np.float32(1 / 255)).astype(np.float32)
    if premultiplied:
        linear *= a[..., None]
    return np.dstack([linear, a])
