"""torch.compile for the two heaviest parts: the image encoder and memory attention.

The image encoder always sees one image at the working size, so it is compiled for fixed
shapes (once per size). Memory attention sees a bank that fills up over the first frames and
a batch of objects: the lengths that vary become symbolic after the first recompilation, so
it compiles twice, not once per length.
A compilation failure never stops tracking: dynamo falls back to eager execution.
On by default only on CUDA with Triton (``compile_by_default``): on the CPU the compile time
is not paid back within a clip.
"""

from __future__ import annotations

import importlib.util

import torch

from .sam2_model import Sam2Model


def compile_by_default(device: torch.device) -> bool:
    return device.type == "cuda" and importlib.util.find_spec("triton") is not None


def compile_model(model: Sam2Model, mode: str | None = None, backend: str = "inductor") -> Sam2Model:
    """Compile ``model``'s image encoder and memory attention in place (state-dict names and
    the model's methods unchanged). The first call of each compiles: :func:`warm_up` pays
    that cost up front."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True  # a failed compilation runs eagerly instead
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 16)
    model.image_encoder.compile(dynamic=False, mode=mode, backend=backend)
    # Automatic dynamic shapes: compiled for the first bank, recompiled once with the lengths
    # that vary (memory length, batch) left symbolic; the query grid stays fixed.
    model.memory_attention.compile(dynamic=None, mode=mode, backend=backend)
    model.compiled = True
    return model


def is_compiled(model: Sam2Model) -> bool:
    return bool(getattr(model, "compiled", False))


def warm_up(model: Sam2Model, objects: int = 2, memories: int = 7, pointers: int = 16) -> None:
    """Run each compiled part once on inputs of the shapes tracking will use, so that the
    first click does not wait for the compiler. Bank lengths and batches vary afterwards
    without recompiling (dynamic shapes) beyond a handful of variants."""
    s, c, m = model.image_size, model.config.d_model, model.config.mem_dim
    grid = model.config.feat_size
    dev = model.device
    with model.inference():
        feats = model.encode_image(torch.zeros(1, 3, s, s, device=dev))
        cur = feats.embedding.flatten(2).transpose(1, 2)
        pos = feats.pos.flatten(2).transpose(1, 2)
        split = c // m
        for b in sorted({1, max(1, objects)}):
            for n_mem, n_ptr in ((1, 1), (memories, pointers)):
                tokens = n_mem * grid * grid + n_ptr * split
                memory = torch.zeros(b, tokens, m, device=dev, dtype=cur.dtype)
                model.memory_attention(cur.expand(b, -1, -1), pos.expand(b, -1, -1), memory, memory, n_ptr * split)
