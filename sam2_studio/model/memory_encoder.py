"""The memory encoder: a frame's features fused with its predicted mask into a 64-d memory.

The mask (already scaled to logits-like values) is convolved down 16x, added to a
projection of the image embedding, mixed by two ConvNeXt blocks and projected to
``mem_dim`` channels; the memory's position is a 2D sine encoding.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import LayerNorm2d
from .position import SinePositionEncoding


class MaskDownSampler(nn.Module):
    def __init__(self, dim: int, total_stride: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = 1
        for _ in range(total_stride.bit_length() - 1):  # stride 2 per step
            out = ch * 4
            layers += [nn.Conv2d(ch, out, kernel_size=3, stride=2, padding=1), LayerNorm2d(out), nn.GELU()]
            ch = out
        layers.append(nn.Conv2d(ch, dim, kernel_size=1))
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = nn.functional.layer_norm(y, (y.shape[-1],), self.norm.weight, self.norm.bias, self.norm.eps)
        y = self.pwconv2(nn.functional.gelu(self.pwconv1(y)))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class Fuser(nn.Module):
    def __init__(self, dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(ConvNeXtBlock(dim) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    def __init__(self, dim: int, mem_dim: int) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(dim)
        self.pix_feat_proj = nn.Conv2d(dim, dim, kernel_size=1)
        self.fuser = Fuser(dim)
        self.out_proj = nn.Conv2d(dim, mem_dim, kernel_size=1)
        self.position_encoding = SinePositionEncoding(mem_dim)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, C, h, w) and a mask (B, 1, 16h, 16w) -> (memory, its position)."""
        x = self.pix_feat_proj(features) + self.mask_downsampler(mask)
        x = self.out_proj(self.fuser(x))
        return x, self.position_encoding(x)
