"""Typed configurations of the eight official SAM 2 / SAM 2.1 variants (no Hydra).

The numbers come from the SAM 2 paper and the public configs; the checkpoint layout in
``shared/reference/checkpoint-keys`` pins every tensor shape they imply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

SIZES = ("tiny", "small", "base_plus", "large")
VARIANTS = tuple(f"{family}_hiera_{size}" for family in ("sam2", "sam2.1") for size in SIZES)


@dataclass(frozen=True)
class HieraConfig:
    """The Hiera image trunk: four stages, each halving resolution and doubling width."""

    embed_dim: int
    num_heads: int
    stages: tuple[int, int, int, int]
    global_att_blocks: tuple[int, ...]
    window_spec: tuple[int, int, int, int]
    window_pos_embed_bkg: tuple[int, int]
    window_pos_embed_size: int = 8  # the first stage's window: the tiled window embedding
    mlp_ratio: float = 4.0

    @property
    def depth(self) -> int:
        return sum(self.stages)

    @property
    def stage_ends(self) -> tuple[int, ...]:
        """Index of the last block of each stage."""
        ends, total = [], 0
        for n in self.stages:
            total += n
            ends.append(total - 1)
        return tuple(ends)

    @property
    def channels(self) -> tuple[int, int, int, int]:
        """Output width of each stage, highest resolution first."""
        return tuple(self.embed_dim * 2**i for i in range(4))  # type: ignore[return-value]


@dataclass(frozen=True)
class ModelConfig:
    """Everything that differs between variants, plus the few knobs tests may shrink."""

    name: str
    hiera: HieraConfig
    sam2_1: bool  # SAM 2.1: spatial no-object embedding, temporal encoding of object pointers
    image_size: int = 1024
    d_model: int = 256  # FPN neck, prompt encoder, mask decoder, memory attention width
    mem_dim: int = 64  # memory encoder output width
    num_maskmem: int = 7  # memory slots: 1 conditioning + 6 recent frames
    max_obj_ptrs: int = 16
    memory_attention_layers: int = 4
    memory_attention_ffn: int = 2048
    rope_theta: float = 10000.0
    # Mask post-processing choices of the official video builder.
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    stability_delta: float = 0.05
    stability_thresh: float = 0.98

    @property
    def backbone_stride(self) -> int:
        return 16

    @property
    def feat_size(self) -> int:
        """Side of the stride-16 feature map the decoder and memory work on."""
        return self.image_size // self.backbone_stride

    @property
    def family(self) -> str:
        return "sam2.1" if self.sam2_1 else "sam2"

    def with_image_size(self, image_size: int) -> ModelConfig:
        if image_size % 32 or image_size < 64:
            raise ValueError(f"image size must be a multiple of 32 and at least 64, got {image_size}")
        return replace(self, image_size=image_size)


_HIERA = {
    "tiny": HieraConfig(96, 1, (1, 2, 7, 2), (5, 7, 9), (8, 4, 14, 7), (7, 7)),
    "small": HieraConfig(96, 1, (1, 2, 11, 2), (7, 10, 13), (8, 4, 14, 7), (7, 7)),
    "base_plus": HieraConfig(112, 2, (2, 3, 16, 3), (12, 16, 20), (8, 4, 14, 7), (14, 14)),
    "large": HieraConfig(144, 2, (2, 6, 36, 4), (23, 33, 43), (8, 4, 16, 8), (7, 7)),
}


def get_config(variant: str, image_size: int = 1024) -> ModelConfig:
    """The configuration of an official variant, e.g. ``"sam2.1_hiera_tiny"``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown model variant {variant!r}; known: {', '.join(VARIANTS)}")
    family, _, size = variant.partition("_hiera_")
    config = ModelConfig(name=variant, hiera=_HIERA[size], sam2_1=family == "sam2.1")
    return config if image_size == 1024 else config.with_image_size(image_size)
