"""Suspect frames: where a tracked object probably went wrong, found from evidence alone.

Trackers fail in a few recognisable ways: the object is lost (the mask empties), it jumps
to a look-alike (the mask moves by about its own size), part of it is cut away or a whole
region is swallowed (the area changes abruptly), or the model itself is unsure. This
module scores every tracked frame of one object with a confidence in 0..1 and lists the
frames below the user's threshold, with their reasons. Pure numpy, no Qt, no model.

How the geometry is judged: consecutive tracked frames are compared (area ratio, centroid
shift in units of the object's size, both mapped to a score that is 0.5 exactly at the
rule's limit). A change splits the track into runs. A short run (``max_fault_frames``)
after which the object comes back to where and how it was before is a fault: all its
frames are flagged, the return is not (it is the object being right again). Any other
change is flagged once, at its onset: the object really changed, or the tracker followed
something else from there on; either way a person should look once. Vanishing and
unexplained reappearing score 0. A frame is suspect exactly when its confidence is below
the threshold. Prompted frames are the user's own and never flagged; frames a person
marked checked are reported as such.

Model evidence, where there is any: the object-score logit's certainty (``tanh(|s| /
score_scale)``, 0 when the head cannot decide between present and absent), the predicted
IoU of a present mask, and the square root of the candidates' agreement (candidates are
often nested parts of the object, so only strong disagreement counts). Missing numbers (a
painted mask, a single candidate, an engine without heads) count as no doubt: the
geometry alone decides.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

DEFAULT_THRESHOLD = 0.5


class Reason(str, enum.Enum):
    VANISHED = "vanished"
    REAPPEARED = "reappeared"
    JUMP = "jump"
    AREA = "area"
    UNSURE = "unsure"

    @property
    def text(self) -> str:
        return REASON_TEXT[self]


REASON_TEXT = {
    Reason.VANISHED: "vanishes",
    Reason.REAPPEARED: "reappears",
    Reason.JUMP: "jumps",
    Reason.AREA: "area changes abruptly",
    Reason.UNSURE: "the model is unsure",
}


@dataclass(frozen=True)
class SuspectRules:
    """The detector's limits. Each geometric limit scores exactly 0.5, so ``threshold``
    (the user's slider) moves every criterion together: lower finds fewer, higher more.
    The defaults were tuned with ``bench/suspects.py`` (see docs/review.md)."""

    threshold: float = DEFAULT_THRESHOLD  # confidence below this is suspect
    area_ratio: float = 1.5  # area growing or shrinking by this factor from one tracked frame to the next
    jump: float = 0.5  # centroid moving this many object sizes (√area) from one tracked frame to the next
    max_fault_frames: int = 5  # a run at most this long, after which the object is back as before, is a fault
    max_gap: int = 8  # tracked frames farther apart than this are not compared
    score_scale: float = 2.0  # object-score logit |s| = 1.1 × scale gives certainty 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must lie in 0..1, got {self.threshold}")
        if self.area_ratio <= 1.0 or self.jump <= 0.0 or self.score_scale <= 0.0:
            raise ValueError("area_ratio must exceed 1, jump and score_scale be positive")
        if self.max_fault_frames < 1 or self.max_gap < 1:
            raise ValueError("max_fault_frames and max_gap are at least 1")


@dataclass(frozen=True)
class TrackSeries:
    """One object's tracked frames (sorted, those with a mask) as parallel arrays; NaN
    where the model gave no such number."""

    frames: np.ndarray  # int
    area: np.ndarray  # pixels; 0 = the object is absent
    cx: np.ndarray
    cy: np.ndarray
    object_score: np.ndarray
    iou: np.ndarray
    agreement: np.ndarray
    prompted: np.ndarray  # bool: the user prompted or painted this frame
    checked: np.ndarray  # bool: a person marked this frame's mask checked

    @classmethod
    def build(cls, frames: list[int], area: list[int], cx: list[float], cy: list[float],
              object_score: list[float] | None = None, iou: list[float] | None = None,
              agreement: list[float] | None = None, prompted: list[bool] | None = None,
              checked: list[bool] | None = None) -> TrackSeries:
        n = len(frames)
        nan = [math.nan] * n
        return cls(np.asarray(frames, np.int64), np.asarray(area, np.float64),
                   np.asarray(cx, np.float64), np.asarray(cy, np.float64),
                   np.asarray(object_score if object_score is not None else nan, np.float64),
                   np.asarray(iou if iou is not None else nan, np.float64),
                   np.asarray(agreement if agreement is not None else nan, np.float64),
                   np.asarray(prompted if prompted is not None else [False] * n, bool),
                   np.asarray(checked if checked is not None else [False] * n, bool))

    def __len__(self) -> int:
        return int(self.frames.size)


@dataclass(frozen=True)
class Suspect:
    object_id: int
    frame: int
    reasons: tuple[Reason, ...]
    confidence: float
    checked: bool = False

    @property
    def text(self) -> str:
        return ", ".join(r.text for r in self.reasons)


@dataclass
class TrackReview:
    """The verdict on one object: per tracked frame a confidence, and the suspect frames
    (checked ones included, marked)."""

    object_id: int
    frames: np.ndarray
    confidence: np.ndarray  # 0..1 per tracked frame
    suspects: list[Suspect] = field(default_factory=list)

    def open_suspects(self) -> list[Suspect]:
        return [s for s in self.suspects if not s.checked]

    def confidence_at(self, frame: int) -> float | None:
        i = int(np.searchsorted(self.frames, frame))
        return float(self.confidence[i]) if i < self.frames.size and self.frames[i] == frame else None


# == scoring ===================================================================================
def model_confidence(series: TrackSeries, rules: SuspectRules) -> np.ndarray:
    """Per frame, the least of the model's certainties (1 where it gave no number)."""
    present = series.area > 0
    score = np.where(np.isnan(series.object_score), np.inf, np.abs(series.object_score))
    certainty = np.tanh(score / rules.score_scale)
    iou = np.where(present & ~np.isnan(series.iou), np.clip(series.iou, 0.0, 1.0), 1.0)
    agree = np.where(present & ~np.isnan(series.agreement),
                     np.sqrt(np.clip(series.agreement, 0.0, 1.0)), 1.0)
    return np.minimum(np.minimum(certainty, iou), agree)


def continuity(series: TrackSeries, i: int, j: int, rules: SuspectRules) -> tuple[float, Reason]:
    """How well present frames ``i`` and ``j`` (indices) follow each other: 1 alike, 0.5 at
    a rule's limit, towards 0 beyond. Frames further apart may differ more: the shift
    tolerance grows with √(frames apart) (motion), the area tolerance by 10 % a frame (a
    size changes slowly; a cut or a swallowed region does not become plausible with time)."""
    gap = max(1, int(series.frames[j] - series.frames[i]))
    a, b = series.area[i], series.area[j]
    ratio = abs(math.log(b / a))
    s_area = 0.5 ** ((ratio / (math.log(rules.area_ratio) * (1 + 0.1 * (gap - 1)))) ** 2)
    size = math.sqrt((a + b) / 2)
    shift = math.hypot(series.cx[j] - series.cx[i], series.cy[j] - series.cy[i]) / size
    s_jump = 0.5 ** ((shift / (rules.jump * math.sqrt(gap))) ** 2)
    return (s_area, Reason.AREA) if s_area <= s_jump else (s_jump, Reason.JUMP)


@dataclass
class _Run:
    start: int  # series indices, inclusive
    end: int
    present: bool
    trusted: bool  # holds a prompted frame


def _runs(series: TrackSeries, rules: SuspectRules) -> tuple[list[_Run], np.ndarray]:
    """Split the track at every break; also the per-frame continuity with the frame before."""
    n = len(series)
    present = series.area > 0
    step = np.ones(n)
    runs: list[_Run] = []
    for k in range(n):
        cut = True
        if k > 0 and present[k] == present[k - 1]:
            cut = series.frames[k] - series.frames[k - 1] > rules.max_gap
            if not cut and present[k]:
                step[k] = continuity(series, k - 1, k, rules)[0]
                cut = step[k] < rules.threshold
        if cut:
            runs.append(_Run(k, k, bool(present[k]), bool(series.prompted[k])))
        else:
            runs[-1].end = k
            runs[-1].trusted |= bool(series.prompted[k])
    return runs, step


def review_track(series: TrackSeries, rules: SuspectRules | None = None,
                 object_id: int = 0) -> TrackReview:
    """Score and flag one object's track (see the module docstring)."""
    rules = rules or SuspectRules()
    if len(series) == 0:
        return TrackReview(object_id, series.frames, np.zeros(0))
    runs, step = _runs(series, rules)
    judge = _Judge(series, rules, step)
    for run in runs:
        judge.add(run)
    judge.finish()

    model = model_confidence(series, rules)
    confidence = np.minimum(judge.geo, model)
    flags = judge.flags
    unsure = (model < rules.threshold) & ((series.area > 0) | ~np.isnan(series.object_score))
    for i in np.flatnonzero(unsure):
        flags.setdefault(int(i), set()).add(Reason.UNSURE)
    order = list(Reason)
    suspects = [Suspect(object_id, int(series.frames[i]), tuple(sorted(flags[i], key=order.index)),
                        float(confidence[i]), bool(series.checked[i]))
                for i in sorted(flags) if not series.prompted[i] and confidence[i] < rules.threshold]
    return TrackReview(object_id, series.frames, confidence, suspects)


class _Judge:
    """Walks the runs of a track in time order, deciding which changes are faults (a short
    run, then the object is back as before: flag the run) and which are onsets (flag the
    first frame of the change)."""

    def __init__(self, series: TrackSeries, rules: SuspectRules, step: np.ndarray) -> None:
        self.s, self.rules = series, rules
        self.geo = step.copy()  # geometric confidence per frame
        self.flags: dict[int, set[Reason]] = {}
        self.ref: _Run | None = None  # the last run known good
        self.pending: list[_Run] = []  # runs after ``ref`` not judged yet

    def flag(self, i: int, reason: Reason, score: float) -> None:
        self.flags.setdefault(i, set()).add(reason)
        self.geo[i] = min(self.geo[i], score)

    def _gap(self, a: _Run, b: _Run) -> int:
        return int(self.s.frames[b.start] - self.s.frames[a.end])

    def add(self, run: _Run) -> None:
        ref, pending, rules = self.ref, self.pending, self.rules
        if ref is None:  # leading frames: absent until the object first shows
            if run.present:
                if run.start > 0 and not run.trusted:
                    self.flag(run.start, Reason.REAPPEARED, 0.0)
                self.ref = run
            return
        if not run.present:
            pending.append(run)
            return
        if not pending:  # a break from the reference, or a fresh start far from it
            if run.trusted or self._gap(ref, run) > rules.max_gap:
                self.ref = run
            else:
                pending.append(run)
            return
        if self._gap(ref, run) - 1 <= rules.max_fault_frames:
            back, _ = continuity(self.s, ref.end, run.start, rules)
            # back as it was: within the rules' limits, whatever the threshold (a low
            # threshold must not take a faulty frame for the object's return)
            if back >= max(rules.threshold, 0.5):  # a short fault: the object is back as it was
                self._faults()
                self.geo[run.start] = max(self.geo[run.start], back)
                self.ref = run
                return
            if not run.trusted:  # still inside the window of a fault: wait and see
                pending.append(run)
                return
        previous = pending[-1]
        self._resolve()  # too long (or ended by the user's own frame) for a fault
        if run.trusted:
            self.ref = run
        elif not previous.present:  # back after a long absence: is it the same object?
            self.flag(run.start, Reason.REAPPEARED, 0.0)
            self.ref = run
        elif self._gap(previous, run) > rules.max_gap:
            self.ref = run
        else:
            self.ref = previous
            pending.append(run)

    def _faults(self) -> None:
        """The pending runs were a fault: flag every frame of them, each as unlike the
        reference as the change into its run was."""
        assert self.ref is not None
        before = self.ref
        for bad in self.pending:
            into = (continuity(self.s, before.end, bad.start, self.rules)
                    if bad.present and before.present else (0.0, Reason.REAPPEARED))
            for i in range(bad.start, bad.end + 1):
                if not bad.present:
                    self.flag(i, Reason.VANISHED, 0.0)
                    continue
                score, reason = continuity(self.s, self.ref.end, i, self.rules)
                if score >= self.rules.threshold:
                    score, reason = into
                    reason = reason if reason is not Reason.REAPPEARED else Reason.JUMP
                self.flag(i, reason, min(score, into[0]))
            before = bad
        self.pending.clear()

    def _resolve(self) -> None:
        """The pending runs are lasting changes: flag where each begins."""
        before = self.ref
        for run in self.pending:
            i = run.start
            if not run.present:
                self.flag(i, Reason.VANISHED, 0.0)
            elif before is None or not before.present:
                self.flag(i, Reason.REAPPEARED, 0.0)
            else:
                score, reason = continuity(self.s, before.end, i, self.rules)
                self.flag(i, reason, score)
            before = run
        self.pending.clear()

    def finish(self) -> None:
        self._resolve()
