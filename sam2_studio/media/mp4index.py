"""The frame index of an MP4/MOV file from its sample tables, without reading the media data.

FFmpeg already parses the tables into ``stream.index_entries`` (decode timestamps,
keyframe and discard flags, byte ranges); presentation times need the composition offsets
of the ``ctts`` box on top, read here. Opening an hour of video then takes milliseconds
instead of a pass over gigabytes. The caller checks the result against the first packets
and falls back to demuxing everything when anything differs (fragmented files, complex
edit lists).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

def _boxes(data: bytes, start: int = 0, end: int | None = None):  # noqa: ANN202 - generator of (type, payload start, payload end)
    pos, end = start, len(data) if end is None else end
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            return
        yield kind, pos + head, pos + size
        pos += size


def _find_moov(fh: BinaryIO, file_size: int) -> bytes | None:
    pos = 0
    while pos + 8 <= file_size:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", head)
        hlen = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", head, 8)
            hlen = 16
        elif size == 0:
            size = file_size - pos
        if size < hlen:
            return None
        if kind == b"moov":
            fh.seek(pos + hlen)
            return fh.read(size - hlen)
        pos += size
    return None


def composition_offsets(path: Path, track_id: int) -> np.ndarray | None:
    """Per-sample ``ctts`` offsets of one track (zeros without a ctts box); None if unsure."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        moov = _find_moov(fh, size)
    if moov is None:
        return None
    for kind, a, b in _boxes(moov):
        if kind == b"mvex":
            return None  # fragmented: the offsets live in the fragments
    for kind, a, b in _boxes(moov):
        if kind != b"trak":
            continue
        tkhd = next(((x, y) for k, x, y in _boxes(moov, a, b) if k == b"tkhd"), None)
        if tkhd is None:
            continue
        version = moov[tkhd[0]]
        tid = struct.unpack_from(">I", moov, tkhd[0] + (20 if version == 1 else 12))[0]
        if tid != track_id:
            continue
        stbl = _descend(moov, a, b, [b"mdia", b"minf", b"stbl"])
        if stbl is None:
            return None
        n_samples = None
        ctts = None
        for k, x, y in _boxes(moov, *stbl):
            if k == b"stsz":
                n_samples = struct.unpack_from(">I", moov, x + 8)[0]
            elif k == b"ctts":
                ctts = (x, y)
        if n_samples is None:
            return None
        if ctts is None:
            return np.zeros(n_samples, dtype=np.int64)
        version = moov[ctts[0]]
        count = struct.unpack_from(">I", moov, ctts[0] + 4)[0]
        if ctts[0] + 8 + 8 * count > ctts[1]:
            return None
        pairs = np.frombuffer(moov, dtype=">u4", count=2 * count, offset=ctts[0] + 8).reshape(-1, 2)
        counts = pairs[:, 0].astype(np.int64)
        offsets = pairs[:, 1].astype(np.int64)
        if version == 1:
            offsets = pairs[:, 1].view(">i4").astype(np.int64)
        per_sample = np.repeat(offsets, counts)
        return per_sample if per_sample.size == n_samples else None
    return None


def _descend(data: bytes, a: int, b: int, path: list[bytes]) -> tuple[int, int] | None:
    for name in path:
        found = next(((x, y) for k, x, y in _boxes(data, a, b) if k == name), None)
        if found is None:
            return None
        a, b = found
    return a, b
