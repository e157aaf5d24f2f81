"""Bounded caches: evicted state is recomputed, and results do not change when it is exact."""

from __future__ import annotations

import numpy as np
import torch

import pytest

from sam2_studio.engine.postprocess import decode_mask, encode_mask, fill_holes, fill_holes_on_device, non_overlapping
from tests.reference import connected_components_cpu


def test_evicted_memories_are_recomputed_exactly(make_session):
    full = make_session()
    tight = make_session(keep_memories=1, feature_cache=1)
    for s in (full, tight):
        s.add_points(0, 1, [[20, 45]], [1])
        list(s.propagate())
    evicted = [t for t, r in tight._tracks[1].committed.items() if r.memory is None]
    assert len(evicted) >= 8
    # A correction in the middle needs the evicted memories of the frames before it.
    for s in (full, tight):
        s.add_points(8, 1, [[70, 45]], [0])
        list(s.propagate(start=8))
    for t in range(12):
        np.testing.assert_array_equal(full.mask(t, 1), tight.mask(t, 1))
    assert tight.features.encoded > full.features.encoded  # it paid with recomputation


def test_records_keep_no_full_resolution_results_after_a_run(make_session):
    """The results thread's job holds the frame's full-resolution masks: a record that keeps
    it leaks ~2 MB per frame at 1080p (measured: 2.2 GB per 1000 frames before this test)."""
    s = make_session()
    s.add_points(0, 1, [[20, 45]], [1])
    s.add_points(0, 2, [[120, 45]], [1])
    list(s.propagate())
    records = [r for t in s._tracks.values() for r in t.committed.values()]
    assert len(records) >= 20
    assert all(r.job is None and r.has_host for r in records)


def test_masks_are_stored_compressed(make_session):
    s = make_session(keep_logits=2)
    s.add_points(0, 1, [[20, 45]], [1])
    list(s.propagate())
    recs = s._tracks[1].committed
    assert sum(r.logits is not None for r in recs.values()) <= 3  # prompted frame + the 2 newest
    assert all(len(r.mask_data) < 2000 for r in recs.values())
    assert s.result(5).masks[1].shape == (96, 160)


def test_mask_codec_round_trip():
    m = np.zeros((97, 131), bool)
    m[10:50, 20:90] = True
    assert np.array_equal(decode_mask(encode_mask(m)), m)


def test_hole_filling_matches_the_reference_rule():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 64, 64, generator=g) + 1.5  # mostly foreground, many small holes
    filled = fill_holes(logits, 8)
    labels, areas = connected_components_cpu(logits <= 0)
    expected = torch.where((labels > 0) & (areas <= 8), torch.tensor(0.1), logits)
    assert torch.equal(filled, expected)
    assert not torch.equal(filled, logits)
    assert fill_holes(logits, 0) is logits


@pytest.mark.parametrize(("height", "width", "offset"), [(64, 64, 1.5), (37, 91, 0.5), (256, 256, 1.0), (16, 16, -0.5)])
def test_hole_filling_on_the_device_equals_opencv(height, width, offset):
    """The tensor-only labelling the accelerators use gives OpenCV's result for every area."""
    g = torch.Generator().manual_seed(height)
    logits = torch.randn(3, 1, height, width, generator=g) + offset
    logits[0, 0, :, width // 2] = -1.0  # a long thin background region: many labels, never small
    labels, areas = connected_components_cpu(logits <= 0)
    for area in (1, 2, 8, 20):
        expected = torch.where((labels > 0) & (areas <= area), torch.tensor(0.1), logits)
        assert torch.equal(fill_holes_on_device(logits, area), expected), f"max area {area}"
        assert torch.equal(fill_holes(logits, area), expected)


def test_non_overlap_keeps_the_best_object():
    a = torch.tensor([[[[3.0, -1.0], [2.0, 5.0]]]])
    b = torch.tensor([[[[1.0, 4.0], [6.0, -2.0]]]])
    out = non_overlapping(torch.cat([a, b]))
    assert ((out > 0).sum(0) <= 1).all()
    assert out[0, 0, 0, 0] == 3.0 and out[1, 0, 0, 0] == -10.0
