"""The image encoder: Hiera trunk plus a feature pyramid neck.

The neck projects every stage to ``d_model`` channels and adds upsampled coarse features into
the stride-16 level only (top-down levels 2, 3). The coarsest level is dropped ("scalp"):
what remains is stride 4 and 8 (high-resolution features for the mask decoder) and stride 16
(the image embedding the prompts and memories attend to).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .config import ModelConfig
from .hiera import Hiera
from .position import SinePositionEncoding


@dataclass
class ImageFeatures:
    """What one encoded image gives the rest of the model.

    ``embedding`` is the stride-16 map (B, 256, H/16, W/16); ``high_res`` the stride-4 and -8
    maps already projected by the decoder's ``conv_s0``/``conv_s1`` (32 and 64 channels);
    ``pos`` the sine encoding of the embedding.
    """

    embedding: torch.Tensor
    high_res: tuple[torch.Tensor, torch.Tensor]
    pos: torch.Tensor

    def select(self, index: int | slice | torch.Tensor) -> ImageFeatures:
        return ImageFeatures(
            self.embedding[index],
            (self.high_res[0][index], self.high_res[1][index]),
            self.pos[index],
        )

    def expand(self, batch: int) -> ImageFeatures:
        """The same image for ``batch`` objects (views, no copies)."""
        return ImageFeatures(
            self.embedding.expand(batch, -1, -1, -1),
            tuple(f.expand(batch, -1, -1, -1) for f in self.high_res),  # type: ignore[arg-type]
            self.pos.expand(batch, -1, -1, -1),
        )

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> ImageFeatures:
        return ImageFeatures(
            self.embedding.to(device=device, dtype=dtype),
            tuple(f.to(device=device, dtype=dtype) for f in self.high_res),  # type: ignore[arg-type]
            self.pos.to(device=device, dtype=dtype),
        )

    @property
    def nbytes(self) -> int:
        tensors = (self.embedding, *self.high_res, self.pos)
        return sum(t.numel() * t.element_size() for t in tensors)


class _Lateral(nn.Module):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class FpnNeck(nn.Module):
    top_down_levels = (2, 3)

    def __init__(self, channels: tuple[int, ...], d_model: int) -> None:
        super().__init__()
        # convs[0] takes the coarsest stage (checkpoint order).
        self.convs = nn.ModuleList(_Lateral(c, d_model) for c in reversed(channels))
        self.position_encoding = SinePositionEncoding(d_model)

    def forward(self, stages: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(stages) - 1
        out: list[torch.Tensor] = [stages[0]] * len(stages)
        prev = None
        for i in range(n, -1, -1):
            lateral = self.convs[n - i](stages[i])
            if i in self.top_down_levels and prev is not None:
                prev = lateral + F.interpolate(prev, scale_factor=2.0, mode="nearest")
            else:
                prev = lateral
            out[i] = prev
        return out


class ImageEncoder(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.trunk = Hiera(config.hiera)
        self.neck = FpnNeck(config.hiera.channels, config.d_model)

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Normalised images (B, 3, S, S) -> ([stride 4, 8, 16] maps, position of stride 16)."""
        levels = self.neck(self.trunk(images))[:-1]  # the coarsest level only feeds the top-down path
        return levels, self.neck.position_encoding(levels[-1])
