from __future__ import annotations

import contextlib

import pytest
import torch

from sam2_studio.model import build_model, openvino_engine
from tests.reference import build_reference, copy_weights, randomize_


def close(ref: torch.Tensor, ours: torch.Tensor) -> None:
    """The issue's tolerance: max |ours - ref| <= 1e-4 * (1 + max |ref|), and not trivial."""
    ref, ours = ref.detach().float(), ours.detach().float()
    assert ref.shape == ours.shape, (ref.shape, ours.shape)
    assert torch.isfinite(ours).all()
    tol = 1e-4 * (1 + ref.abs().max().item())
    diff = (ref - ours).abs().max().item()
    assert diff <= tol, f"max abs diff {diff:.3g} > tolerance {tol:.3g}"


@contextlib.contextmanager
def on_engine(model, engine: str, cache_dir, parts=openvino_engine.PARTS):  # noqa: ANN001, ANN201
    """Run ``model`` on the CPU ``engine`` ("torch" or "openvino") inside the block."""
    if engine == "torch":
        yield model
        return
    pytest.importorskip("openvino")
    report = openvino_engine.install(model, cache_dir, parts=parts)
    assert report.engine == "openvino", report.notice
    try:
        yield model
    finally:
        openvino_engine.uninstall(model)


def varies(t: torch.Tensor) -> bool:
    return t.numel() > 1 and t.float().std().item() > 1e-3


@pytest.fixture(scope="module")
def pair_factory():
    """Build (reference, ours) with the same random weights, cached per (variant, size, video)."""
    cache: dict = {}

    def make(variant: str, image_size: int = 1024, video: bool = False):
        key = (variant, image_size, video)
        if key not in cache:
            torch.manual_seed(0)
            ref = randomize_(build_reference(variant, image_size, video=video))
            ours = build_model(variant, image_size, device="cpu")
            copy_weights(ref, ours)
            cache.clear()  # keep at most one pair alive: large models are big
            cache[key] = (ref, ours)
        return cache[key]

    return make
