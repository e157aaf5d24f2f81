"""The model's evidence on every result: object score, predicted IoU, candidate agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sam2_studio.engine import candidate_agreement


def test_candidate_agreement():
    a = torch.full((1, 3, 8, 8), -1.0)
    a[0, :, 2:6, 2:6] = 1.0  # three identical candidates
    assert candidate_agreement(a, torch.tensor([1])).item() == pytest.approx(1.0)
    b = a.clone()
    b[0, 1] = -1.0
    b[0, 1, 0:2, 0:2] = 1.0  # one candidate elsewhere, one identical
    assert candidate_agreement(b, torch.tensor([0])).item() == pytest.approx(0.5)
    batch = torch.cat([a, b])
    assert candidate_agreement(batch, torch.tensor([0, 0])).tolist() == pytest.approx([1.0, 0.5])
    assert math.isnan(candidate_agreement(a[:, :1], torch.tensor([0])).item())  # one candidate


def test_every_result_carries_the_models_evidence(make_session, clip):
    s = make_session()
    r = s.add_points(0, 1, [[25, 45]], [1])  # one click: three candidates
    q = r.quality[1]
    assert q.object_score == r.scores[1]
    assert 0.0 <= q.agreement <= 1.0 and q.iou is not None
    s.add_points(0, 3, [[100, 20]], [1])  # a second object: both tracked in one batched step
    results = list(s.propagate(start=0, end=2))
    assert [r.computed for r in results] == [(), (1, 3), (1, 3)]
    for result in results[1:]:
        for obj in (1, 3):
            q = result.quality[obj]
            assert q.object_score == result.scores[obj]
            assert q.agreement is not None and 0.0 <= q.agreement <= 1.0
            # the results thread's numbers are the record's: asked again, the same
            assert s.result(result.frame).quality[obj] == q
    painted = np.zeros(clip[0].shape[:2], bool)
    painted[30:60, 40:70] = True
    q2 = s.add_mask(4, 2, painted).quality[2]  # a mask the user gave: one candidate, IoU 1
    assert q2.agreement is None and q2.iou == 1.0
