"""Multi-layer EXR sequences that compositors read natively: one file per frame holding every
object's matte as a named layer (``<object>.A``), or Cryptomatte ID mattes, and optionally
the frame itself as scene-linear RGB.

Written with the OpenEXR Python package (3.x, ``OpenEXR.File``): ZIP, PIZ or DWAA
compression, half or float pixels. DWAA is lossy on colour channels only (an ``.A`` matte
stays exact), so it is refused for Cryptomatte, whose IDs must survive bit for bit; the IDs
and coverages are always 32-bit floats, as the specification requires.

Layer names are what Nuke, Fusion, After Effects and Houdini all accept: ASCII letters,
digits and underscores, not starting with a digit. Other object names are sanitised (the
header's ``sam2studio/layers`` and the Cryptomatte manifest keep the real names).

Frames are encoded on the sequence writer's threads and written aside, then renamed when
the whole sequence is done (``sequence_writer.py``): a full disk leaves no partial frame,
and the error names the frame file that could not be written.
"""

from __future__ import annotations

import enum
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import cryptomatte as crypto
from .atomic import Export
from .errors import MediaError
from .images import srgb_decode
from .mattes import matte_float
from .naming import SequenceNaming
from .sequence_writer import ImageSequenceWriter


class ExrCompression(enum.Enum):
    ZIP = "zip"  # lossless, the usual choice
    PIZ = "piz"  # lossless, smaller on grainy images
    DWAA = "dwaa"  # lossy on colour (R, G, B), exact on mattes: small files for review

    @property
    def lossless(self) -> bool:
        return self is not ExrCompression.DWAA


@dataclass(frozen=True)
class LayeredExr:
    """What a multi-layer EXR sequence holds and how it is stored."""

    compression: ExrCompression = ExrCompression.ZIP
    half: bool = True  # mattes and colour in 16-bit floats (Cryptomatte IDs are always 32-bit)
    rgb: bool = False  # the frame too, as scene-linear R, G, B
    cryptomatte: bool = False  # ranked ID mattes instead of one layer per object
    crypto_type: str = crypto.DEFAULT_TYPE
    start_number: int = 1  # 0, 1 or 1001, usually
    padding: int = 4


_INVALID = re.compile(r"[^A-Za-z0-9_]+")


def layer_name(name: str) -> str:
    """``name`` as a layer name every compositor accepts (see the module docstring)."""
    s = _INVALID.sub("_", name).strip("_") or "object"
    return "_" + s if s[0].isdigit() else s


def layer_names(names: Sequence[str], reserved: Sequence[str] = ()) -> list[str]:
    """Sanitised, and unique: a name that comes out the same as an earlier one gets ``_2``,
    ``_3``…; ``reserved`` names (other layers of the file) are never given out."""
    taken = {r.lower() for r in reserved}
    out = []
    for n in names:
        base = candidate = layer_name(n)
        k = 2
        while candidate.lower() in taken:
            candidate = f"{base}_{k}"
            k += 1
        taken.add(candidate.lower())
        out.append(candidate)
    return out


_COMPRESSION_CONSTANTS = {ExrCompression.ZIP: "ZIP_COMPRESSION", ExrCompression.PIZ: "PIZ_COMPRESSION",
                          ExrCompression.DWAA: "DWAA_COMPRESSION"}


def encode(channels: dict[str, np.ndarray], attributes: dict[str, Any],
           compression: ExrCompression) -> bytes:
    """One scanline EXR file's bytes: ``channels`` (name → (H, W) float16/float32) and extra
    header ``attributes`` (strings)."""
    import OpenEXR

    header = {"compression": getattr(OpenEXR, _COMPRESSION_CONSTANTS[compression]),
              "type": OpenEXR.scanlineimage, **attributes}
    out = io.BytesIO()
    # OpenEXR.File keeps (and rewrites) the dict it is given: hand it its own
    with OpenEXR.File(header, dict(channels)) as f:
        f.write(out)
    return out.getvalue()


class LayeredExrWriter(Export):
    """``write(mattes, frame=None)`` per frame, then ``close()``; ``abort()`` removes it all.

    ``names``: the objects, in the order of the ``mattes`` given to ``write`` (bool, uint8,
    uint16 or float 0..1 at the frame's size; None where an object has no matte). ``frame``:
    RGB uint8, needed when ``settings.rgb``.
    """

    def __init__(self, path: str | Path, settings: LayeredExr, size: tuple[int, int],
                 names: Sequence[str]) -> None:
        target = Path(path)
        if not names:
            raise MediaError("a multi-layer EXR needs at least one object", target)
        if settings.cryptomatte and not settings.compression.lossless:
            raise MediaError("DWAA compression is lossy and would change the Cryptomatte IDs: "
                             "choose ZIP or PIZ", target)
        if not any(c in target.name for c in "%#") and target.suffix.lower() != ".exr":
            target = target.with_name(target.name + ".exr")
        naming = SequenceNaming.parse(target, padding=settings.padding)
        if naming.suffix.lower() != ".exr":
            naming = replace(naming, suffix=".exr")
        self.settings = settings
        self.size = size
        self.names = list(names)
        colour = ("R", "G", "B") if settings.rgb else ()
        self.layers = [] if settings.cryptomatte else layer_names(self.names, colour)
        self._attributes = self._header()
        self._ranks = crypto.ranks_for(len(set(self.names)))
        self._sequence = ImageSequenceWriter(naming, start=settings.start_number, encoder=self._encode)
        self.path = self._sequence.path

    def _header(self) -> dict[str, str]:
        s = self.settings
        if s.cryptomatte:
            return crypto.header(self.names, s.crypto_type)
        return {"sam2studio/layers": json.dumps(dict(zip(self.layers, self.names)), ensure_ascii=False)}

    @property
    def frames_written(self) -> int:
        return self._sequence.frames_written

    def write(self, mattes: Sequence[np.ndarray | None], frame: np.ndarray | None = None) -> None:
        w, h = self.size
        if len(mattes) != len(self.names):
            raise ValueError(f"{len(mattes)} mattes for {len(self.names)} objects")
        for m in mattes:
            if m is not None and np.shape(m)[:2] != (h, w):
                raise ValueError(f"a matte is {np.shape(m)[1]}×{np.shape(m)[0]}, the export is {w}×{h}")
        if self.settings.rgb and frame is None:
            raise ValueError("the EXR is to hold the frame's colour: give the frame as well")
        # encoded on the writer's threads: hand them copies nobody else changes
        frozen = [None if m is None else np.array(m, copy=True) for m in mattes]
        self._sequence.write((frozen, None if frame is None else np.array(frame, copy=True)))

    def _encode(self, payload: tuple[list[np.ndarray | None], np.ndarray | None]) -> bytes:
        mattes, frame = payload
        s = self.settings
        w, h = self.size
        pixel = np.float16 if s.half else np.float32
        values = [np.zeros((h, w), np.float32) if m is None else matte_float(m) for m in mattes]
        channels: dict[str, np.ndarray] = {}
        if frame is not None and s.rgb:
            linear = srgb_decode(frame.astype(np.float32) * np.float32(1 / 255))
            for i, c in enumerate("RGB"):
                channels[c] = np.ascontiguousarray(linear[..., i], dtype=pixel)
        if s.cryptomatte:
            channels.update(crypto.channels(self.names, values, self._ranks, s.crypto_type))
        else:
            for layer, v in zip(self.layers, values):
                channels[f"{layer}.A"] = np.ascontiguousarray(v, dtype=pixel)
        return encode(channels, self._attributes, s.compression)

    def close(self) -> None:
        self._sequence.close()

    def abort(self) -> None:
        self._sequence.abort()
