"""Interactive segmentation of one image: encode once, then answer prompts in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .image_encoder import ImageFeatures
from .prompt_encoder import LABEL_BOX_BR, LABEL_BOX_TL
from .sam2_model import Sam2Model

LOGIT_CLAMP = 32.0  # low-res logits fed back as mask prompts are clamped like the official predictor


@dataclass
class Prediction:
    """Masks at the image's resolution, their predicted IoU, and low-res logits to feed back."""

    masks: np.ndarray  # (M, H, W) bool
    scores: np.ndarray  # (M,) predicted IoU
    logits: np.ndarray  # (M, S/4, S/4) float32, clamped to +-32
    object_score: float  # > 0: the model thinks the object is present
    full_logits: np.ndarray | None = None  # (M, H, W) float32, unclamped: only when asked for

    @property
    def best(self) -> int:
        return int(np.argmax(self.scores))


def _as_points(points, labels, box) -> tuple[np.ndarray | None, np.ndarray | None]:  # noqa: ANN001
    coords, labs = [], []
    if box is not None:
        b = np.asarray(box, dtype=np.float32).reshape(-1)
        if b.shape != (4,):
            raise ValueError(f"a box is (x0, y0, x1, y1), got {np.asarray(box).shape}")
        coords.append(b.reshape(2, 2))
        labs.append(np.array([LABEL_BOX_TL, LABEL_BOX_BR], dtype=np.int32))
    if points is not None:
        p = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        if labels is None:
            raise ValueError("points need labels (1 positive, 0 negative)")
        lab = np.asarray(labels, dtype=np.int32).reshape(-1)
        if lab.shape[0] != p.shape[0]:
            raise ValueError(f"{p.shape[0]} points but {lab.shape[0]} labels")
        if np.any((lab != 0) & (lab != 1)):
            raise ValueError("point labels must be 1 (positive) or 0 (negative)")
        coords.append(p)
        labs.append(lab)
    if not coords:
        return None, None
    return np.concatenate(coords), np.concatenate(labs)


class ImagePredictor:
    """``set_image`` caches the image's features; ``predict`` runs the prompt path only."""

    def __init__(self, model: Sam2Model) -> None:
        self.model = model
        self._features: ImageFeatures | None = None
        self._size: tuple[int, int] | None = None  # (height, width) of the image

    @property
    def is_image_set(self) -> bool:
        return self._features is not None

    def set_image(self, image: np.ndarray) -> None:
        """Encode an RGB uint8 image (H, W, 3) of any size."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        m = self.model
        with m.inference():
            feats = m.encode_image(m.preprocess(image))
            feats.embedding = m.without_memory(feats.embedding)
        self._features = feats
        self._size = image.shape[:2]

    def reset(self) -> None:
        self._features = None
        self._size = None

    def predict(
        self,
        points=None,  # noqa: ANN001 - array-like (N, 2) in image pixels (x, y)
        labels=None,  # noqa: ANN001 - array-like (N,) 1 positive / 0 negative
        box=None,  # noqa: ANN001 - (x0, y0, x1, y1) in image pixels
        mask_input: np.ndarray | None = None,
        multimask: bool = True,
        full_logits: bool = False,
    ) -> Prediction:
        """Masks for a prompt. ``multimask`` gives three candidates for ambiguous prompts;
        without it one mask is returned: the single-mask output when it is stable, else
        the best candidate (the official choice). ``full_logits`` also returns the logits at
        the image's resolution, unclamped (the masks are where they are > 0): what a
        caller needs to blend or soften an edge.
        """
        if self._features is None or self._size is None:
            raise RuntimeError("call set_image() before predict()")
        coords, labs = _as_points(points, labels, box)
        if coords is None and mask_input is None:
            raise ValueError("give at least one point, a box or a mask")
        m, (h, w) = self.model, self._size
        dev = m.device
        pts = lab = None
        if coords is not None:
            scale = np.array([m.image_size / w, m.image_size / h], dtype=np.float32)
            pts = torch.from_numpy(coords * scale).to(dev).unsqueeze(0)
            lab = torch.from_numpy(labs).to(dev).unsqueeze(0)
        mask_t = None
        if mask_input is not None:
            mask_t = torch.as_tensor(np.asarray(mask_input, dtype=np.float32), device=dev)
            mask_t = mask_t.reshape(1, 1, *mask_t.shape[-2:])
        f = self._features
        with m.inference():
            out = m.decode(f.embedding, f.high_res, pts, lab, mask_t, multimask=multimask, gate_absent=False)
            low = out.multi_masks.float()
            full = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
        return Prediction(
            masks=(full[0] > 0).cpu().numpy(),
            scores=out.ious[0].float().cpu().numpy(),
            logits=low[0].clamp(-LOGIT_CLAMP, LOGIT_CLAMP).cpu().numpy(),
            object_score=float(out.object_score[0, 0]),
            full_logits=full[0].float().cpu().numpy() if full_logits else None,
        )
