"""The detail pass with the model: the decoder gets exactly the prompts a user would give our
image predictor on the crop, and objects with nothing to gain are left alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from sam2_studio.engine.crops import mask_box
from sam2_studio.engine.detail import DetailParams, PredictorSegmenter, crop_logits, detail_pass, plan
from sam2_studio.model import ImagePredictor


@pytest.fixture(scope="module")
def car(data_dir):
    root = data_dir / "davis16_car-shadow"
    frame = np.ascontiguousarray(cv2.imread(str(root / "JPEGImages" / "00020.jpg"))[:, :, ::-1])
    mask = cv2.imread(str(root / "Annotations" / "00020.png"), cv2.IMREAD_GRAYSCALE) > 127
    return frame, mask


class Spy:
    """Records what reaches the model's encoder and decoder."""

    def __init__(self, model, monkeypatch):  # noqa: ANN001
        self.encoded: list[torch.Tensor] = []
        self.decoded: list[dict] = []
        encode, decode = model.encode_image, model.decode

        def spy_encode(images):  # noqa: ANN001
            self.encoded.append(images.clone())
            return encode(images)

        def spy_decode(embedding, high_res, points=None, labels=None, mask_logits=None, multimask=False, gate_absent=True):  # noqa: ANN001
            self.decoded.append({"points": None if points is None else points.clone(),
                                 "labels": None if labels is None else labels.clone(),
                                 "mask": None if mask_logits is None else mask_logits.clone(),
                                 "multimask": multimask, "gate_absent": gate_absent})
            return decode(embedding, high_res, points, labels, mask_logits, multimask, gate_absent)

        monkeypatch.setattr(model, "encode_image", spy_encode)
        monkeypatch.setattr(model, "decode", spy_decode)

    def clear(self) -> None:
        self.encoded.clear()
        self.decoded.clear()


def user_prompts(mask_crop: np.ndarray) -> tuple[list[float], np.ndarray]:
    """What a user would give our predictor on the crop: the box around the object's pixels
    (edges after the last pixel, as the editor's box tool) and the mask as ±10 logits."""
    ys, xs = np.nonzero(mask_crop)
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    return box, np.where(mask_crop, 10.0, -10.0).astype(np.float32)


@pytest.mark.parametrize("tile_scale", [4.0, 1.0])  # one crop; overlapping tiles
def test_the_decoder_gets_what_a_user_would_give_the_image_predictor(small_model, car, monkeypatch, tile_scale):
    frame, mask = car
    params = DetailParams(min_gain=0, tile_scale=tile_scale)
    p = plan(mask, small_model.image_size, params)
    assert (len(p.tiles) == 1) == (tile_scale == 4.0)
    spy = Spy(small_model, monkeypatch)
    seg = PredictorSegmenter(small_model)
    ours, _ = crop_logits(frame, mask, seg, p)
    ours_calls = (list(spy.encoded), list(spy.decoded))
    spy.clear()
    user = ImagePredictor(small_model)
    parts = []
    for tile in p.tiles:
        crop, part = frame[tile.slices], mask[tile.slices]
        if not part.any():
            continue
        box, mask_input = user_prompts(part)
        user.set_image(np.ascontiguousarray(crop))
        parts.append((tile, user.predict(box=box, mask_input=mask_input, multimask=False, full_logits=True)))
    assert len(spy.decoded) == len(ours_calls[1]) == len(parts) >= 1
    for a, b in zip(ours_calls[0], spy.encoded):
        assert torch.equal(a, b)  # the same crop, at the model's input size
    for a, b in zip(ours_calls[1], spy.decoded):
        assert torch.equal(a["labels"], b["labels"]) and a["labels"].tolist() == [[2, 3]]  # a box
        assert torch.equal(a["points"], b["points"]) and torch.equal(a["mask"], b["mask"])
        assert a["multimask"] is b["multimask"] is False and a["gate_absent"] == b["gate_absent"]
    if len(parts) == 1:
        tile, pred = parts[0]
        np.testing.assert_array_equal(ours, pred.full_logits[0])
        assert np.array_equal(ours > 0, pred.masks[0])


def test_the_result_is_the_matte_of_the_frame_and_the_frame_share_is_reported(small_model, car):
    frame, mask = car
    result = detail_pass(frame, mask, PredictorSegmenter(small_model), DetailParams(min_gain=0))
    assert result.refined and result.skipped is None
    matte = result.matte(mask.shape)
    assert matte.shape == mask.shape and matte.dtype == np.float32
    assert 0 <= matte.min() and matte.max() <= 1
    r = result.region
    assert np.all(matte[: r.y0] == 0) and np.all(matte[r.y1:] == 0)
    assert 0 < result.encoded_fraction <= sum(t.area for t in result.tiles) / mask.size
    box = mask_box(mask)
    assert r.x0 <= box.x0 and r.x1 >= box.x1
    print(f"\ndetail pass, random weights @ {small_model.image_size}px, {mask.shape[1]}×{mask.shape[0]}: "
          f"{result.seconds * 1000:.0f} ms, {len(result.tiles)} tile(s), "
          f"{100 * result.encoded_fraction:.0f}% of the frame encoded")


def test_nothing_to_gain_is_left_as_tracked():
    class Never:
        input_size = 1024

        def __call__(self, *a):  # noqa: ANN002
            raise AssertionError("the model must not run")

    frame = np.zeros((480, 854, 3), np.uint8)
    empty = np.zeros((480, 854), bool)
    tiny = empty.copy()
    tiny[10:20, 10:20] = True
    whole = np.ones((480, 854), bool)
    for mask, why in ((empty, "not in this frame"), (tiny, "100 pixels"), (whole, "sharper")):
        result = detail_pass(frame, mask, Never())
        assert not result.refined and why in result.skipped and result.matte(mask.shape) is None
