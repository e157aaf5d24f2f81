"""Memory encoder and memory attention parity with the reference, on a full bank."""

from __future__ import annotations

import pytest
import torch

from sam2_studio.model import PointerMemory, SpatialMemory
from tests.model.conftest import close, on_engine, varies
from tests.reference import requires_reference

pytestmark = [requires_reference, pytest.mark.reference]

S = 1024
H = S // 16


@pytest.mark.parametrize("binarize", [True, False])
@pytest.mark.parametrize("variant", ["sam2.1_hiera_tiny", "sam2_hiera_tiny"])
def test_memory_encoder_matches(pair_factory, variant, binarize):
    ref, ours = pair_factory(variant, video=True)
    g = torch.Generator().manual_seed(5)
    emb = torch.randn(2, 256, H, H, generator=g)
    masks = 4 * torch.randn(2, 1, S, S, generator=g)
    score = torch.tensor([[3.0], [-2.0]])  # one present, one absent
    with torch.inference_mode():
        rf, rp = ref._encode_new_memory([emb.flatten(2).permute(2, 0, 1)], [(H, H)], masks, score, binarize)
        of, op = ours.encode_memory(emb, masks, score, binarize)
    close(rf, of)
    close(rp[-1], op)
    assert varies(of)


def _bank(g: torch.Generator, frames: list[int]) -> dict[int, dict]:
    out = {}
    for t in frames:
        out[t] = {
            "maskmem_features": torch.randn(1, 64, H, H, generator=g),
            "maskmem_pos_enc": [torch.randn(1, 64, H, H, generator=g)],
            "obj_ptr": torch.randn(1, 256, generator=g),
        }
    return out


# OpenVINO once (its graph does not depend on the direction, only the bank passed in does).
@pytest.mark.parametrize(("variant", "engine", "reverse"), [
    (v, "torch", r) for v in ("sam2.1_hiera_tiny", "sam2_hiera_tiny") for r in (False, True)
] + [("sam2.1_hiera_tiny", "openvino", True)])
def test_memory_attention_with_a_full_bank_matches(pair_factory, openvino_cache, variant, engine, reverse):
    """Two conditioning frames + six recent frames + object pointers of 14 frames."""
    ref, ours = pair_factory(variant, video=True)
    g = torch.Generator().manual_seed(7)
    num_frames, frame = 40, 20
    sign = -1 if reverse else 1
    cond_frames = [frame - 12 * sign, frame - 15 * sign]
    recent = [frame - d * sign for d in range(1, 14)]
    cond = _bank(g, cond_frames)
    non_cond = _bank(g, recent)
    feats = torch.randn(H * H, 1, 256, generator=g)
    pos = torch.randn(H * H, 1, 256, generator=g)
    with torch.inference_mode():
        expected = ref._prepare_memory_conditioned_features(
            frame_idx=frame,
            is_init_cond_frame=False,
            current_vision_feats=[feats],
            current_vision_pos_embeds=[pos],
            feat_sizes=[(H, H)],
            output_dict={"cond_frame_outputs": cond, "non_cond_frame_outputs": non_cond},
            num_frames=num_frames,
            track_in_reverse=reverse,
        )
        n = ours.config.num_maskmem
        spatial = [SpatialMemory(o["maskmem_features"], o["maskmem_pos_enc"][-1], n - 1) for o in cond.values()]
        for t_pos in range(1, n):
            prev = frame - (n - t_pos) * sign
            spatial.append(SpatialMemory(non_cond[prev]["maskmem_features"], non_cond[prev]["maskmem_pos_enc"][-1], n - t_pos - 1))
        pointers = [PointerMemory(o["obj_ptr"], (frame - t) * sign) for t, o in cond.items()]
        pointers += [PointerMemory(non_cond[frame - d * sign]["obj_ptr"], d) for d in range(1, 14)]
        from sam2_studio.model import ImageFeatures

        current = ImageFeatures(
            feats.permute(1, 2, 0).reshape(1, 256, H, H), (None, None), pos.permute(1, 2, 0).reshape(1, 256, H, H)  # type: ignore[arg-type]
        )
        with on_engine(ours, engine, openvino_cache, parts=("memory_attention",)):
            got = ours.condition_on_memory(current, spatial, pointers, max_pointer_offset=min(num_frames, 16) - 1)
    close(expected, got)
    assert varies(got)


def test_first_frame_without_memory_adds_the_no_memory_embedding(pair_factory):
    ref, ours = pair_factory("sam2.1_hiera_tiny", video=True)
    feats = torch.randn(H * H, 1, 256)
    with torch.inference_mode():
        expected = ref._prepare_memory_conditioned_features(
            0, True, [feats], [torch.zeros_like(feats)], [(H, H)], {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}, 10
        )
        got = ours.without_memory(feats.permute(1, 2, 0).reshape(1, 256, H, H))
    close(expected, got)
