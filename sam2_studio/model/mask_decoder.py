"""The mask decoder: prompt tokens and image features -> mask logits, IoU, object score.

Output tokens: one object-score token, one IoU token and four mask tokens (one single-mask
output, three multimask outputs for ambiguous prompts). The upscaled image features are
mixed with the stride-8 and stride-4 features before each 2x upsampling, and each mask token
becomes, through its own MLP, the weights of a dot product with every pixel of that map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import MLP, LayerNorm2d
from .transformer import TwoWayTransformer


@dataclass
class DecoderOutput:
    masks: torch.Tensor  # (B, M, 4h, 4w) low-resolution logits
    iou: torch.Tensor  # (B, M) predicted IoU
    tokens: torch.Tensor  # (B, M', C) mask tokens (for object pointers)
    object_score: torch.Tensor  # (B, 1) logit that the object is present


class MaskDecoder(nn.Module):
    num_mask_tokens = 4

    def __init__(self, dim: int = 256, stability_delta: float = 0.05, stability_thresh: float = 0.98) -> None:
        super().__init__()
        self.transformer = TwoWayTransformer(depth=2, dim=dim, num_heads=8, mlp_dim=2048)
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.obj_score_token = nn.Embedding(1, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, num_layers=3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(dim, 256, self.num_mask_tokens, num_layers=3, sigmoid_output=True)
        self.pred_obj_score_head = MLP(dim, dim, 1, num_layers=3)
        self.stability_delta = stability_delta
        self.stability_thresh = stability_thresh

    def _predict(
        self,
        image: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        b = sparse.shape[0]
        out_tokens = torch.cat([self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight], 0)
        tokens = torch.cat([out_tokens.unsqueeze(0).expand(b, -1, -1), sparse], dim=1)
        if image.shape[0] != b:  # one image, several prompt sets
            image = image.expand(b, -1, -1, -1)
            high_res = tuple(f.expand(b, -1, -1, -1) for f in high_res)  # type: ignore[assignment]
        src = image + dense
        pos = image_pe.expand(b, -1, -1, -1)
        _, c, h, w = src.shape
        hs, src = self.transformer(src, pos, tokens)
        score_token, iou_token = hs[:, 0], hs[:, 1]
        mask_tokens = hs[:, 2 : 2 + self.num_mask_tokens]
        src = src.transpose(1, 2).reshape(b, c, h, w)
        up1, norm, act1, up2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res
        x = act1(norm(up1(src) + feat_s1))
        x = act2(up2(x) + feat_s0)
        weights = torch.stack([mlp(mask_tokens[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], 1)
        _, cx, hx, wx = x.shape
        masks = (weights @ x.view(b, cx, hx * wx)).view(b, -1, hx, wx)
        return masks, self.iou_prediction_head(iou_token), mask_tokens, self.pred_obj_score_head(score_token)

    def stability(self, logits: torch.Tensor) -> torch.Tensor:
        """How little the mask's area changes when the threshold moves by +-delta."""
        flat = logits.flatten(-2)
        inner = (flat > self.stability_delta).sum(-1).float()
        outer = (flat > -self.stability_delta).sum(-1).float()
        return torch.where(outer > 0, inner / outer.clamp(min=1), torch.ones_like(inner))

    def forward(
        self,
        image: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
        multimask: bool,
    ) -> DecoderOutput:
        """With ``multimask`` the three ambiguity-aware masks; otherwise one mask.

        The single mask is the single-mask output when it is stable, else the best of the
        three by predicted IoU (the official choice for several clicks and for tracking).
        """
        masks, iou, tokens, score = self._predict(image, image_pe, sparse, dense, high_res)
        if multimask:
            return DecoderOutput(masks[:, 1:], iou[:, 1:], tokens[:, 1:], score)
        best = iou[:, 1:].argmax(dim=-1)
        rows = torch.arange(masks.shape[0], device=masks.device)
        best_masks = masks[:, 1:][rows, best].unsqueeze(1)
        best_iou = iou[:, 1:][rows, best].unsqueeze(1)
        stable = self.stability(masks[:, :1]) >= self.stability_thresh  # (B, 1)
        out_masks = torch.where(stable[..., None, None], masks[:, :1], best_masks)
        out_iou = torch.where(stable, iou[:, :1], best_iou)
        # The object pointer always comes from the single-mask token here.
        return DecoderOutput(out_masks, out_iou, tokens[:, :1], score)
