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


def candidate_agreement(multi_masks: torch.Tensor, best_index: torch.Tensor) -> torch.Tensor:
    """Per object, the mean IoU between the chosen candidate mask and the other candidates.

    ``multi_masks`` (B, M, h, w) logits, ``best_index`` (B,). Near 1: every candidate is
    the same region, the prompt or memory is unambiguous; low: the candidates cover
    different regions, the model hesitates between them. NaN where there is one candidate.
    Stays on the device (no host sync): the caller converts it with its other numbers.
    """
    b, m = multi_masks.shape[:2]
    if m < 2:
        return torch.full((b,), float("nan"), device=multi_masks.device)
    fg = (multi_masks > 0).flatten(2).float()  # (B, M, P)
    chosen = fg[torch.arange(b, device=fg.device), best_index.long()]  # (B, P)
    inter = torch.einsum("bmp,bp->bm", fg, chosen)
    union = fg.sum(-1) + chosen.sum(-1, keepdim=True) - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
    others = torch.ones_like(iou, dtype=torch.bool)
    others[torch.arange(b, device=fg.device), best_index.long()] = False
    return (iou * others).sum(-1) / (m - 1)
