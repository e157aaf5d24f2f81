"""Which past frames a frame attends to: the memory policies.

``Sam2Memory`` is the paper's bank: every prompted frame, the six frames just before this one
in the direction of travel (with their distance as temporal encoding) and the object
pointers of prompted frames in the past and of the last 15 frames.

``DistractorAwareMemory`` is SAM2.1++ (Videnovic, Lukezic, Kristan, CVPR 2025): the recent
frames come from a recent-appearance memory (RAM) refreshed only every ``ram_interval``
frames and never while the object is absent, and a distractor-resolving memory (DRM) keeps
anchor frames, taken when tracking is reliable and a distractor appears, which are attended
like prompted frames (no temporal encoding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .distractor import DistractorRule, FrameEvidence
from .records import FrameRecord, ObjectTrack


@dataclass
class MemorySelection:
    spatial: list[tuple[int, int]] = field(default_factory=list)  # (frame, tpos slot)
    pointers: list[tuple[int, int]] = field(default_factory=list)  # (frame, signed offset)


class Sam2Memory:
    name = "sam2"
    needs_evidence = False  # observe() reads nothing of a frame: tracking need not wait for the host

    def __init__(self, num_maskmem: int = 7, max_obj_ptrs: int = 16) -> None:
        self.num_maskmem = num_maskmem
        self.max_obj_ptrs = max_obj_ptrs

    def max_pointer_offset(self, num_frames: int) -> int:
        return min(num_frames, self.max_obj_ptrs) - 1

    def _cond_spatial(self, track: ObjectTrack) -> list[tuple[int, int]]:
        return [(t, self.num_maskmem - 1) for t in track.cond_order]

    def _pointers(self, track: ObjectTrack, frame: int, reverse: bool, num_frames: int) -> list[tuple[int, int]]:
        sign = -1 if reverse else 1
        # Prompted frames' pointers only from the past (in the direction of travel).
        ptrs = [(t, (frame - t) * sign) for t in track.cond_order if (t >= frame if reverse else t <= frame)]
        for d in range(1, min(num_frames, self.max_obj_ptrs)):
            t = frame + d if reverse else frame - d
            if t < 0 or t >= num_frames:
                break
            rec = track.committed.get(t)
            if rec is not None and not rec.is_cond:
                ptrs.append((t, d))
        return ptrs

    def select(self, track: ObjectTrack, frame: int, reverse: bool, num_frames: int) -> MemorySelection:
        spatial = self._cond_spatial(track)
        for t_pos in range(1, self.num_maskmem):
            back = self.num_maskmem - t_pos
            t = frame + back if reverse else frame - back
            rec = track.committed.get(t)
            if rec is not None and not rec.is_cond:
                spatial.append((t, self.num_maskmem - t_pos - 1))
        return MemorySelection(spatial, self._pointers(track, frame, reverse, num_frames))

    def start_run(self, track: ObjectTrack, start: int, reverse: bool) -> None:
        """Called when a propagation begins."""

    def observe(self, track: ObjectTrack, frame: int, record: FrameRecord, evidence: FrameEvidence | None) -> None:
        """Called after each tracked frame, before the record becomes memory."""

    def pinned(self, track: ObjectTrack) -> set[int]:
        """Frames whose memory must never be evicted."""
        return set(track.cond_order)


class DistractorAwareMemory(Sam2Memory):
    """SAM2.1++ memory management; see the module docstring and :class:`DistractorRule`.

    Parameters (the paper's defaults): ``ram_size`` 3 recent appearances refreshed every
    ``ram_interval`` = 5 frames; ``drm_size`` 3 distractor anchors attended (the nearest in
    time), of at most ``drm_keep`` remembered per object.
    """

    name = "distractor_aware"
    needs_evidence = True  # observe() reads each frame's masks on the host before the next frame

    def __init__(
        self,
        num_maskmem: int = 7,
        max_obj_ptrs: int = 16,
        ram_size: int = 3,
        ram_interval: int = 5,
        drm_size: int = 3,
        drm_keep: int = 16,
        rule: DistractorRule | None = None,
    ) -> None:
        super().__init__(num_maskmem, max_obj_ptrs)
        if ram_size + 1 > num_maskmem:
            raise ValueError("the recent-appearance memory cannot exceed the bank")
        self.ram_size = ram_size
        self.ram_interval = ram_interval
        self.drm_size = drm_size
        self.drm_keep = drm_keep
        self.rule = rule or DistractorRule()
        self._runs: dict[int, _RunState] = {}

    def start_run(self, track: ObjectTrack, start: int, reverse: bool) -> None:
        state = self._runs.setdefault(track.obj_id, _RunState())
        state.since_ram = 0
        state.reverse = reverse

    def select(self, track: ObjectTrack, frame: int, reverse: bool, num_frames: int) -> MemorySelection:
        spatial = self._cond_spatial(track)
        drm = [t for t, r in track.committed.items() if r.drm and not r.is_cond and t != frame]
        drm.sort(key=lambda t: (abs(t - frame), t))
        spatial += [(t, self.num_maskmem - 1) for t in drm[: self.drm_size]]
        # RAM: the most recent refreshed frames before this one, newest gets slot 0.
        ram: list[int] = []
        step = 1 if reverse else -1
        t = frame + step
        horizon = self.ram_size * self.ram_interval * 4 + self.num_maskmem
        while 0 <= t < num_frames and len(ram) < self.ram_size and abs(t - frame) <= horizon:
            rec = track.committed.get(t)
            if rec is not None and rec.ram and not rec.is_cond:
                ram.append(t)
            t += step
        spatial += [(t, i) for i, t in reversed(list(enumerate(ram)))]
        return MemorySelection(spatial, self._pointers(track, frame, reverse, num_frames))

    def observe(self, track: ObjectTrack, frame: int, record: FrameRecord, evidence: FrameEvidence | None) -> None:
        state = self._runs.setdefault(track.obj_id, _RunState())
        present = record.area > 0 and record.object_score > 0
        if present:
            state.areas.append(record.area)
            del state.areas[: -self.rule.area_history]
        state.since_ram += 1
        # RAM: refresh every `ram_interval` frames, never with an absent target.
        if present and state.since_ram >= self.ram_interval:
            record.ram = True
            state.since_ram = 0
        # DRM: a reliable frame that reveals a distractor becomes an anchor.
        if evidence is not None and present and abs(frame - state.last_drm) >= self.rule.min_gap:
            if self.rule.reliable(evidence, state.areas) and self.rule.distractor_present(evidence):
                record.drm = True
                state.last_drm = frame
                anchors = sorted(t for t, r in track.committed.items() if r.drm)
                for old in anchors[: max(0, len(anchors) + 1 - self.drm_keep)]:
                    track.committed[old].drm = False

    def pinned(self, track: ObjectTrack) -> set[int]:
        return set(track.cond_order) | {t for t, r in track.committed.items() if r.drm}


@dataclass
class _RunState:
    since_ram: int = 0
    reverse: bool = False
    last_drm: int = -(10**9)
    areas: list[int] = field(default_factory=list)


def make_policy(name: str, num_maskmem: int = 7, max_obj_ptrs: int = 16) -> Sam2Memory:
    if name == "sam2":
        return Sam2Memory(num_maskmem, max_obj_ptrs)
    if name == "distractor_aware":
        return DistractorAwareMemory(num_maskmem, max_obj_ptrs)
    raise ValueError(f"unknown memory policy {name!r}: use 'sam2' or 'distractor_aware'")


