"""COCO run-length encoding of boolean masks, and per-frame mask JSON the SAM 2 tools read.

RLE runs are counted in column-major order, starting with a run of zeros, exactly like
pycocotools; ``counts`` is either the list of run lengths ("uncompressed") or pycocotools'
compact string. Both encode and decode are vectorised (milliseconds for a 1080p mask), so
the project layer can use :class:`RleMask` to store every mask compactly.

The JSON layout is SA-V's (the SAM 2 dataset): ``masklet`` is a list over frames of a list
over objects of ``{"size": [h, w], "counts": str}``, with ``masklet_id`` naming the objects;
we add ``masklet_frame_index`` (which frame each entry is) and ``video_fps``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from sam2_studio.atomic_write import atomic_write
from sam2_studio.mask_runs import mask_from_counts, rle_counts  # noqa: F401 - shared with s2rle1

from .atomic import Export, check_writable_folder, write_failure
from .errors import MediaError


def counts_to_string(counts: np.ndarray) -> str:
    """pycocotools' ``rleToString``: deltas to the run two back, 5 bits per character."""
    c = np.asarray(counts, dtype=np.int64)
    x = c.copy()
    if x.size > 3:
        x[3:] -= c[1:-2]
    n = x.size
    chars = np.zeros((n, 14), dtype=np.uint8)
    length = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    for k in range(14):
        if not active.any():
            break
        part = x & 0x1F
        x = x >> 5  # arithmetic shift, as in C for negative deltas
        more = np.where(part & 0x10, x != -1, x != 0)
        part = part | (more.astype(np.int64) << 5)
        chars[active, k] = (part[active] + 48).astype(np.uint8)
        length[active] += 1
        active &= more
    take = np.arange(14)[None, :] < length[:, None]
    return chars[take].tobytes().decode("ascii")


def string_to_counts(s: str) -> np.ndarray:
    """pycocotools' ``rleFrString``, the inverse of :func:`counts_to_string`."""
    b = np.frombuffer(s.encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
    if b.size == 0:
        return np.zeros(0, dtype=np.int64)
    if b.min() < 0 or b.max() > 63:
        raise ValueError("not a COCO RLE string")
    last = (b & 0x20) == 0
    ends = np.flatnonzero(last)
    if ends.size == 0 or ends[-1] != b.size - 1:
        raise ValueError("truncated COCO RLE string")
    starts = np.concatenate(([0], ends[:-1] + 1))
    pos = np.arange(b.size) - np.repeat(starts, ends - starts + 1)
    x = np.add.reduceat((b & 0x1F) << (5 * pos), starts)
    groups = ends - starts + 1
    negative = (b[ends] & 0x10) != 0
    x[negative] -= np.left_shift(1, 5 * groups[negative])
    counts = x.copy()
    if counts.size > 3:
        counts[3::2] = np.cumsum(x[3::2]) + x[1]
        counts[4::2] = np.cumsum(x[4::2]) + x[2]
    return counts


@dataclass(frozen=True)
class RleMask:
    """A boolean mask as COCO RLE: ``size`` is (height, width), ``counts`` the compact string."""

    size: tuple[int, int]
    counts: str

    @classmethod
    def encode(cls, mask: np.ndarray) -> RleMask:
        m = np.asarray(mask)
        if m.ndim != 2:
            raise ValueError(f"a mask is 2-D, not {m.shape}")
        return cls((int(m.shape[0]), int(m.shape[1])), counts_to_string(rle_counts(m)))

    @classmethod
    def empty(cls, height: int, width: int) -> RleMask:
        return cls((height, width), counts_to_string(np.array([height * width])))

    @property
    def run_lengths(self) -> np.ndarray:
        """The uncompressed counts."""
        return string_to_counts(self.counts)

    @property
    def area(self) -> int:
        return int(self.run_lengths[1::2].sum())

    def decode(self) -> np.ndarray:
        h, w = self.size
        runs = self.run_lengths
        if int(runs.sum()) != h * w:
            raise ValueError(f"RLE covers {int(runs.sum())} pixels, the mask has {h * w}")
        return mask_from_counts(runs, (h, w))

    def to_json(self) -> dict[str, object]:
        return {"size": [self.size[0], self.size[1]], "counts": self.counts}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RleMask:
        """From ``{"size": [h, w], "counts": str | list[int]}`` (compressed or not)."""
        h, w = (int(v) for v in data["size"])  # type: ignore[union-attr]
        counts = data["counts"]
        if isinstance(counts, bytes):
            counts = counts.decode("ascii")
        if isinstance(counts, str):
            return cls((h, w), counts)
        return cls((h, w), counts_to_string(np.asarray(counts, dtype=np.int64)))


@dataclass
class Masklets:
    """Every object's mask on every exported frame of one video."""

    width: int
    height: int
    object_ids: list[int] = field(default_factory=list)
    frame_indices: list[int] = field(default_factory=list)
    masks: list[list[RleMask]] = field(default_factory=list)  # [frame][object]
    fps: Fraction | None = None
    frame_count: int | None = None
    video_id: str = ""
    object_names: dict[int, str] = field(default_factory=dict)

    def mask(self, frame_index: int, object_id: int) -> np.ndarray:
        return self.masks[self.frame_indices.index(frame_index)][self.object_ids.index(object_id)].decode()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "video_id": self.video_id,
            "video_width": self.width,
            "video_height": self.height,
            "video_frame_count": self.frame_count if self.frame_count is not None else len(self.frame_indices),
            "masklet_id": list(self.object_ids),
            "masklet_num": len(self.object_ids),
            "masklet_frame_index": list(self.frame_indices),
            "masklet": [[m.to_json() for m in frame] for frame in self.masks],
        }
        if self.fps is not None:
            out["video_fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        if self.object_names:
            out["masklet_name"] = [self.object_names.get(i, "") for i in self.object_ids]
        return out


class MaskletWriter(Export):
    """Collects masks frame by frame (compressed at once), writes the JSON on ``close()``.

    Objects may appear on any frame; frames where an object is absent get an empty mask.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], *, fps: Fraction | None = None, frame_count: int | None = None, object_names: Mapping[int, str] | None = None) -> None:
        self.path = Path(path)
        check_writable_folder(self.path.parent, self.path)
        w, h = size
        self._m = Masklets(width=w, height=h, fps=fps, frame_count=frame_count, video_id=self.path.stem, object_names=dict(object_names or {}))
        self._frames: list[tuple[int, dict[int, RleMask]]] = []
        self._closed = False

    def add(self, frame_index: int, masks: Mapping[int, np.ndarray | RleMask]) -> None:
        h, w = self._m.height, self._m.width
        encoded = {}
        for obj, mask in masks.items():
            rle = mask if isinstance(mask, RleMask) else RleMask.encode(mask)
            if rle.size != (h, w):
                raise ValueError(f"mask of object {obj} is {rle.size[1]}×{rle.size[0]}, the video is {w}×{h}")
            encoded[int(obj)] = rle
        self._frames.append((int(frame_index), encoded))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        m = self._m
        m.object_ids = sorted({o for _, masks in self._frames for o in masks})
        empty = RleMask.empty(m.height, m.width)
        self._frames.sort(key=lambda f: f[0])
        m.frame_indices = [i for i, _ in self._frames]
        m.masks = [[masks.get(o, empty) for o in m.object_ids] for _, masks in self._frames]
        write_json_atomic(self.path, m.to_json())

    def abort(self) -> None:
        self._closed = True
        self._frames.clear()



def write_json_atomic(path: Path, data: object) -> None:
    try:
        with atomic_write(path) as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8")
            json.dump(data, text, separators=(",", ":"))
            text.flush()
            text.detach()
    except OSError as exc:
        raise write_failure(path, exc) from exc


def read_masklets(path: str | Path) -> Masklets:
    """Read a masklet JSON file (ours, or an SA-V annotation file)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        frames = data["masklet"]
        masks = [[RleMask.from_json(m) for m in frame] for frame in frames]
        first = masks[0][0] if masks and masks[0] else None
        height = int(data.get("video_height") or (first.size[0] if first else 0))
        width = int(data.get("video_width") or (first.size[1] if first else 0))
        n_obj = len(masks[0]) if masks else int(data.get("masklet_num", 0))
        ids = [int(i) for i in data.get("masklet_id", range(n_obj))]
        fps = data.get("video_fps")
        names = data.get("masklet_name")
    except FileNotFoundError as exc:
        raise MediaError("file not found", p) from exc
    except OSError as exc:
        raise write_failure(p, exc) from exc
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise MediaError(f"this is not a mask JSON file in the SA-V/COCO layout ({exc})", p) from exc
    return Masklets(
        width=width,
        height=height,
        object_ids=ids,
        frame_indices=[int(i) for i in data.get("masklet_frame_index", range(len(masks)))],
        masks=masks,
        fps=Fraction(fps) if fps else None,
        frame_count=data.get("video_frame_count"),
        video_id=str(data.get("video_id", "")),
        object_names={i: n for i, n in zip(ids, names)} if names else {},
    )
