"""Tracking faults put into ground truth on purpose, to measure the suspect-frame detector.

The four ways users see SAM 2 tools fail: the object is lost (an empty mask), swapped (the
mask moved onto another region of about its size), partly cut (half of it gone), or a
full-frame false positive. ``FaultyClip`` answers the ground-truth engine with these on
chosen frames, and with a tracker's boundary noise on every frame (a model's masks wobble
by a pixel or two; annotations do not), so clean frames are not unrealistically clean.

Also ``synthetic_track``: a longer track made from one annotated shape moving, turning and
scaling smoothly, for clips that are annotated only sparsely (cutie_judo).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from sam2_studio.app.review import Review, record_result
from sam2_studio.project import Document, VideoInfo
from sam2_studio.project.suspects import SuspectRules
from tests.ground_truth import GroundTruthClip, GroundTruthSession

KINDS = ("lost", "swap", "partial", "full_frame")


@dataclass(frozen=True)
class Fault:
    kind: str
    start: int
    length: int = 1
    seed: int = 0

    @property
    def frames(self) -> range:
        return range(self.start, self.start + self.length)


def shifted(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros_like(mask)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    out[yd, xd] = mask[ys, xs]
    return out


def swap(mask: np.ndarray, rng: np.random.Generator,
         reach: tuple[float, float] = (1.0, 1.6)) -> np.ndarray:
    """The mask moved onto another region: by ``reach`` times its box (1-1.6: beside
    itself) in a direction where it still (mostly) fits in the frame."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return mask
    h, w = mask.shape
    bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    best, best_kept = mask, -1.0
    for _ in range(12):
        angle = rng.uniform(0, 2 * math.pi)
        f = rng.uniform(*reach)
        dx, dy = int(round(f * bw * math.cos(angle))), int(round(f * bh * math.sin(angle)))
        moved = shifted(mask, dx, dy)
        kept = moved.sum() / xs.size
        overlap = (moved & mask).sum() / xs.size
        if kept > 0.6 and overlap < max(0.2, 1.2 - reach[0]):
            return moved
        if kept > best_kept and overlap < 0.6:
            best, best_kept = moved, kept
    return best


def partial(mask: np.ndarray, rng: np.random.Generator, cut: float = 0.5) -> np.ndarray:
    """A ``cut`` share of the object (half by default) cut away by a straight line at any
    angle."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return mask
    angle = rng.uniform(0, 2 * math.pi)
    along = xs * math.cos(angle) + ys * math.sin(angle)
    keep = along > np.quantile(along, cut)
    out = np.zeros_like(mask)
    out[ys[keep], xs[keep]] = True
    return out


@dataclass(frozen=True)
class Severity:
    """How blatant the faults are and how noisy the clean frames: ``Severity()`` is the
    issue's definition; ``HARD`` a stress test beyond it."""

    noise: float = 0.015  # boundary wobble, share of the object's size
    swap_reach: tuple[float, float] = (1.0, 1.6)
    cut: float = 0.5


HARD = Severity(noise=0.03, swap_reach=(0.5, 1.0), cut=0.3)


def inject(mask: np.ndarray, kind: str, rng: np.random.Generator,
           severity: Severity = Severity()) -> np.ndarray:
    if kind == "lost":
        return np.zeros_like(mask)
    if kind == "swap":
        return swap(mask, rng, severity.swap_reach)
    if kind == "partial":
        return partial(mask, rng, severity.cut)
    if kind == "full_frame":
        return np.ones_like(mask)
    raise ValueError(f"unknown fault kind {kind!r}")


def jitter(mask: np.ndarray, rng: np.random.Generator, relative: float = 0.015) -> np.ndarray:
    """A tracker's frame-to-frame wobble: the boundary grows or shrinks by up to
    ``relative`` of the object's size (√area; at least a pixel), and the mask shifts by up
    to one pixel."""
    area = int(mask.sum())
    if not area:
        return mask
    max_px = max(1, int(round(relative * math.sqrt(area))))
    k = int(rng.integers(-max_px, max_px + 1))
    m = mask.astype(np.uint8)
    if k:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(k) + 1, 2 * abs(k) + 1))
        m = cv2.dilate(m, kernel) if k > 0 else cv2.erode(m, kernel)
    out = shifted(m.astype(bool), int(rng.integers(-1, 2)), int(rng.integers(-1, 2)))
    return out if out.any() else mask


def plan_faults(frames: int, rng: np.random.Generator, every: int = 8, max_length: int = 3,
                protect: int = 1, kinds: tuple[str, ...] = KINDS) -> list[Fault]:
    """About one fault per ``every`` frames after the first ``protect`` (the prompted
    frame), lengths 1..``max_length`` (half of them single frames), at least two clean frames
    between faults, kinds in turn from a random start so every kind is represented."""
    faults: list[Fault] = []
    f = protect + int(rng.integers(1, every))
    k = int(rng.integers(len(kinds)))
    while f < frames - 1:
        length = 1 if rng.random() < 0.5 else int(rng.integers(2, max_length + 1))
        length = min(length, frames - 1 - f)
        faults.append(Fault(kinds[k % len(kinds)], f, length, int(rng.integers(1 << 30))))
        k += 1
        f += length + 2 + int(rng.integers(0, 2 * every - 3))
    return faults


@dataclass
class FaultyClip(GroundTruthClip):
    """A ground-truth clip whose masks carry tracker noise and the given faults."""

    faults: list[Fault] = field(default_factory=list)
    noise_seed: int | None = 0
    severity: Severity = Severity()

    def mask(self, frame: int, label: int) -> np.ndarray:
        m = super().mask(frame, label)
        if label == 0:
            return m
        if self.noise_seed is not None and frame > 0:
            m = jitter(m, np.random.default_rng((self.noise_seed, frame)), self.severity.noise)
        for fault in self.faults:
            if frame in fault.frames:
                rng = np.random.default_rng((fault.seed, frame - fault.start))
                m = inject(m, fault.kind, rng, self.severity)
        return m

    def faulty_frames(self) -> set[int]:
        return {f for fault in self.faults for f in fault.frames}


def every_nth(clip: GroundTruthClip, n: int) -> GroundTruthClip:
    """The clip with every ``n``-th frame: n times the motion between frames."""
    return GroundTruthClip(clip.frames[::n], clip.labels[::n])


def synthetic_track(shape: np.ndarray, image: np.ndarray, frames: int,
                    rng: np.random.Generator) -> GroundTruthClip:
    """``shape`` (a bool mask) moving smoothly over ``image``: drifting at up to ~1.5% of
    the frame width a frame, turning up to 1.5° and scaling up to 2% a frame, bouncing off
    the frame's edges."""
    h, w = shape.shape
    ys, xs = np.nonzero(shape)
    cx, cy = xs.mean(), ys.mean()
    pos = np.array([cx, cy])
    vel = rng.normal(0, 0.006 * w, 2)
    angle, scale = 0.0, 1.0
    spin, grow = rng.normal(0, 0.6), rng.normal(0, 0.008)
    half = np.array([xs.max() - xs.min(), ys.max() - ys.min()]) / 2
    labels = []
    for _ in range(frames):
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, scale)
        m[:, 2] += pos - np.array([cx, cy])
        warped = cv2.warpAffine(shape.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
        labels.append(warped.astype(np.int32))
        vel = np.clip(vel + rng.normal(0, 0.002 * w, 2), -0.015 * w, 0.015 * w)
        pos = pos + vel
        for d, limit in ((0, w), (1, h)):
            lo, hi = half[d] * scale, limit - half[d] * scale
            if pos[d] < lo or pos[d] > hi:
                vel[d] = -vel[d]
                pos[d] = min(max(pos[d], lo), hi)
        spin = float(np.clip(spin + rng.normal(0, 0.2), -1.5, 1.5))
        grow = float(np.clip(grow + rng.normal(0, 0.003), -0.02, 0.02))
        angle += spin
        scale = float(np.clip(scale * (1 + grow), 0.6, 1.6))
    return GroundTruthClip([image] * frames, labels)


# == measuring the detector ==================================================================
@dataclass
class Tally:
    """Faults injected and found per kind; clean frames and the false alarms among them."""

    injected: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    faulty_frames: int = 0
    faulty_flagged: int = 0
    clean: int = 0
    false_alarms: int = 0
    tracks: int = 0

    def add(self, other: Tally) -> None:
        self.injected.update(other.injected)
        self.found.update(other.found)
        for name in ("faulty_frames", "faulty_flagged", "clean", "false_alarms", "tracks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def centre(mask: np.ndarray) -> tuple[float, float]:
    """A point deep inside the mask, where a user clicks."""
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x) + 0.5, float(y) + 0.5


def track_with_faults(clip: GroundTruthClip, faults: list[Fault], seed: int | None,
                      rules: SuspectRules | None = None, severity: Severity = Severity()) -> Tally:
    """One object clicked on frame 0 and tracked forward by the ground-truth engine, with
    ``faults`` (and noise from ``seed``) injected, written into a document as the editor
    does; the detector's verdict tallied. A fault is found when one of its frames is flagged."""
    faulty = FaultyClip(clip.frames, clip.labels, faults, seed, severity)
    w, h = clip.size
    n = len(clip.frames)
    doc = Document(VideoInfo(Path("/bench/clip.mp4"), w, h, n, Fraction(24), 1, "sha256:bench"))
    obj = doc.add_object("object").id
    session = GroundTruthSession(faulty)
    x, y = centre(clip.mask(0, 1))
    with doc.edit_group("Click"):
        doc.add_point(obj, 0, x, y)
        answer = session.add_points(0, obj, [[x, y]], [1])
        record_result(doc, 0, {obj: answer.masks[obj]}, answer.quality, "Segment", amend=True)
    with doc.edit_group("Track forward"):
        for r in session.propagate(start=0, direction="forward"):
            record_result(doc, r.frame, {o: r.masks[o] for o in r.computed}, r.quality, "Track")
    rules = rules or SuspectRules()
    doc.set_review_threshold(rules.threshold)  # the document's threshold is the one that counts
    review = Review(doc, rules)
    flagged = {s.frame for s in review.track(obj).suspects}
    review.close()

    t = Tally(tracks=1)
    bad = faulty.faulty_frames()
    for fault in faults:
        t.injected[fault.kind] += 1
        t.found[fault.kind] += bool(flagged & set(fault.frames))
    t.faulty_frames = len(bad)
    t.faulty_flagged = len(flagged & bad)
    clean = set(range(1, n)) - bad
    t.clean = len(clean)
    t.false_alarms = len(flagged & clean)
    return t
