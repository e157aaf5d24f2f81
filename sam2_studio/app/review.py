"""Reviewing a tracked project: which frames to look at, and how sure each frame is.

Between the document (which holds masks, the model's evidence and the checked marks) and
the suspect detector (``project.suspects``, pure): ``Review`` keeps one verdict per object,
recomputed only for objects whose masks, prompts, evidence or checks changed, and answers
the editor's questions: the confidence band of a lane, the list for the review panel, the
next and previous suspect frame. Qt-free; the Qt layer repaints on ``changed``.

Also here: how a tracking result becomes document state (masks and evidence in one step),
shared by the editor's tracker and ``sam2-studio segment``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sam2_studio.project import (Document, MasksEvent, ObjectEvent, PromptsEvent, ReviewEvent,
                                 Signal)
from sam2_studio.project.quality import Evidence
from sam2_studio.project.suspects import Suspect, SuspectRules, TrackReview, TrackSeries, review_track


def evidence_of(quality: Any) -> Evidence | None:
    """The engine's ``FrameQuality`` (or anything with its three fields) as document evidence."""
    if quality is None:
        return None
    return Evidence(_number(quality.object_score), _number(getattr(quality, "iou", None)),
                    _number(getattr(quality, "agreement", None)))


def _number(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def record_result(doc: Document, frame: int, masks: Mapping[int, np.ndarray],
                  quality: Mapping[int, Any], label: str, *, amend: bool = False) -> None:
    """Write a tracked frame's masks and, for the same masks, the model's evidence: one step
    with ``amend`` or inside an open group (a propagation run)."""
    if not masks:
        return
    doc.set_masks({(obj, frame): m for obj, m in masks.items()}, label=label, amend=amend)
    doc.set_evidence({(obj, frame): evidence_of(quality.get(obj)) for obj in masks}, amend=True)


def track_series(doc: Document, object_id: int) -> TrackSeries:
    """One object's tracked frames as the detector reads them."""
    frames = doc.mask_frames(object_id)
    prompted = set(doc.prompt_frames(object_id))
    n = len(frames)
    area = np.zeros(n)
    cx, cy, score, iou, agree = (np.full(n, np.nan) for _ in range(5))
    checked = np.zeros(n, bool)
    for i, f in enumerate(frames):
        g = doc.mask_geometry(object_id, f)
        if g is not None:
            area[i], cx[i], cy[i] = g.area, g.cx, g.cy
        ev = doc.evidence(object_id, f)
        if ev is not None:
            score[i] = _nan(ev.object_score)
            iou[i] = _nan(ev.iou)
            agree[i] = _nan(ev.agreement)
        checked[i] = doc.is_checked(object_id, f)
    return TrackSeries(np.asarray(frames, np.int64), area, cx, cy, score, iou, agree,
                       np.array([f in prompted for f in frames], bool), checked)


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


class Review:
    """Live verdicts over one document (see the module docstring). ``changed`` fires after
    anything that may change them; reading recomputes what is outdated."""

    def __init__(self, doc: Document, rules: SuspectRules | None = None) -> None:
        self.doc = doc
        self._base_rules = rules or SuspectRules()
        self._verdicts: dict[int, TrackReview] = {}
        self.changed: Signal[int | None] = Signal("review changed")  # object id, None: all
        ev = doc.events
        self._disconnect = [
            ev.masks.connect(self._on_frames),
            ev.review.connect(self._on_frames),
            ev.prompts.connect(self._on_frames),
            ev.objects.connect(self._on_objects),
            ev.settings.connect(self._on_settings),
        ]

    def close(self) -> None:
        for disconnect in self._disconnect:
            disconnect()
        self._disconnect = []

    @property
    def rules(self) -> SuspectRules:
        t = self.doc.review_threshold
        if self._base_rules.threshold == t:
            return self._base_rules
        self._base_rules = SuspectRules(**{**self._base_rules.__dict__, "threshold": t})
        return self._base_rules

    # -- invalidation ------------------------------------------------------------------------
    def _on_frames(self, event: MasksEvent | ReviewEvent | PromptsEvent) -> None:
        self._verdicts.pop(event.object_id, None)
        self.changed.emit(event.object_id)

    def _on_objects(self, event: ObjectEvent) -> None:
        self._verdicts.pop(event.object_id, None)
        self.changed.emit(event.object_id)

    def _on_settings(self, name: str) -> None:
        if name == "review_threshold":
            self._verdicts.clear()
            self.changed.emit(None)

    # -- reading -------------------------------------------------------------------------------
    def track(self, object_id: int) -> TrackReview:
        verdict = self._verdicts.get(object_id)
        if verdict is None:
            verdict = review_track(track_series(self.doc, object_id), self.rules, object_id)
            self._verdicts[object_id] = verdict
        return verdict

    def suspects(self, include_checked: bool = False) -> list[Suspect]:
        """Every object's suspect frames, by frame, then in the objects' order."""
        order = {o.id: i for i, o in enumerate(self.doc.objects)}
        out = [s for o in self.doc.objects for s in self.track(o.id).suspects
               if include_checked or not s.checked]
        return sorted(out, key=lambda s: (s.frame, order[s.object_id]))

    def at(self, frame: int, object_id: int | None = None) -> list[Suspect]:
        """The open suspects on ``frame`` (of one object, or all)."""
        return [s for s in self.suspects() if s.frame == frame
                and (object_id is None or s.object_id == object_id)]

    def next(self, frame: int, object_id: int | None, forward: bool = True) -> Suspect | None:
        """The suspect after (or before) the one at ``frame`` and ``object_id``, in the order
        of ``suspects()``; wraps around nothing: None at the end."""
        order = {o.id: i for i, o in enumerate(self.doc.objects)}
        if object_id in order:
            here = (frame, order[object_id])
        else:  # no object: every suspect on this frame counts as ahead
            here = (frame, -1 if forward else len(order))
        items = self.suspects()
        if forward:
            return next((s for s in items if (s.frame, order[s.object_id]) > here), None)
        return next((s for s in reversed(items) if (s.frame, order[s.object_id]) < here), None)

    def counts(self) -> tuple[int, int]:
        """(open suspects, checked ones)."""
        every = self.suspects(include_checked=True)
        checked = sum(1 for s in every if s.checked)
        return len(every) - checked, checked
