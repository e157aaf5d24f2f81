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

The rotary encoding is folded into the query and key projections: rotating a pair
(a, b) gives (a cos - b sin, a sin + b cos), i.e. ``z * cos + (J z) * sin`` with ``J`` the
fixed map (a, b) -> (-b, a), and ``J (W x + c) = (J W) x + J c`` is one more linear layer.
So a rotated projection is two matrix products and two multiply-adds with full-width tables
(``pairwise``), where the interleaving form costs a stack, gathers and transposes over
every key of the bank (measured: the memory attention 5% faster, tiny at 1024, 2 threads).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .image_encoder import ImageEncoder
from .memory_attention import MemoryAttention, RopeAttention


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


def pairwise(table: torch.Tensor) -> torch.Tensor:
    """A rotary table (N, dim/2), one angle per channel pair -> (N, dim), each value twice."""
    return table.repeat_interleave(2, dim=-1)


def swap_pairs(t: torch.Tensor) -> torch.Tensor:
    """``J``: (a, b) -> (-b, a) for each adjacent pair of rows of a weight (or of a bias)."""
    pairs = t.unflatten(0, (-1, 2))
    return torch.stack((-pairs[:, 1], pairs[:, 0]), 1).flatten(0, 1)


class RotatedProjection(nn.Module):
    """``AxialRope.rotate(linear(x), cos, sin)`` with full-width tables, as two linear layers."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear
        self.register_buffer("swapped_weight", swap_pairs(linear.weight.detach()), persistent=False)
        self.register_buffer("swapped_bias", swap_pairs(linear.bias.detach()), persistent=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * cos + F.linear(x, self.swapped_weight, self.swapped_bias) * sin


def _attend(attn: RopeAttention, rotated: nn.ModuleDict, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
            q_tables: tuple[torch.Tensor, torch.Tensor], k_tables: tuple[torch.Tensor, torch.Tensor],
            project_values_after: bool) -> torch.Tensor:
    q = rotated["q"](q, *q_tables)
    k = rotated["k"](k, *k_tables)
    if project_values_after:
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return attn.out_proj(attn.v_proj(out))
    out = F.scaled_dot_product_attention(q[:, None], k[:, None], attn.v_proj(v)[:, None])[:, 0]
    return attn.out_proj(out)


class MemoryAttentionWithKeyTables(nn.Module):
    """:class:`MemoryAttention` with the keys' rotary tables as inputs (single head; full
    width: ``pairwise(key_rope_tables(...))``)."""

    def __init__(self, attention: MemoryAttention) -> None:
        super().__init__()
        if any(layer.self_attn.num_heads != 1 or layer.cross_attn_image.num_heads != 1
               for layer in attention.layers):
            raise ValueError("the OpenVINO memory attention supports the single-head layers of SAM 2 only")
        self.attention = attention
        self.rotated = nn.ModuleList(
            nn.ModuleDict({name: nn.ModuleDict({"q": RotatedProjection(a.q_proj), "k": RotatedProjection(a.k_proj)})
                           for name, a in (("self", layer.self_attn), ("cross", layer.cross_attn_image))})
            for layer in attention.layers)

    def forward(self, current: torch.Tensor, current_pos: torch.Tensor, memory: torch.Tensor,
                memory_pos: torch.Tensor, key_cos: torch.Tensor, key_sin: torch.Tensor) -> torch.Tensor:
        layers = self.attention.layers
        grid = tuple(pairwise(t) for t in layers[0].self_attn.rope.tables(current.shape[1], current.device, current.dtype))
        keys = (key_cos, key_sin)
        x = current + 0.1 * current_pos
        memory_keys = memory + memory_pos
        for layer, rotated in zip(layers, self.rotated):
            y = layer.norm1(x)
            x = x + _attend(layer.self_attn, rotated["self"], y, y, y, grid, grid, project_values_after=False)
            x = x + _attend(layer.cross_attn_image, rotated["cross"], layer.norm2(x), memory_keys, memory, grid, keys,
                            project_values_after=True)
            x = x + layer.linear2(F.relu(layer.linear1(layer.norm3(x))))
        return self.attention.norm(x)
