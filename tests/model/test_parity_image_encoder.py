"""Image encoder parity with the reference (sam2==1.1.0), fp32 on CPU, at 1024."""

from __future__ import annotations

import pytest
import torch

from tests.model.conftest import close, on_engine, varies
from tests.reference import requires_reference

pytestmark = [requires_reference, pytest.mark.reference, pytest.mark.slow]

VARIANTS = [
    "sam2_hiera_tiny",
    "sam2.1_hiera_tiny",
    "sam2_hiera_small",
    "sam2.1_hiera_small",
    "sam2_hiera_base_plus",
    "sam2.1_hiera_base_plus",
    "sam2.1_hiera_large",
]


# The OpenVINO engine on tiny at 1024: each variant costs a conversion (tiny's ~15 s of CPU);
# the graph is our own modules traced, the same code for every variant. Other sizes: the
# video parity test runs OpenVINO at 256, tests/model/test_openvino_engine.py at 128.
CASES = [(v, "torch") for v in VARIANTS] + [("sam2.1_hiera_tiny", "openvino")]


@pytest.mark.parametrize(("variant", "engine"), CASES)
def test_backbone_levels_and_high_res_features_match(pair_factory, openvino_cache, variant, engine):
    ref, ours = pair_factory(variant)
    torch.manual_seed(1)
    image = torch.randn(1, 3, 1024, 1024)
    with torch.inference_mode():
        expected = ref.forward_image(image)
    with on_engine(ours, engine, openvino_cache, parts=("image_encoder",)), torch.inference_mode():
        got = ours.encode_image(image)
    fpn, pos = expected["backbone_fpn"], expected["vision_pos_enc"]
    assert got.embedding.shape == (1, 256, 64, 64)
    close(fpn[0], got.high_res[0])  # stride 4, through conv_s0
    close(fpn[1], got.high_res[1])  # stride 8, through conv_s1
    close(fpn[2], got.embedding)  # stride 16
    close(pos[2], got.pos)
    assert varies(got.embedding) and varies(got.high_res[0])


def test_smaller_image_sizes_work(pair_factory):
    ref, ours = pair_factory("sam2.1_hiera_tiny", 512)
    image = torch.randn(1, 3, 512, 512)
    with torch.inference_mode():
        close(ref.forward_image(image)["backbone_fpn"][2], ours.encode_image(image).embedding)
