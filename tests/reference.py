"""The reference implementation ``sam2==1.1.0`` as a test oracle: build it, copy its weights.

Only tests and benchmarks import this; product code never imports ``sam2``.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import torch

SHORT = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}


def have_reference() -> bool:
    return importlib.util.find_spec("sam2") is not None and importlib.util.find_spec("hydra") is not None


try:  # benchmarks use this module on machines without pytest (bench/gpu.py)
    import pytest
except ImportError:  # pragma: no cover
    requires_reference = None
else:
    requires_reference = pytest.mark.skipif(
        not have_reference() and not os.environ.get("CI"),
        reason="the reference package sam2==1.1.0 is not installed (./dev.sh test installs it)",
    )


def config_file(variant: str) -> str:
    family, _, size = variant.partition("_hiera_")
    return f"configs/{family}/{family}_hiera_{SHORT[size]}.yaml"


def build_reference(
    variant: str, image_size: int = 1024, video: bool = False, overrides: tuple[str, ...] = (), device: str = "cpu"
) -> torch.nn.Module:
    """The reference model (or video predictor) with random weights, fp32, eval."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sam2.build_sam import build_sam2, build_sam2_video_predictor

        extra = [f"++model.image_size={image_size}", *overrides]
        if video:
            return build_sam2_video_predictor(config_file(variant), None, device=device, hydra_overrides_extra=extra)
        return build_sam2(config_file(variant), None, device=device, hydra_overrides_extra=extra)


def randomize_(model: torch.nn.Module, seed: int = 0, object_bias: float = 4.0) -> torch.nn.Module:
    """Make a freshly initialised model's outputs informative.

    Zero or constant initialisations (position embeddings, layer scales, norms) become random
    so every path matters, and the object-score head is biased towards "present" so masks
    are not forced to the no-object constant.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("gamma"):
                t.copy_(0.5 + 0.2 * torch.randn(t.shape, generator=g))
            elif t.numel() > 1 and torch.all(t == t.flatten()[0]):
                base = 1.0 if name.endswith("weight") and t.flatten()[0] == 1 else 0.0
                t.copy_(base + 0.05 * torch.randn(t.shape, generator=g))
            elif t.numel() == 1 and t.item() == 0:
                t.copy_(0.05 * torch.randn(t.shape, generator=g))
        score_bias = "sam_mask_decoder.pred_obj_score_head.layers.2.bias"
        state = model.state_dict()
        if score_bias in state:
            state[score_bias].fill_(object_bias)
    return model


def copy_weights(reference: torch.nn.Module, ours: torch.nn.Module) -> None:
    ours.load_state_dict(reference.state_dict(), strict=True)


def connected_components_cpu(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A CPU stand-in for the reference's CUDA-only ``get_connected_components``.

    Without it the reference silently skips hole filling on CPU; with it both sides fill
    holes, so the comparison covers that step too. 8-connectivity, labels > 0 on the input's
    foreground, each pixel's component area.
    """
    import cv2
    import numpy as np

    m = mask.to(torch.uint8).cpu().numpy()
    labels = np.zeros(m.shape, np.int32)
    areas = np.zeros(m.shape, np.int32)
    for i in range(m.shape[0]):
        _, lab, stats, _ = cv2.connectedComponentsWithStats(m[i, 0], connectivity=8)
        labels[i, 0] = lab
        areas[i, 0] = np.where(lab > 0, stats[lab, cv2.CC_STAT_AREA], 0)
    return torch.from_numpy(labels), torch.from_numpy(areas)


def connected_components_device(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A stand-in for the reference's CUDA kernel on any device, for its hole filling only:
    regions of at most 8 pixels (its ``fill_hole_area``) get area 1, larger ones 9. It reads
    nothing back to the host, so a GPU benchmark does not slow the reference down."""
    from sam2_studio.engine.postprocess import small_regions

    small = small_regions(mask.bool(), 8)
    return mask.to(torch.int32), torch.where(small, 1, 9).to(torch.int32)
