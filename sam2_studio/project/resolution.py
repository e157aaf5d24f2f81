"""The working resolution: the model's input size, chosen per project.

The same weights run at every size (the image encoder's position embedding is interpolated
to the feature map); smaller is faster and coarser. Masks always come out at the video's
resolution. Which resolution made an object's tracked frames is recorded per object, as
frame ranges (``TrackedAt``), so a project never mixes them inside one track without saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

RESOLUTIONS: dict[str, int] = {"full": 1024, "balanced": 768, "draft": 512}
NAMES = {"full": "Full", "balanced": "Balanced", "draft": "Draft"}
DEFAULT_RESOLUTION = "full"

Ranges = tuple[tuple[int, int], ...]


def check_resolution(name: object) -> str:
    if not isinstance(name, str) or name not in RESOLUTIONS:
        raise ValueError(f"unknown working resolution {name!r}; choose one of {', '.join(RESOLUTIONS)}")
    return name


def describe(name: str) -> str:
    """'Draft 512' for a status bar."""
    return f"{NAMES[name]} {RESOLUTIONS[name]}"


def describe_size(image_size: int) -> str:
    """A model input size in words: 'Full 1024', or '640 px' for a size of no preset."""
    for name, size in RESOLUTIONS.items():
        if size == image_size:
            return describe(name)
    return f"{image_size} px"


def to_ranges(frames: Iterable[int]) -> Ranges:
    out: list[tuple[int, int]] = []
    for f in sorted(set(frames)):
        if out and f == out[-1][1] + 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return tuple(out)


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Inclusive ranges, sorted and joined where they touch or overlap."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


def _frames(ranges: Ranges) -> set[int]:
    return {f for a, b in ranges for f in range(a, b + 1)}


@dataclass(frozen=True, slots=True)
class TrackedAt:
    """Per working resolution, the frames of one object that tracking at it produced.

    Immutable (it lives on a ``TrackedObject`` and changes through undoable commands).
    Frames prompted by the user are not listed: their masks are the user's.
    """

    ranges: tuple[tuple[str, Ranges], ...] = ()

    @classmethod
    def of(cls, mapping: dict[str, Iterable[int]]) -> TrackedAt:
        items = []
        for name in RESOLUTIONS:  # a fixed order: equal values compare equal
            frames = to_ranges(mapping.get(name, ()))
            if frames:
                items.append((name, frames))
        return cls(tuple(items))

    def as_dict(self) -> dict[str, set[int]]:
        return {name: _frames(r) for name, r in self.ranges}

    @property
    def resolutions(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.ranges)

    @property
    def mixed(self) -> bool:
        return len(self.ranges) > 1

    def with_frames(self, name: str, frames: Iterable[int]) -> TrackedAt:
        """These frames were (re)tracked at ``name``: they leave any other resolution."""
        new = set(frames)
        d = {k: v - new for k, v in self.as_dict().items()}
        d[name] = d.get(name, set()) | new
        return TrackedAt.of(d)

    def without_frames(self, frames: Iterable[int]) -> TrackedAt:
        gone = set(frames)
        return TrackedAt.of({k: v - gone for k, v in self.as_dict().items()})

    def other_than(self, name: str) -> Ranges:
        """The frames tracked at another resolution than ``name``: stale at ``name``."""
        others = [r for k, ranges in self.ranges if k != name for r in ranges]
        return merge(others)

    def count(self, name: str | None = None) -> int:
        return sum(b - a + 1 for k, r in self.ranges if name is None or k == name for a, b in r)

    def to_json(self) -> dict[str, list[list[int]]]:
        return {name: [[a, b] for a, b in r] for name, r in self.ranges}

    @classmethod
    def from_json(cls, value: object, frame_count: int) -> TrackedAt:
        if not isinstance(value, dict):
            raise ValueError("expected an object of resolution -> [[first, last], ...]")
        mapping: dict[str, set[int]] = {}
        for name, ranges in value.items():
            check_resolution(name)
            if not isinstance(ranges, list):
                raise ValueError(f"{name}: expected a list of [first, last]")
            frames: set[int] = set()
            for r in ranges:
                if (not isinstance(r, list) or len(r) != 2
                        or not all(isinstance(x, int) and not isinstance(x, bool) for x in r)
                        or not 0 <= r[0] <= r[1] < frame_count):
                    raise ValueError(f"{name}: {r!r} is not a frame range of this video")
                frames.update(range(r[0], r[1] + 1))
            mapping[name] = frames
        return cls.of(mapping)
