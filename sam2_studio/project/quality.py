"""What the document keeps to judge a tracked mask: the model's evidence and the mask's shape.

Two kinds of facts per object and frame:

- ``Evidence``: what the model said when it made the mask (object-score logit, predicted IoU
  of the chosen mask, agreement of its candidate masks). It describes one particular mask,
  so it carries that mask's fingerprint: once the mask is painted over, the evidence no
  longer applies (and applies again when an undo brings the mask back).
- ``MaskGeometry``: area, centroid and bounding box of a mask, from which the area and
  centroid change between tracked frames follow. Derived from the mask itself, cached by
  fingerprint, and saved with the project so opening it needs no mask decoding.

Both are stored in a project as one small binary table per object (``QUALITY_LAYOUT``,
specified in docs/project-format.md).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from sam2_studio.project.mask_store import AnyMask, StoredMask

Fingerprint = tuple[int, int, int]  # (area, byte length, CRC-32 of the encoded bytes)


def fingerprint(mask: AnyMask) -> Fingerprint:
    """Which mask this is, without keeping it: equal masks (same codec) have equal prints,
    in RAM or in a mask store (whose handles read their bytes for it once)."""
    if isinstance(mask, StoredMask):
        return (mask.area, *mask.digest)
    return (mask.area, len(mask.data), zlib.crc32(mask.data))


@dataclass(frozen=True, slots=True)
class Evidence:
    """The model's evidence about one mask. ``None`` fields: the model gave no such number
    (a painted mask, a single candidate, a stand-in engine)."""

    object_score: float | None
    iou: float | None = None
    agreement: float | None = None
    mask: Fingerprint | None = None  # the mask it describes; set by the document

    def for_mask(self, mask: AnyMask) -> Evidence:
        return Evidence(self.object_score, self.iou, self.agreement, fingerprint(mask))


@dataclass(frozen=True, slots=True)
class MaskGeometry:
    """Area (pixels), centroid and inclusive bounding box of a mask; the box is all -1 and
    the centroid NaN when the mask is empty."""

    area: int
    cx: float
    cy: float
    box: tuple[int, int, int, int]

    @property
    def empty(self) -> bool:
        return self.area == 0


EMPTY_GEOMETRY = MaskGeometry(0, math.nan, math.nan, (-1, -1, -1, -1))


def geometry_of(mask: np.ndarray) -> MaskGeometry:
    """From row and column sums: ~0.3 ms for 854×480, no coordinate arrays."""
    m = np.asarray(mask, dtype=bool)
    rows = np.count_nonzero(m, axis=1)
    area = int(rows.sum())
    if area == 0:
        return EMPTY_GEOMETRY
    cols = np.count_nonzero(m, axis=0)
    ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
    # pixel centres at c + 0.5 (the project's coordinate convention)
    cx = float(cols @ np.arange(cols.size)) / area + 0.5
    cy = float(rows @ np.arange(rows.size)) / area + 0.5
    return MaskGeometry(area, cx, cy, (int(xs[0]), int(ys[0]), int(xs[-1]), int(ys[-1])))


class GeometryCache:
    """Geometry by mask fingerprint, bounded (least recently used go first). Keyed by the
    mask's content, not its place, so undo and redo find their masks' geometry again.
    Entries are packed (~200 bytes each with the index), so the default bound holds about
    20 MB."""

    _PACK = struct.Struct("<Iffiiii")

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _key(mask: AnyMask) -> int:
        area, length, crc = fingerprint(mask)
        return (area << 64) | (length << 32) | crc

    def _store(self, key: int, geometry: MaskGeometry) -> None:
        self._items[key] = self._PACK.pack(geometry.area, geometry.cx, geometry.cy, *geometry.box)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def put(self, mask: AnyMask, geometry: MaskGeometry) -> None:
        self._store(self._key(mask), geometry)

    def get(self, mask: AnyMask) -> MaskGeometry:
        """The mask's geometry, computed (decoding it) when not known."""
        if mask.area == 0:
            return EMPTY_GEOMETRY
        key = self._key(mask)
        packed = self._items.get(key)
        if packed is None:
            geometry = geometry_of(mask.decode())
            self._store(key, geometry)
            return geometry
        self._items.move_to_end(key)
        area, cx, cy, *box = self._PACK.unpack(packed)
        return MaskGeometry(area, cx, cy, tuple(box))  # type: ignore[arg-type]


# == the stored table ========================================================================
QUALITY_LAYOUT = "s2q1"
QUALITY_DTYPE = np.dtype([
    ("frame", "<u4"), ("object_score", "<f4"), ("iou", "<f4"), ("agreement", "<f4"),
    ("area", "<u4"), ("cx", "<f4"), ("cy", "<f4"),
    ("x0", "<i4"), ("y0", "<i4"), ("x1", "<i4"), ("y1", "<i4"),
])


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One frame of the stored table: the mask's geometry, and the evidence when the model
    made that mask."""

    frame: int
    geometry: MaskGeometry
    evidence: Evidence | None


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _opt(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def encode_rows(rows: list[QualityRow]) -> bytes:
    table = np.zeros(len(rows), QUALITY_DTYPE)
    for i, r in enumerate(rows):
        g, e = r.geometry, r.evidence
        table[i] = (r.frame, _nan(e.object_score if e else None), _nan(e.iou if e else None),
                    _nan(e.agreement if e else None), g.area, g.cx, g.cy, *g.box)
    return table.tobytes()


def decode_rows(data: bytes) -> list[QualityRow]:
    """The stored table; ``ValueError`` when it is not a whole number of rows."""
    if len(data) % QUALITY_DTYPE.itemsize:
        raise ValueError(f"{len(data)} bytes are not whole rows of {QUALITY_DTYPE.itemsize}")
    table = np.frombuffer(data, QUALITY_DTYPE)
    out = []
    for t in table.tolist():
        frame, score, iou, agreement, area, cx, cy, x0, y0, x1, y1 = t
        geometry = MaskGeometry(int(area), cx, cy, (x0, y0, x1, y1)) if area else EMPTY_GEOMETRY
        has_evidence = not (math.isnan(score) and math.isnan(iou) and math.isnan(agreement))
        evidence = Evidence(_opt(score), _opt(iou), _opt(agreement)) if has_evidence else None
        out.append(QualityRow(int(frame), geometry, evidence))
    return out
