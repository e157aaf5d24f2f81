"""Turns clicks, boxes and mask prompts into the tokens and dense map the decoder reads.

Points are encoded at their pixel centre with the random Fourier encoding plus a learned
embedding per label: 1 positive, 0 negative, 2 and 3 a box's top-left and bottom-right
corners, -1 padding. A mask prompt (logits at 1/4 of the input size) is convolved down to
the embedding size; without one, a learned "no mask" vector fills the map.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import LayerNorm2d
from .position import RandomFourierEncoding

LABEL_PAD, LABEL_NEGATIVE, LABEL_POSITIVE, LABEL_BOX_TL, LABEL_BOX_BR = -1, 0, 1, 2, 3


class PromptEncoder(nn.Module):
    def __init__(self, embed_dim: int, embedding_size: int, image_size: int, mask_channels: int = 16) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.embedding_size = (embedding_size, embedding_size)
        self.image_size = (image_size, image_size)
        self.mask_input_size = (4 * embedding_size, 4 * embedding_size)
        self.pe_layer = RandomFourierEncoding(embed_dim // 2)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_channels // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_channels // 4),
            nn.GELU(),
            nn.Conv2d(mask_channels // 4, mask_channels, kernel_size=2, stride=2),
            LayerNorm2d(mask_channels),
            nn.GELU(),
            nn.Conv2d(mask_channels, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)
        self._dense_pe: torch.Tensor | None = None

    def dense_pe(self) -> torch.Tensor:
        """Position encoding of every embedding pixel, (1, C, H, W); fixed, so cached."""
        pe = self._dense_pe
        weight = self.pe_layer.positional_encoding_gaussian_matrix
        if pe is None or pe.device != weight.device or self.training:
            pe = self.pe_layer.grid(*self.embedding_size).unsqueeze(0)
            self._dense_pe = pe
        return pe

    def _apply(self, fn, recurse: bool = True):  # noqa: ANN001 - nn.Module hook
        self._dense_pe = None  # weights moved or changed: recompute the cached encoding
        return super()._apply(fn, recurse)

    def load_state_dict(self, *args, **kwargs):  # noqa: ANN002, ANN003
        self._dense_pe = None
        return super().load_state_dict(*args, **kwargs)

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Points (B, N, 2) in input-image pixels with labels (B, N) -> tokens (B, N + 1, C).

        A padding point is always appended, as the model was trained with it.
        """
        b = coords.shape[0]
        coords = torch.cat([coords + 0.5, coords.new_zeros(b, 1, 2)], dim=1)
        labels = torch.cat([labels, -labels.new_ones(b, 1)], dim=1)
        emb = self.pe_layer.points(coords, self.image_size)
        emb = torch.where((labels == LABEL_PAD)[..., None], torch.zeros_like(emb), emb)
        table = torch.cat(
            [self.not_a_point_embed.weight] + [e.weight for e in self.point_embeddings], dim=0
        )  # row = label + 1
        idx = (labels.long() + 1).clamp(0, 4)
        return emb + table[idx]

    def forward(
        self, coords: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> sparse tokens (B, N + 1, C) and the dense map (B, C, H, W)."""
        sparse = self.embed_points(coords, labels)
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                coords.shape[0], -1, *self.embedding_size
            )
        return sparse, dense
