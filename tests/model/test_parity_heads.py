"""Prompt encoder + mask decoder (+ object pointer) parity with the reference."""

from __future__ import annotations

import pytest
import torch

from tests.model.conftest import close, varies
from tests.reference import requires_reference

pytestmark = [requires_reference, pytest.mark.reference]

PROMPTS = {
    "click": ([[500.0, 300.0]], [1], False),
    "two clicks with a negative": ([[500.0, 300.0], [120.0, 900.0]], [1, 0], False),
    "box": ([[200.0, 250.0], [700.0, 800.0]], [2, 3], False),
    "mask": (None, None, True),
    "box and click": ([[200.0, 250.0], [700.0, 800.0], [450.0, 500.0]], [2, 3, 1], False),
}


@pytest.fixture(scope="module")
def features():
    g = torch.Generator().manual_seed(3)
    emb = torch.randn(1, 256, 64, 64, generator=g)
    s0 = torch.randn(1, 32, 256, 256, generator=g)
    s1 = torch.randn(1, 64, 128, 128, generator=g)
    mask = 5 * torch.randn(1, 1, 256, 256, generator=g)
    return emb, (s0, s1), mask


@pytest.mark.parametrize("variant", ["sam2.1_hiera_tiny", "sam2_hiera_small"])
@pytest.mark.parametrize("prompt", list(PROMPTS))
@pytest.mark.parametrize("multimask", [True, False])
def test_decoder_outputs_match(pair_factory, features, variant, prompt, multimask):
    ref, ours = pair_factory(variant)
    emb, high_res, mask = features
    pts, labels, with_mask = PROMPTS[prompt]
    coords = None if pts is None else torch.tensor([pts])
    labs = None if labels is None else torch.tensor([labels], dtype=torch.int32)
    mask_in = mask if with_mask else None
    point_inputs = None if coords is None else {"point_coords": coords, "point_labels": labs}
    with torch.inference_mode():
        r = ref._forward_sam_heads(
            backbone_features=emb,
            point_inputs=point_inputs,
            mask_inputs=mask_in,
            high_res_features=list(high_res),
            multimask_output=multimask,
        )
        o = ours.decode(emb, high_res, coords, labs, mask_in, multimask=multimask)
    multi, ious, low, high, ptr, score = r[0], r[2], r[3], r[4], r[5], r[6]
    close(multi, o.multi_masks)
    close(ious, o.ious)
    close(low, o.masks)
    close(high, o.high_res_masks)
    close(ptr, o.obj_ptr)
    close(score, o.object_score)
    assert (score > 0).all(), "the object must be present for a meaningful comparison"
    assert varies(o.masks) and o.multi_masks.shape[1] == (3 if multimask else 1)


@pytest.mark.parametrize("thresh", [0.0, 1.01])
def test_both_branches_of_the_stability_choice_match(pair_factory, features, thresh):
    """Force the single-mask output (stable) and the best multimask output (unstable)."""
    ref, ours = pair_factory("sam2.1_hiera_tiny")
    emb, high_res, _ = features
    coords, labs = torch.tensor([[[500.0, 300.0], [50.0, 60.0]]]), torch.tensor([[1, 1]], dtype=torch.int32)
    ref.sam_mask_decoder.dynamic_multimask_stability_thresh = thresh
    ours.sam_mask_decoder.stability_thresh = thresh
    try:
        with torch.inference_mode():
            r = ref._forward_sam_heads(emb, {"point_coords": coords, "point_labels": labs}, None, list(high_res), False)
            o = ours.decode(emb, high_res, coords, labs, multimask=False)
            single = ours.sam_mask_decoder._predict(
                emb, ours.sam_prompt_encoder.dense_pe(), *ours.sam_prompt_encoder(coords, labs), high_res
            )[0][:, :1]
    finally:
        ref.sam_mask_decoder.dynamic_multimask_stability_thresh = 0.98
        ours.sam_mask_decoder.stability_thresh = 0.98
    close(r[3], o.masks)
    close(r[2], o.ious)
    assert torch.equal(o.masks, single) == (thresh == 0.0)


def test_mask_used_as_output_matches(pair_factory, features):
    ref, ours = pair_factory("sam2.1_hiera_tiny")
    emb, high_res, _ = features
    mask = torch.zeros(1, 1, 1024, 1024)
    mask[..., 300:700, 200:650] = 1
    with torch.inference_mode():
        r = ref._use_mask_as_output(emb, list(high_res), mask)
        o = ours.mask_as_output(emb, high_res, mask)
    close(r[3], o.masks)
    close(r[4], o.high_res_masks)
    close(r[5], o.obj_ptr)
    close(r[6], o.object_score)


def test_absent_object_gets_no_object_mask_and_pointer(pair_factory, features):
    ref, ours = pair_factory("sam2.1_hiera_tiny")
    emb, high_res, _ = features
    bias = ours.sam_mask_decoder.pred_obj_score_head.layers[2].bias
    saved = bias.detach().clone()
    try:
        with torch.no_grad():
            bias.fill_(-50.0)
            ref.sam_mask_decoder.pred_obj_score_head.layers[2].bias.fill_(-50.0)
        with torch.inference_mode():
            r = ref._forward_sam_heads(emb, None, None, list(high_res), False)
            o = ours.decode(emb, high_res)
    finally:
        with torch.no_grad():
            bias.copy_(saved)
            ref.sam_mask_decoder.pred_obj_score_head.layers[2].bias.copy_(saved)
    assert (o.masks == -1024.0).all()
    close(r[5], o.obj_ptr)
    close(ours.no_obj_ptr.expand_as(o.obj_ptr), o.obj_ptr)
