"""Memory attention: conditions the current frame's features on the memory bank.

Four layers of (self-attention, cross-attention to the memories, feed-forward), pre-norm,
single head of width 256. Both attentions use 2D rotary position encoding over the
feature grid; in the cross-attention every spatial memory frame repeats the grid's rotation,
and the object-pointer tokens at the end of the memory get none.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .position import AxialRope


QUERY_CHUNK = 512  # queries per block in the CPU cross-attention: 256 leaves the GEMM ~10% slower, 1024 costs +60 MB


def attend_low_rank_values(q: torch.Tensor, k: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) @ values, for one head, block by block over the queries.

    Used with the raw 64-d memories as ``values``: the value projection is linear and the
    softmax rows sum to one, so projecting after the weighted sum is the same result with a
    quarter of the multiply-adds of the 256-d product. The fused kernels need values as
    wide as keys; this plain loop is measured faster on CPU (bench/model.py).
    """
    b, n, d = q.shape
    kt = k.transpose(1, 2)
    out = q.new_empty(b, n, values.shape[-1])
    scores = q.new_empty(b, min(QUERY_CHUNK, n), k.shape[1])
    scale = d**-0.5
    for s in range(0, n, QUERY_CHUNK):
        e = min(s + QUERY_CHUNK, n)
        chunk = scores[:, : e - s]
        torch.baddbmm(chunk, q[:, s:e], kt, beta=0.0, alpha=scale, out=chunk)
        # Normalising after the product, as the fused kernels do, keeps the reference's rounding:
        # a fused softmax first is 3% faster but flips the odd pixel whose logit sits at zero.
        chunk.sub_(chunk.amax(dim=-1, keepdim=True)).exp_()
        torch.bmm(chunk, values, out=out[:, s:e])
        out[:, s:e].div_(chunk.sum(dim=-1, keepdim=True))
    return out


class RopeAttention(nn.Module):
    """Single- or multi-head attention with axial rotary encoding of queries and keys."""

    def __init__(self, dim: int, num_heads: int = 1, kv_in_dim: int | None = None, theta: float = 10000.0) -> None:
        super().__init__()
        kv_in_dim = kv_in_dim or dim
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(kv_in_dim, dim)
        self.v_proj = nn.Linear(kv_in_dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.rope = AxialRope(dim // num_heads, theta)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0) -> torch.Tensor:
        b, n, _ = q.shape
        # One head reading narrower values (the memories) on CPU: attend first, project after.
        low_rank = (
            self.num_heads == 1
            and v.shape[-1] < self.v_proj.out_features
            and q.device.type == "cpu"
            and not torch.is_grad_enabled()
        )
        q = self.q_proj(q).view(b, n, self.num_heads, -1).transpose(1, 2)
        k = self.k_proj(k).view(b, k.shape[1], self.num_heads, -1).transpose(1, 2)
        if not low_rank:
            v = self.v_proj(v).view(b, v.shape[1], self.num_heads, -1).transpose(1, 2)
        cos, sin = self.rope.tables(n, q.device, q.dtype)
        q = AxialRope.rotate(q, cos, sin)
        n_rope = k.shape[2] - num_k_exclude_rope
        if n_rope == k.shape[2]:
            k = AxialRope.rotate(k, cos, sin)
        elif n_rope > 0:
            k = torch.cat([AxialRope.rotate(k[:, :, :n_rope], cos, sin), k[:, :, n_rope:]], dim=2)
        if low_rank:
            return self.out_proj(self.v_proj(attend_low_rank_values(q[:, 0], k[:, 0], v)))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, -1))


class MemoryAttentionLayer(nn.Module):
    def __init__(self, d_model: int, mem_dim: int, ffn_dim: int, theta: float) -> None:
        super().__init__()
        self.self_attn = RopeAttention(d_model, theta=theta)
        self.cross_attn_image = RopeAttention(d_model, kv_in_dim=mem_dim, theta=theta)
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor, num_ptr_tokens: int
    ) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.self_attn(y, y, y)
        # Positions enter the keys only: queries carry theirs through the rotary encoding.
        x = x + self.cross_attn_image(self.norm2(x), memory + memory_pos, memory, num_ptr_tokens)
        return x + self.linear2(F.relu(self.linear1(self.norm3(x))))


class MemoryAttention(nn.Module):
    def __init__(self, d_model: int, mem_dim: int, num_layers: int, ffn_dim: int, theta: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(d_model, mem_dim, ffn_dim, theta) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self,
        current: torch.Tensor,
        current_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        num_ptr_tokens: int = 0,
    ) -> torch.Tensor:
        """Tokens (B, HW, C) batch-first, memory (B, M, mem_dim) -> conditioned tokens (B, HW, C)."""
        x = current + 0.1 * current_pos
        for layer in self.layers:
            x = layer(x, memory, memory_pos, num_ptr_tokens)
        return self.norm(x)
