"""Boolean masks as deflated run lengths: compact, lossless, fast both ways in numpy.

Row-major runs, starting with a (possibly empty) run of False, each length an unsigned
LEB128 varint, the whole zlib-compressed. It is the project file's ``s2rle1`` mask codec
(``project/masks.py``, docs/project-format.md) and the engine's in-memory form of its final
masks. On noisy 1080p masks it is a third of the size of a PNG and eight times faster to
write.

It sits beside ``errors.py``, outside the layers, because both the engine (which must not
import the media stack) and the project use it; run counting is shared with media's COCO
RLE (``media.coco``), which counts column-major.
"""

from __future__ import annotations

import zlib

import numpy as np


_U64 = np.uint64


def rle_counts(mask: np.ndarray, order: str = "F") -> np.ndarray:
    """Run lengths of a boolean (H, W) mask, starting with a (possibly empty) run of zeros.

    Column-major by default (COCO's order); ``order="C"`` counts row by row, which is what
    the project file's ``s2rle1`` codec stores (``project/masks.py``), so both formats share
    this and :func:`mask_from_counts`.
    """
    flat = np.asarray(mask, dtype=bool).ravel(order=order)
    if flat.size == 0:
        return np.zeros(1, dtype=np.int64)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds)
    if flat[0]:
        counts = np.concatenate(([0], counts))
    return counts.astype(np.int64)


def mask_from_counts(counts: np.ndarray, shape: tuple[int, int], order: str = "F") -> np.ndarray:
    """The (H, W) boolean mask whose runs (zeros first) are ``counts``, in ``order``.

    The caller checks that the runs cover ``shape`` exactly and says so in its own words.
    """
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, np.asarray(counts, dtype=np.int64))
    h, w = int(shape[0]), int(shape[1])
    return flat.reshape((h, w)) if order == "C" else flat.reshape((w, h)).T.copy()


class MaskRunsError(ValueError):
    """Bytes that do not decode to a mask of the stated size."""


def encode_runs(mask: np.ndarray, level: int = 6) -> bytes:
    if np.size(mask) == 0:
        return zlib.compress(b"")
    return zlib.compress(_varints(rle_counts(mask, order="C")), level)


def decode_runs(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    try:
        raw = zlib.decompress(data)
    except zlib.error as exc:
        raise MaskRunsError(f"the mask data is corrupt ({exc})") from None
    runs = _from_varints(raw)
    total = int(shape[0]) * int(shape[1])
    if int(runs.sum()) != total:
        raise MaskRunsError(f"the mask data covers {int(runs.sum())} pixels, not {shape[0]}×{shape[1]}")
    return mask_from_counts(runs, shape, order="C")


def _varints(values: np.ndarray) -> bytes:
    v = values.astype(_U64)
    nbytes = np.ones(v.size, dtype=np.int64)
    for k in range(1, 10):
        nbytes += v >= (_U64(1) << _U64(7 * k))
    out = np.empty(int(nbytes.sum()), dtype=np.uint8)
    starts = np.cumsum(nbytes) - nbytes
    for j in range(int(nbytes.max(initial=0))):
        sel = nbytes > j
        low7 = (v[sel] >> _U64(7 * j)) & _U64(0x7F)
        more = (nbytes[sel] - 1 > j).astype(_U64) << _U64(7)
        out[starts[sel] + j] = (low7 | more).astype(np.uint8)
    return out.tobytes()


def _from_varints(raw: bytes) -> np.ndarray:
    b = np.frombuffer(raw, dtype=np.uint8)
    if b.size == 0:
        return np.zeros(0, dtype=_U64)
    ends = np.flatnonzero(b < 0x80)
    if ends.size == 0 or ends[-1] != b.size - 1:
        raise MaskRunsError("the mask data ends in the middle of a number")
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if int(lengths.max()) > 6:  # 6×7 bits is far beyond any frame's pixel count
        raise MaskRunsError("the mask data holds an impossible run length")
    pos = np.arange(b.size) - np.repeat(starts, lengths)
    parts = (b & 0x7F).astype(_U64) << (7 * pos).astype(_U64)
    return np.add.reduceat(parts, starts)
