"""How sure the model was of one object's mask on one frame: the evidence it computes anyway.

The decoder's heads already say it: the object-score logit (is the object there at all?),
the predicted IoU of the chosen mask (how good does the model think it is?), and, with
multimask output, whether its candidate masks agree with each other. A tracker that is
about to lose its object, or to jump to a look-alike, tends to show it here first, so the
editor keeps these numbers per object and frame (``FrameResult.quality``) and flags the
frames worth a look.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FrameQuality:
    """The model's own evidence about one object's mask on one frame."""

    object_score: float  # logit of the object-score head: > 0 present, near 0 unsure
    iou: float | None = None  # predicted IoU of the chosen mask (1.0 for a mask the user gave)
    agreement: float | None = None  # mean IoU of the chosen candidate with the others; None with one


def nan_to_none(value: float) -> float | None:
    """An agreement as the host keeps it: NaN (one candidate) becomes None."""
    return None if value != value else float(value)


def candidate_agreement(multi_masks: torch.Tensor, best_index: torch.Tensor) -> torch.Tensor:
    """Per object, the mean IoU between the chosen candidate mask and the other candidates.

    ``multi_masks`` (B, M, h, w) logits, ``best_index`` (B,). Near 1: every candidate is
    the same region, the prompt or memory is unambiguous; low: the candidates cover
    different regions, the model hesitates between them. NaN where there is one candidate.
    Stays on the device (no host sync): a tracking step hands it to the results thread with
    its other numbers.
    """
    b, m = multi_masks.shape[:2]
    if m < 2:
        return torch.full((b,), float("nan"), device=multi_masks.device)
    fg = (multi_masks > 0).flatten(2)  # (B, M, P) bool: counts stay exact under autocast
    rows = torch.arange(b, device=fg.device)
    chosen = fg[rows, best_index.long()][:, None]  # (B, 1, P)
    inter = (fg & chosen).sum(-1).float()
    union = (fg | chosen).sum(-1).float()
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
    others = torch.ones_like(iou, dtype=torch.bool)
    others[rows, best_index.long()] = False
    return (iou * others).sum(-1) / (m - 1)
