"""Every official variant builds with exactly the checkpoint's tensor names and shapes."""

from __future__ import annotations

import pytest
import torch

from sam2_studio.model import VARIANTS, Sam2Model, detect_variant, get_config

PARAMS_M = {"tiny": 38.9, "small": 46.0, "base_plus": 80.8, "large": 224.4}


def reference_keys(shared_dir, variant):
    rows = (shared_dir / "reference" / "checkpoint-keys" / f"{variant}.tsv").read_text().splitlines()
    return [(name, [int(x) for x in shape.strip("[]").split(",") if x.strip()]) for name, shape in (r.split("\t") for r in rows)]


def test_eight_variants_are_listed():
    assert len(VARIANTS) == 8
    assert set(VARIANTS) == {f"{f}_hiera_{s}" for f in ("sam2", "sam2.1") for s in PARAMS_M}


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_names_shapes_and_order_match_the_official_checkpoint(shared_dir, variant):
    with torch.device("meta"):
        model = Sam2Model(get_config(variant))
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == reference_keys(shared_dir, variant)
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(n - PARAMS_M[variant.split("_hiera_")[1]]) < 0.1  # DESIGN.md, in millions


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_is_detected_from_the_tensors(shared_dir, variant):
    fake = {name: torch.empty(shape, device="meta") for name, shape in reference_keys(shared_dir, variant)}
    assert detect_variant(fake) == variant


def test_image_size_is_a_parameter():
    assert get_config("sam2.1_hiera_tiny", 512).feat_size == 32
    with pytest.raises(ValueError, match="multiple of 32"):
        get_config("sam2.1_hiera_tiny", 500)
    with pytest.raises(ValueError, match="unknown model variant"):
        get_config("sam3_hiera_huge")
