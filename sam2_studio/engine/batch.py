"""Objects that advance together: grouping by memory layout, and undoing a step not handed out.

All objects of a frame share its image features. Memory attention and the decoder run on a
batch of objects whose memory banks have the same layout (as many remembered frames and as
many pointers), the usual case when objects are tracked together; each row keeps its own
temporal positions. Results equal one-by-one tracking (tests/engine/test_batching.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .memory_bank import MemorySelection
from .records import FrameRecord, ObjectTrack

_MISSING = object()


def group_by_layout(selections: Sequence[MemorySelection], batch: bool = True) -> list[list[int]]:
    """Indices of ``selections`` that can share a model call, in first-seen order."""
    groups: dict[object, list[int]] = {}
    for i, sel in enumerate(selections):
        key = (len(sel.spatial), len(sel.pointers)) if batch else i
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def same_or_each(values: Sequence[int]) -> int | tuple[int, ...]:
    """One value for the whole batch when the rows agree, else one per row."""
    return values[0] if len(set(values)) == 1 else tuple(values)


@dataclass
class _Change:
    track: ObjectTrack
    record: FrameRecord
    before: FrameRecord | None
    tracked: object  # the frame's previous ``tracked`` value, or _MISSING
    was_stale: bool


@dataclass
class Step:
    """One frame of a propagation: what it committed, so that a step computed ahead but never
    handed out (the user stopped) can be taken back as if it had not run."""

    frame: int
    reverse: bool
    only_stale: bool
    changes: list[_Change] = field(default_factory=list)

    @property
    def computed(self) -> bool:
        return bool(self.changes)

    def commit(self, track: ObjectTrack, record: FrameRecord) -> None:
        f = self.frame
        self.changes.append(_Change(track, record, track.committed.get(f), track.tracked.get(f, _MISSING), f in track.stale))
        track.commit(f, record)
        track.tracked[f] = self.reverse
        track.stale.discard(f)

    def undo(self) -> list[tuple[int, int]]:
        """Restore every track as it was; returns the (object, frame) keys that no longer
        have a record."""
        gone = []
        f = self.frame
        for c in reversed(self.changes):
            if c.track.committed.get(f) is not c.record:
                continue  # replaced since (an edit between frames): keep the newer state
            if c.before is None:
                del c.track.committed[f]
                gone.append((c.track.obj_id, f))
            else:
                c.track.committed[f] = c.before
            if c.tracked is _MISSING:
                c.track.tracked.pop(f, None)
            else:
                c.track.tracked[f] = c.tracked  # type: ignore[assignment]
            if c.was_stale:
                c.track.stale.add(f)
        self.changes.clear()
        return gone
