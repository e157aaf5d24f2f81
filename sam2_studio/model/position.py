"""Position encodings: 2D sine (neck, memory), random Fourier (prompts), 1D sine, 2D rotary."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn


@lru_cache(maxsize=64)
def on_device(make, *args, device: torch.device, dtype: torch.dtype) -> torch.Tensor:  # noqa: ANN001
    """``make(*args)`` (a CPU table) moved to ``device`` once and cached.

    Copying a table from host memory at every call makes every frame wait for the GPU to
    catch up (a blocking copy); fixed tables go over once. Made outside inference mode so
    the cached tensor serves both inference and autograd callers.
    """
    with torch.inference_mode(False), torch.no_grad():
        value = make(*args)
        if isinstance(value, tuple):
            return tuple(v.to(device=device, dtype=dtype) for v in value)  # type: ignore[return-value]
        return value.to(device=device, dtype=dtype)


@lru_cache(maxsize=16)
def _sine_2d(channels: int, height: int, width: int, temperature: float) -> torch.Tensor:
    half = channels // 2
    scale = 2 * math.pi
    eps = 1e-6
    y = torch.arange(1, height + 1, dtype=torch.float32)
    x = torch.arange(1, width + 1, dtype=torch.float32)
    y = y / (height + eps) * scale
    x = x / (width + eps) * scale
    dim_t = torch.arange(half, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / half)
    px = x[:, None] / dim_t  # (W, half)
    py = y[:, None] / dim_t  # (H, half)
    px = torch.stack((px[:, 0::2].sin(), px[:, 1::2].cos()), dim=2).flatten(1)
    py = torch.stack((py[:, 0::2].sin(), py[:, 1::2].cos()), dim=2).flatten(1)
    pos = torch.cat(
        (py[:, None, :].expand(height, width, half), px[None, :, :].expand(height, width, half)),
        dim=2,
    )
    return pos.permute(2, 0, 1).contiguous()  # (C, H, W)


class SinePositionEncoding(nn.Module):
    """The normalised 2D sine encoding of DETR: half the channels for y, half for x.

    It depends only on the map's size, so it is computed once per size and cached.
    """

    def __init__(self, channels: int, temperature: float = 10000.0) -> None:
        super().__init__()
        self.channels = channels
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        pos = on_device(_sine_2d, self.channels, h, w, self.temperature, device=x.device, dtype=x.dtype)
        return pos.unsqueeze(0).expand(b, -1, -1, -1)


class RandomFourierEncoding(nn.Module):
    """Positions through a fixed random Gaussian projection (the prompt encoder's encoding)."""

    def __init__(self, num_feats: int = 128, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn(2, num_feats))

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        """Coordinates normalised to [0, 1] -> features (..., 2 * num_feats)."""
        coords = 2 * coords - 1
        coords = coords @ self.positional_encoding_gaussian_matrix.to(coords.dtype)
        coords = 2 * math.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    def grid(self, height: int, width: int) -> torch.Tensor:
        """Encoding of every pixel centre of an ``height x width`` grid, (C, H, W)."""
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
        xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
        coords = torch.stack(
            (xs[None, :].expand(height, width), ys[:, None].expand(height, width)), dim=-1
        )
        return self.encode(coords).permute(2, 0, 1)

    def points(self, coords: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """Encoding of pixel coordinates (x, y) in an image of ``(height, width)``."""
        h, w = image_size
        norm = coords.clone().float()
        norm[..., 0] = norm[..., 0] / w
        norm[..., 1] = norm[..., 1] / h
        return self.encode(norm)


def sine_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """1D sine encoding of (fractional) positions: sines then cosines, ``dim`` features."""
    half = dim // 2
    dim_t = torch.arange(half, dtype=torch.float32, device=positions.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / half)
    pe = positions.float().unsqueeze(-1) / dim_t
    return torch.cat([pe.sin(), pe.cos()], dim=-1)


@lru_cache(maxsize=16)
def _axial_rope_tables(dim: int, width: int, height: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    # A quarter of the channel pairs rotate with x, the other with y, at geometric frequencies.
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 4)[: dim // 4].float() / dim))
    t = torch.arange(width * height)
    tx = (t % width).float()
    ty = torch.div(t, width, rounding_mode="floor").float()
    angles = torch.cat([torch.outer(tx, freqs), torch.outer(ty, freqs)], dim=-1)  # (N, dim/2)
    return torch.cos(angles), torch.sin(angles)


class AxialRope:
    """2D rotary position encoding over a ``width x height`` grid of tokens.

    Channels are taken in adjacent pairs and each pair is rotated by an angle that grows with
    the token's x (first half of the pairs) or y (second half). Written with real cos/sin
    tables rather than complex numbers: the same rotation, less copying.
    """

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        self.dim = dim
        self.theta = theta

    def tables(self, num_tokens: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        side = math.isqrt(num_tokens)
        if side * side != num_tokens:
            raise ValueError(f"rotary encoding needs a square token grid, got {num_tokens} tokens")
        return on_device(_axial_rope_tables, self.dim, side, side, self.theta, device=device, dtype=dtype)

    @staticmethod
    def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Rotate ``x`` (..., N, dim) by tables (N, dim/2); N may be a multiple of the table's."""
        n, grid = x.shape[-2], cos.shape[0]
        if n != grid:  # several memory frames: each repeats the grid's rotation (broadcast, no copies)
            return AxialRope.rotate(x.unflatten(-2, (n // grid, grid)), cos, sin).flatten(-3, -2)
        pairs = x.unflatten(-1, (-1, 2))
        x0, x1 = pairs[..., 0], pairs[..., 1]
        out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
        return out.flatten(-2)
