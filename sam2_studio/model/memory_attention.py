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
        q = self.q_proj(q).view(b, n, self.num_heads, -1).transpose(1, 2)
        k = self.k_proj(k).view(b, k.shape[1], self.num_heads, -1).transpose(1, 2)
        v = self.v_proj(v).view(b, v.shape[1], self.num_heads, -1).transpose(1, 2)
        cos, sin = self.rope.tables(n, q.device, q.dtype)
        q = AxialRope.rotate(q, cos, sin)
        n_rope = k.shape[2] - num_k_exclude_rope
        if n_rope == k.shape[2]:
            k = AxialRope.rotate(k, cos, sin)
        elif n_rope > 0:
            k = torch.cat([AxialRope.rotate(k[:, :, :n_rope], cos, sin), k[:, :, n_rope:]], dim=2)
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
