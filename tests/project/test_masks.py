import numpy as np
import pytest

from sam2_studio.project.masks import EncodedMask, MaskDataError, RunLengthCodec


@pytest.mark.parametrize("mask", [
    np.zeros((4, 5), bool),
    np.ones((4, 5), bool),
    np.eye(7, dtype=bool),
    np.indices((9, 11)).sum(axis=0) % 2 == 0,          # checkerboard: a run per pixel
    np.zeros((1, 1), bool), np.ones((1, 1), bool),
    np.zeros((0, 3), bool),
    np.random.default_rng(1).random((37, 53)) > 0.5,
])
def test_round_trip_is_exact(mask):
    enc = EncodedMask.encode(mask)
    assert enc.area == mask.sum() and enc.shape == mask.shape
    out = enc.decode()
    assert out.dtype == bool and np.array_equal(out, mask)


def test_long_runs_of_a_4k_frame():
    mask = np.zeros((2160, 3840), bool)
    mask[2000:, 3000:] = True     # runs up to ~7.7 million pixels: 4-byte varints
    enc = EncodedMask.encode(mask)
    assert len(enc.data) < 100_000
    assert np.array_equal(enc.decode(), mask)


def test_an_object_mask_is_small():
    yy, xx = np.mgrid[:480, :854]
    mask = (xx - 400) ** 2 / 150 ** 2 + (yy - 240) ** 2 / 90 ** 2 < 1
    assert len(EncodedMask.encode(mask).data) < 1500  # 400 kB raw


def test_accepts_0_1_integers_and_refuses_other_values():
    assert np.array_equal(EncodedMask.encode(np.array([[0, 1]], np.uint8)).decode(), [[False, True]])
    with pytest.raises(ValueError):
        EncodedMask.encode(np.array([[0, 255]], np.uint8))
    with pytest.raises(ValueError):
        EncodedMask.encode(np.zeros(5, bool))


def test_damaged_data_is_detected():
    codec = RunLengthCodec()
    good = codec.encode(np.eye(5, dtype=bool))
    with pytest.raises(MaskDataError):
        codec.decode(good[:-3], (5, 5))
    with pytest.raises(MaskDataError):
        codec.decode(good, (5, 6))                     # the runs do not cover the frame
    import zlib
    with pytest.raises(MaskDataError):
        codec.decode(zlib.compress(b"\x85"), (5, 5))   # ends inside a varint
