"""A deterministic stand-in for the tracking engine that answers with a clip's ground truth.

Where a test checks that masks land on the right pixels of the right frames (on screen, in
the document, in exported files), a random-weight model cannot say what is right; this
session can. A click picks the ground-truth object under it; propagation returns that
object's ground-truth mask on every frame. It speaks the worker's ``TrackingSession``
protocol, so it runs on the real worker thread through the real editor.

Its results carry evidence as a model's would (``FrameResult.quality``): a clear object
score (present or not), and a predicted IoU and candidate agreement in the range a trained
model gives for a good mask, varying a little from frame to frame (deterministically).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sam2_studio.app.model_source import LoadedModel, ModelInfo
from sam2_studio.engine import FrameQuality, FrameResult

OBJECT_SCORE = 8.0  # the logit the test engine reports: clearly present (or, negated, absent)


def plausible_quality(mask: np.ndarray, frame: int, label: int) -> FrameQuality:
    """What a trained model reports about a good mask: certain of presence, predicted IoU
    0.88-0.97, candidates agreeing 0.75-0.95; absent: a negative score and nothing else."""
    if not mask.any():
        return FrameQuality(-OBJECT_SCORE)
    u = ((frame * 7919 + label * 104729) % 1009) / 1009
    v = ((frame * 104729 + label * 7919) % 1013) / 1013
    return FrameQuality(OBJECT_SCORE, 0.88 + 0.09 * u, 0.75 + 0.2 * v)


@dataclass
class GroundTruthClip:
    frames: list[np.ndarray]  # RGB uint8
    labels: list[np.ndarray | None]  # (H, W) int label maps, None where no annotation

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h

    def mask(self, frame: int, label: int) -> np.ndarray:
        lab = self.labels[frame]
        w, h = self.size
        if lab is None or label == 0:
            return np.zeros((h, w), bool)
        return lab == label


def load_clip(folder: Path, count: int | None = None, scale: float = 1.0) -> GroundTruthClip:
    """JPEGImages/*.jpg and Annotations/*.png of a DAVIS-style folder (0/255 or palette)."""
    jpgs = sorted((folder / "JPEGImages").glob("*.jpg"))[:count]
    frames, labels = [], []
    size = None
    for jpg in jpgs:
        rgb = cv2.cvtColor(cv2.imread(str(jpg)), cv2.COLOR_BGR2RGB)
        if size is None:
            h, w = rgb.shape[:2]
            size = (int(round(w * scale)), int(round(h * scale)))
        if rgb.shape[1::-1] != size:
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        frames.append(rgb)
        png = folder / "Annotations" / (jpg.stem + ".png")
        if png.is_file():
            lab = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
            if lab.ndim == 3:  # colour-coded: one label per distinct colour
                flat = lab.reshape(-1, lab.shape[2])
                _, inv = np.unique(flat, axis=0, return_inverse=True)
                lab = inv.reshape(lab.shape[:2])
            lab = (lab > 127).astype(np.int32) if lab.max() == 255 and len(np.unique(lab)) == 2 else lab.astype(np.int32)
            if lab.shape[1::-1] != size:
                lab = cv2.resize(lab.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(np.int32)
            labels.append(lab)
        else:
            labels.append(None)
    return GroundTruthClip(frames, labels)


@dataclass
class GroundTruthSession:
    clip: GroundTruthClip
    delay_s: float = 0.0  # per propagated frame, to leave time for a cancel
    fail_next: str | None = None  # a message the next propagation raises with (e.g. OOM)
    labels: dict[int, int] = field(default_factory=dict)  # object id -> ground-truth label
    prompts: dict[int, set[int]] = field(default_factory=dict)
    results: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)
    range: tuple[int, int] = (0, 0)
    calls: list[str] = field(default_factory=list)
    stale: dict[int, set[int]] = field(default_factory=dict)
    policy: str | None = None  # the memory it was asked for (it has none)

    def __post_init__(self) -> None:
        self.range = (0, len(self.clip.frames) - 1)

    # -- prompts -------------------------------------------------------------------------------
    def _label_at(self, frame: int, x: float, y: float) -> int:
        lab = self.clip.labels[frame]
        if lab is None:
            return 0
        h, w = lab.shape
        return int(lab[min(int(y), h - 1), min(int(x), w - 1)])

    def _set(self, frame: int, obj: int, label: int, mask: np.ndarray | None = None) -> FrameResult:
        self.labels[obj] = label
        self.prompts.setdefault(obj, set()).add(frame)
        m = self.clip.mask(frame, label) if mask is None else mask.astype(bool)
        self.results.setdefault(obj, {})[frame] = m
        # like the engine: tracked frames up to the neighbouring prompts are now outdated
        others = self.prompts[obj] - {frame}
        before = max((p for p in others if p < frame), default=-1)
        after = min((p for p in others if p > frame), default=len(self.clip.frames))
        tracked = set(self.results[obj]) - self.prompts[obj]
        self.stale[obj] = {t for t in tracked if before < t < after} | (self.stale.get(obj, set()) - {frame})
        return self._result(frame, (obj,))

    def add_points(self, frame, obj_id, points, labels, clear=True):  # noqa: ANN001, ANN201
        self.calls.append(f"points {obj_id}@{frame}")
        pts = np.asarray(points).reshape(-1, 2)
        pos = [p for p, lab in zip(pts, np.asarray(labels).reshape(-1)) if lab == 1]
        label = self._label_at(frame, *pos[0]) if pos else 0
        return self._set(frame, obj_id, label)

    def add_box(self, frame, obj_id, box, points=None, labels=None):  # noqa: ANN001, ANN201
        self.calls.append(f"box {obj_id}@{frame}")
        lab = self.clip.labels[frame]
        x0, y0, x1, y1 = (int(v) for v in box)
        inside = lab[y0:y1, x0:x1] if lab is not None else np.zeros(1, int)
        values, counts = np.unique(inside[inside > 0], return_counts=True)
        return self._set(frame, obj_id, int(values[np.argmax(counts)]) if len(values) else 0)

    def add_mask(self, frame, obj_id, mask):  # noqa: ANN001, ANN201
        self.calls.append(f"mask {obj_id}@{frame}")
        lab = self.clip.labels[frame]
        label = 0
        if lab is not None and mask.any():
            values, counts = np.unique(lab[mask.astype(bool)], return_counts=True)
            nz = values > 0
            if nz.any():
                label = int(values[nz][np.argmax(counts[nz])])
        return self._set(frame, obj_id, label, mask)

    def clear_frame(self, frame, obj_id=None):  # noqa: ANN001, ANN201
        self.calls.append(f"clear {obj_id}@{frame}")
        for obj in [obj_id] if obj_id is not None else list(self.prompts):
            self.prompts.get(obj, set()).discard(frame)
        return self._result(frame, ())

    def remove_object(self, obj_id):  # noqa: ANN001, ANN201
        self.calls.append(f"remove {obj_id}")
        if obj_id not in self.labels:
            raise ValueError(f"unknown object {obj_id}")
        self.labels.pop(obj_id)
        self.results.pop(obj_id, None)
        return sorted(self.prompts.pop(obj_id, set()))

    def reset(self) -> None:
        self.labels.clear()
        self.prompts.clear()
        self.results.clear()

    def set_range(self, in_point=None, out_point=None) -> None:  # noqa: ANN001
        self.range = (in_point or 0, len(self.clip.frames) - 1 if out_point is None else out_point)

    def stale_ranges(self) -> dict[int, list[tuple[int, int]]]:
        out = {}
        for obj in self.labels:
            ranges: list[tuple[int, int]] = []
            for t in sorted(self.stale.get(obj, ())):
                if ranges and t == ranges[-1][1] + 1:
                    ranges[-1] = (ranges[-1][0], t)
                else:
                    ranges.append((t, t))
            out[obj] = ranges
        return out

    # -- propagation -----------------------------------------------------------------------------
    def propagate(self, start=None, direction="forward", end=None, only_stale=False) -> Iterator[FrameResult]:  # noqa: ANN001
        self.calls.append(f"propagate {direction} from {start}")
        if self.fail_next:
            message, self.fail_next = self.fail_next, None
            raise RuntimeError(message)
        active = [o for o, frames in self.prompts.items() if frames]
        if not active:
            raise ValueError("no object has a prompt yet: click, box or paint an object first")
        lo, hi = self.range
        if start is None:
            start = min(min(self.prompts[o]) for o in active)
        start = min(max(start, lo), hi)
        passes = []
        if direction in ("forward", "both"):
            passes.append(range(start, hi + 1))
        if direction in ("backward", "both"):
            passes.append(range(start, lo - 1, -1))
        for frames in passes:
            for f in frames:
                computed = tuple(o for o in active if f not in self.prompts[o])
                for o in computed:
                    self.results.setdefault(o, {})[f] = self.clip.mask(f, self.labels[o])
                    self.stale.get(o, set()).discard(f)
                if self.delay_s:
                    time.sleep(self.delay_s)
                yield self._result(f, computed)

    def _result(self, frame: int, computed: tuple[int, ...]) -> FrameResult:
        w, h = self.clip.size
        masks = {o: self.results.get(o, {}).get(frame, np.zeros((h, w), bool)) for o in self.labels}
        quality = {o: plausible_quality(m, frame, self.labels[o]) for o, m in masks.items()}
        return FrameResult(frame, masks, {o: bool(m.any()) for o, m in masks.items()},
                           {o: q.object_score for o, q in quality.items()}, {}, computed, quality)


@dataclass(frozen=True)
class GroundTruthSource:
    """A ``ModelSource`` whose sessions answer with ground truth."""

    clip: GroundTruthClip
    delay_s: float = 0.0
    sessions: list = field(default_factory=list, compare=False, hash=False)

    @property
    def description(self) -> str:
        return "ground truth (test engine)"

    def load(self) -> LoadedModel:
        def factory(model, frames, policy=None):  # noqa: ANN001, ANN202
            session = GroundTruthSession(self.clip, self.delay_s, policy=policy)
            self.sessions.append(session)
            return session

        info = ModelInfo("ground-truth", "no model", random_weights=True,
                         note="TEST ENGINE: answers with ground-truth masks, not a model")
        return LoadedModel(info, None, factory)
