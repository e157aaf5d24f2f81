"""The presentation-timestamp index: frame ``i`` is the i-th frame in presentation order.

Built from packets on open (demuxing only, no decoding), so it is fast and it is right for
variable-frame-rate files, B-frames, and streams whose timestamps do not start at zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class FrameIndex:
    """Timestamps of every frame in presentation order, and where decoding can start."""

    pts: np.ndarray  # int64, ascending: pts of frame i in ``time_base`` units
    keyframes: np.ndarray  # int64, ascending: indices of frames decoding can start from
    seek_ts: np.ndarray  # int64: timestamp to seek to for each keyframe (its dts when known)
    time_base: Fraction

    def __len__(self) -> int:
        return int(self.pts.size)

    @cached_property
    def frame_duration(self) -> int:
        """The typical distance between two frames, in ``time_base`` units."""
        if self.pts.size < 2:
            return 1
        return max(1, int(np.median(np.diff(self.pts))))

    @cached_property
    def is_variable_rate(self) -> bool:
        if self.pts.size < 3:
            return False
        d = np.diff(self.pts)
        return bool(d.max() - d.min() > max(1, 0.01 * self.frame_duration))

    def seconds(self, i: int) -> float:
        """Time of frame ``i`` from the first frame, in seconds."""
        return float((int(self.pts[i]) - int(self.pts[0])) * self.time_base)

    def keyframe_before(self, i: int) -> int:
        """Position in ``keyframes`` of the last keyframe at or before frame ``i``."""
        k = int(np.searchsorted(self.keyframes, i, side="right")) - 1
        return max(k, 0)

    def locate(self, ts: int | None, after: int | None) -> int:
        """Frame index of a decoded frame with timestamp ``ts``; ``after`` is the previous one.

        Frames without a timestamp, or repeating one, follow the previous frame; a decoder
        that rounds timestamps gets the nearest frame. ``len(self)`` means past the end.
        """
        if ts is None:
            return 0 if after is None else after + 1
        pts = self.pts
        i = int(np.searchsorted(pts, ts, side="left"))
        if i == pts.size:
            i = pts.size - 1 if 2 * (ts - int(pts[-1])) < self.frame_duration else pts.size
        elif i > 0 and pts[i] != ts and ts - pts[i - 1] < pts[i] - ts:
            i -= 1
        if after is not None and i <= after:
            i = after + 1
        return i


class IndexBuilder:
    """Collects video packets in demux order and turns them into a :class:`FrameIndex`."""

    def __init__(self, time_base: Fraction) -> None:
        self.time_base = time_base
        self._pts: list[int] = []
        self._key: list[tuple[int, int]] = []  # (pts, seek timestamp)
        self._last = -1
        self.damaged = ""  # why indexing stopped early, in words

    def add(self, pts: int | None, dts: int | None, keyframe: bool) -> None:
        ts = pts if pts is not None else dts
        if ts is None:  # no timestamps at all: keep demux order
            ts = self._last + 1
        self._last = max(self._last, ts)
        self._pts.append(ts)
        if keyframe or not self._key:  # decoding always starts somewhere
            self._key.append((ts, min(ts, dts) if dts is not None else ts))

    def __len__(self) -> int:
        return len(self._pts)

    def build(self) -> FrameIndex:
        pts = np.asarray(sorted(self._pts), dtype=np.int64)
        key_pts = np.asarray([k[0] for k in self._key], dtype=np.int64)
        seek = np.asarray([k[1] for k in self._key], dtype=np.int64)
        positions = np.searchsorted(pts, key_pts, side="left")
        order = np.argsort(positions, kind="stable")
        positions, seek = positions[order], seek[order]
        if positions.size == 0 or positions[0] != 0:
            # The first frame in presentation order is not a keyframe (open GOP at the
            # start): decoding still has to start at the first packet.
            first_seek = int(seek.min()) if seek.size else int(pts[0]) if pts.size else 0
            positions = np.concatenate([[0], positions]).astype(np.int64)
            seek = np.concatenate([[first_seek], seek]).astype(np.int64)
        keep = np.concatenate([[True], np.diff(positions) > 0]) if positions.size else positions
        return FrameIndex(pts=pts, keyframes=positions[keep], seek_ts=seek[keep], time_base=self.time_base)
