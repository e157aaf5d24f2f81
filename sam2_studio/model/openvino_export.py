"""Traceable forms of the image encoder and the memory attention, for conversion to OpenVINO.

They share the weights of the live modules (no copies) and compute the same functions, but
in a form one converted graph can serve for every input it will see:

- the image encoder returns only its three feature levels (the sine position encoding is a
  constant of the size, added back in torch);
- the memory attention takes the rotary tables of its *keys* as inputs. The engine's memory
  bank grows from one frame to seven plus up to 64 pointer tokens, and the pointer tokens
  get no rotation; a table row of cos 1, sin 0 leaves a token exactly as it is, so one graph
  covers every bank length and pointer count (``key_rope_tables``).

The cross-attention attends to the raw 64-d memories and projects afterwards, as the torch
path does on CPU (``memory_attention.attend_low_rank_values``): the softmax rows sum to one,
so the value projection commutes with the weighted sum, at a quarter of the multiply-adds.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .image_encoder import ImageEncoder
from .memory_attention import MemoryAttention, RopeAttention
from .position import AxialRope


class EncoderLevels(nn.Module):
    """Images (B, 3, S, S) -> the stride 4, 8 and 16 maps of :class:`ImageEncoder`."""

    def __init__(self, encoder: ImageEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        levels = self.encoder.neck(self.encoder.trunk(images))
        return levels[0], levels[1], levels[2]


def key_rope_tables(query_cos: torch.Tensor, query_sin: torch.Tensor, num_memory: int,
                    num_ptr_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary tables (M, dim/2) for M memory tokens: the grid's rotation repeated for every
    spatial frame, the identity (cos 1, sin 0) for the trailing object-pointer tokens."""
    grid = query_cos.shape[0]
    spatial = num_memory - num_ptr_tokens
    if spatial < 0 or spatial % grid:
        raise ValueError(f"{num_memory} memory tokens with {num_ptr_tokens} pointer tokens do not "
                         f"make whole frames of {grid} tokens")
    reps = spatial // grid
    ones = query_cos.new_ones(num_ptr_tokens, query_cos.shape[1])
    return (torch.cat([query_cos.repeat(reps, 1), ones]),
            torch.cat([query_sin.repeat(reps, 1), torch.zeros_like(ones)]))


def _attend(attn: RopeAttention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
            q_tables: tuple[torch.Tensor, torch.Tensor], k_tables: tuple[torch.Tensor, torch.Tensor],
            project_values_after: bool) -> torch.Tensor:
    q = AxialRope.rotate(attn.q_proj(q), *q_tables)
    k = AxialRope.rotate(attn.k_proj(k), *k_tables)
    if project_values_after:
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return attn.out_proj(attn.v_proj(out))
    out = F.scaled_dot_product_attention(q[:, None], k[:, None], attn.v_proj(v)[:, None])[:, 0]
    return attn.out_proj(out)


class MemoryAttentionWithKeyTables(nn.Module):
    """:class:`MemoryAttention` with the keys' rotary tables as inputs (single head)."""

    def __init__(self, attention: MemoryAttention) -> None:
        super().__init__()
        if any(layer.self_attn.num_heads != 1 or layer.cross_attn_image.num_heads != 1
               for layer in attention.layers):
            raise ValueError("the OpenVINO memory attention supports the single-head layers of SAM 2 only")
        self.attention = attention

    def forward(self, current: torch.Tensor, current_pos: torch.Tensor, memory: torch.Tensor,
                memory_pos: torch.Tensor, key_cos: torch.Tensor, key_sin: torch.Tensor) -> torch.Tensor:
        layers = self.attention.layers
        grid = layers[0].self_attn.rope.tables(current.shape[1], current.device, current.dtype)
        keys = (key_cos, key_sin)
        x = current + 0.1 * current_pos
        memory_keys = memory + memory_pos
        for layer in layers:
            y = layer.norm1(x)
            x = x + _attend(layer.self_attn, y, y, y, grid, grid, project_values_after=False)
            x = x + _attend(layer.cross_attn_image, layer.norm2(x), memory_keys, memory, grid, keys,
                            project_values_after=True)
            x = x + layer.linear2(F.relu(layer.linear1(layer.norm3(x))))
        return self.attention.norm(x)
