"""The image predictor: any image size, every prompt type, same results as the reference's path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from tests.model.conftest import close
from tests.reference import requires_reference


@pytest.fixture(scope="module")
def frame(data_dir):
    import cv2

    bgr = cv2.imread(str(data_dir / "davis16_car-shadow" / "JPEGImages" / "00000.jpg"))
    return np.ascontiguousarray(bgr[:, :, ::-1])  # 854 x 480 RGB


@pytest.fixture(scope="module")
def models(pair_factory):
    return pair_factory("sam2.1_hiera_tiny", 512)


def _reference_predict(ref, ours, image, coords, labels, multimask):
    """What SAM2ImagePredictor computes, assembled from the reference's own modules."""
    h, w = image.shape[:2]
    x = ours.preprocess(image)
    out = ref.forward_image(x)
    _, feats, _, sizes = ref._prepare_backbone_features(out)
    feats[-1] = feats[-1] + ref.no_mem_embed
    maps = [f.permute(1, 2, 0).view(1, -1, *s) for f, s in zip(feats, sizes)]
    pts = torch.tensor(coords, dtype=torch.float32)[None] / torch.tensor([w, h]) * ref.image_size
    sparse, dense = ref.sam_prompt_encoder(points=(pts, torch.tensor([labels], dtype=torch.int32)), boxes=None, masks=None)
    low, iou, _, _ = ref.sam_mask_decoder(
        image_embeddings=maps[-1],
        image_pe=ref.sam_prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask,
        repeat_image=False,
        high_res_features=maps[:-1],
    )
    return F.interpolate(low, (h, w), mode="bilinear", align_corners=False), iou, low


@requires_reference
@pytest.mark.reference
@pytest.mark.parametrize("multimask", [True, False])
def test_click_matches_the_reference_path(models, frame, multimask):
    from sam2_studio.model import ImagePredictor

    ref, ours = models
    pred = ImagePredictor(ours)
    pred.set_image(frame)
    got = pred.predict(points=[[420, 260]], labels=[1], multimask=multimask)
    with torch.inference_mode():
        full, iou, low = _reference_predict(ref, ours, frame, [[420, 260]], [1], multimask)
    n = 3 if multimask else 1
    assert got.masks.shape == (n, 480, 854) and got.masks.dtype == bool
    assert got.logits.shape == (n, 128, 128)
    close(iou[0], torch.from_numpy(got.scores))
    close(low[0].clamp(-32, 32), torch.from_numpy(got.logits))
    agree = (full[0] > 0).numpy() == got.masks
    assert agree.mean() > 0.9999


def test_boxes_masks_and_errors(models, frame):
    from sam2_studio.model import ImagePredictor

    _, ours = models
    pred = ImagePredictor(ours)
    with pytest.raises(RuntimeError, match="set_image"):
        pred.predict(points=[[1, 1]], labels=[1])
    pred.set_image(frame[:301, :517])  # odd size
    box = pred.predict(box=[100, 50, 400, 250], multimask=False)
    assert box.masks.shape == (1, 301, 517)
    refined = pred.predict(points=[[200, 120]], labels=[0], box=[100, 50, 400, 250], mask_input=box.logits[0], multimask=False)
    assert refined.masks.shape == (1, 301, 517)
    assert not np.array_equal(refined.logits, box.logits)
    with pytest.raises(ValueError, match="labels"):
        pred.predict(points=[[1, 1], [2, 2]], labels=[1])
    with pytest.raises(ValueError, match="box"):
        pred.predict(box=[1, 2, 3])
    with pytest.raises(ValueError, match="at least one"):
        pred.predict()
    with pytest.raises(ValueError, match="RGB uint8"):
        pred.set_image(np.zeros((10, 10), dtype=np.uint8))
