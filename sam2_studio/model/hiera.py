"""Hiera: the hierarchical vision transformer that is SAM 2's image trunk.

Four stages of transformer blocks; the first block of stages 2-4 pools its queries 2x2, so
resolution halves and width doubles. Most blocks attend inside square windows; a few
"global" blocks attend over the whole map. Positions come from a small background
embedding interpolated to the map plus a window-sized embedding tiled over it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import HieraConfig
from .layers import MLP


def _pool2x2(x: torch.Tensor) -> torch.Tensor:
    """2x2 max pooling of an NHWC tensor (floor for odd sizes)."""
    return F.max_pool2d(x.permute(0, 3, 1, 2), kernel_size=2, stride=2).permute(0, 2, 3, 1)


def _to_windows(x: torch.Tensor, size: int) -> tuple[torch.Tensor, int, int]:
    """NHWC -> (N * windows, size, size, C), zero-padding the map to whole windows."""
    b, h, w, c = x.shape
    ph, pw = (size - h % size) % size, (size - w % size) % size
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.view(b, hp // size, size, wp // size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size, size, c), hp, wp


def _from_windows(x: torch.Tensor, size: int, hp: int, wp: int, h: int, w: int) -> torch.Tensor:
    b = x.shape[0] // ((hp // size) * (wp // size))
    x = x.view(b, hp // size, wp // size, size, size, -1).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, hp, wp, -1)
    return x[:, :h, :w].contiguous() if (hp != h or wp != w) else x


def _residual(branch: torch.Tensor, stream: torch.Tensor) -> torch.Tensor:
    """``stream + branch``. In place into the branch's fresh output when both have one dtype
    (autograd-safe: addition keeps no inputs; one large allocation less); under autocast the
    branch is bf16 and the residual stream stays in fp32, as the official model keeps it."""
    if branch.dtype == torch.promote_types(branch.dtype, stream.dtype):
        return branch.add_(stream)
    return stream + branch


class PatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)  # NHWC


class PooledAttention(nn.Module):
    """Multi-head self-attention whose queries may be max-pooled 2x2 (changing the width)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, pool_queries: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.pool_queries = pool_queries
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).view(b, h * w, 3, self.num_heads, -1)
        q, k, v = qkv.unbind(2)
        if self.pool_queries:
            q = _pool2x2(q.reshape(b, h, w, -1))
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(b, h, w, -1)
        return self.proj(out)


class HieraBlock(nn.Module):
    def __init__(
        self, dim: int, dim_out: int, num_heads: int, window: int, pool: bool, mlp_ratio: float
    ) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window = window  # 0: global attention
        self.pool = pool
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = PooledAttention(dim, dim_out, num_heads, pool_queries=pool)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            # The residual path changes width from the normalised input, then pools like the queries.
            shortcut = self.proj(x)
            if self.pool:
                shortcut = _pool2x2(shortcut)
        h, w = x.shape[1:3]
        if self.window > 0:
            x, hp, wp = _to_windows(x, self.window)
            x = self.attn(x)
            if self.pool:
                # Pooling inside each window halves the window; the map is the pooled shortcut's.
                window = self.window // 2
                h, w = shortcut.shape[1:3]
                hp, wp = h + (window - h % window) % window, w + (window - w % window) % window
            else:
                window = self.window
            x = _from_windows(x, window, hp, wp, h, w)
        else:
            x = self.attn(x)
        x = _residual(x, shortcut)
        return _residual(self.mlp(self.norm2(x)), x)


class Hiera(nn.Module):
    """Returns the four stage outputs (NCHW), highest resolution first."""

    def __init__(self, config: HieraConfig) -> None:
        super().__init__()
        c = config
        self.stage_ends = c.stage_ends
        self.pos_embed = nn.Parameter(torch.zeros(1, c.embed_dim, *c.window_pos_embed_bkg))
        self.pos_embed_window = nn.Parameter(
            torch.zeros(1, c.embed_dim, c.window_pos_embed_size, c.window_pos_embed_size)
        )
        self.patch_embed = PatchEmbed(c.embed_dim)
        pool_blocks = {end + 1 for end in c.stage_ends[:-1]}
        blocks = []
        dim, heads, stage = c.embed_dim, c.num_heads, 0
        for i in range(c.depth):
            # A stage's first block still partitions with the previous stage's window:
            # it pools the queries inside those windows.
            window = 0 if i in c.global_att_blocks else c.window_spec[stage]
            dim_out = dim
            if i in pool_blocks:
                dim_out, heads, stage = dim * 2, heads * 2, stage + 1
            blocks.append(HieraBlock(dim, dim_out, heads, window, i in pool_blocks, c.mlp_ratio))
            dim = dim_out
        self.blocks = nn.ModuleList(blocks)

    def _position(self, h: int, w: int) -> torch.Tensor:
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        reps = (h + win.shape[-2] - 1) // win.shape[-2], (w + win.shape[-1] - 1) // win.shape[-1]
        pos = pos + win.tile(1, 1, *reps)[:, :, :h, :w]
        return pos.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self._position(*x.shape[1:3])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
