"""The distractor test of SAM2.1++: when is a frame worth keeping as an anchor?

On a frame tracked with multimask output the decoder offers three candidate masks. When the
chosen one is reliable (predicted IoU above ``min_iou``, area within ``area_low``..
``area_high`` of the median of the last ``area_history`` non-empty areas) and another
candidate covers a separate region (its part outside the chosen mask, largest component,
united with the chosen mask, gives a bounding box whose IoU with the chosen mask's box is at
most ``max_box_iou``), something that looks like the target is nearby: a distractor. The
frame then joins the distractor-resolving memory, at most once every ``min_gap`` frames.
Pure numpy on the low-resolution masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class FrameEvidence:
    chosen: np.ndarray  # bool (h, w): the chosen mask
    chosen_iou: float  # its predicted IoU
    alternatives: list[np.ndarray]  # the other candidate masks, bool (h, w)

    @property
    def area(self) -> int:
        return int(self.chosen.sum())


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive pixel box (x0, y0, x1, y1) of a mask, None when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0]) + 1
    iy = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(ix, 0) * max(iy, 0)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def largest_component(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, dtype=bool)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == best


@dataclass(frozen=True)
class DistractorRule:
    min_iou: float = 0.8
    area_low: float = 0.8
    area_high: float = 1.2
    area_history: int = 10
    min_gap: int = 5
    max_box_iou: float = 0.7

    def reliable(self, evidence: FrameEvidence, recent_areas: list[int]) -> bool:
        """Confident and of the usual size. ``recent_areas`` ends with this frame's area."""
        areas = [a for a in recent_areas if a > 0][-self.area_history :]
        if evidence.chosen_iou <= self.min_iou or evidence.area == 0 or len(areas) < 2:
            return False
        ratio = evidence.area / float(np.median(areas))
        return self.area_low <= ratio <= self.area_high

    def distractor_present(self, evidence: FrameEvidence) -> bool:
        chosen_box = bounding_box(evidence.chosen)
        if chosen_box is None:
            return False
        for alt in evidence.alternatives:
            extra = largest_component(alt & ~evidence.chosen)
            if not extra.any():
                continue
            union_box = bounding_box(extra | evidence.chosen)
            if union_box is not None and box_iou(chosen_box, union_box) <= self.max_box_iou:
                return True
        return False
