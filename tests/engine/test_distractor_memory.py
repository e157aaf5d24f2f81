"""The distractor-aware memory (SAM2.1++): its update rules, one by one, and a session using it."""

from __future__ import annotations

import numpy as np
import torch

from sam2_studio.engine import DistractorAwareMemory, DistractorRule, FrameEvidence, FrameRecord, ObjectTrack
from sam2_studio.engine.distractor import bounding_box, box_iou, largest_component
from sam2_studio.engine.records import HostFacts


def square(h=64, w=64, x=10, y=10, side=12):  # noqa: ANN001
    m = np.zeros((h, w), bool)
    m[y : y + side, x : x + side] = True
    return m


def record(area: int = 100, score: float = 2.0, cond: bool = False) -> FrameRecord:
    rec = FrameRecord(cond, None, torch.zeros(1, 256), torch.full((1, 1), score), False)
    rec.set_host(HostFacts(score, 0.9, area, b""))
    return rec


def test_box_helpers():
    assert bounding_box(square(x=5, y=7, side=3)) == (5, 7, 7, 9)
    assert bounding_box(np.zeros((4, 4), bool)) is None
    assert box_iou((0, 0, 9, 9), (0, 0, 9, 9)) == 1.0
    assert abs(box_iou((0, 0, 9, 9), (5, 0, 14, 9)) - 50 / 150) < 1e-9
    two = square(x=2, side=3) | square(x=30, side=6)
    assert largest_component(two).sum() == 36


def test_reliability_needs_confidence_and_usual_size():
    rule = DistractorRule()
    ev = FrameEvidence(square(side=10), 0.9, [])
    assert rule.reliable(ev, [100, 100, 100])
    assert not rule.reliable(FrameEvidence(square(side=10), 0.8, []), [100, 100, 100])  # IoU must exceed 0.8
    assert not rule.reliable(ev, [150, 150, 100])  # 100 / median 150 = 0.67 < 0.8
    assert not rule.reliable(ev, [70, 70, 100])  # 100 / 70 = 1.43 > 1.2
    assert not rule.reliable(ev, [100])  # no history yet


def test_a_separate_alternative_reveals_a_distractor():
    rule = DistractorRule()
    target = square(x=5, side=10)
    far = square(x=40, side=10)  # another candidate elsewhere: a look-alike
    assert rule.distractor_present(FrameEvidence(target, 0.95, [far | target, target]))
    grown = square(x=5, side=11)  # a candidate that only grows the target: no distractor
    assert not rule.distractor_present(FrameEvidence(target, 0.95, [grown, target]))
    assert not rule.distractor_present(FrameEvidence(target, 0.95, []))


def test_ram_refreshes_every_fifth_frame_and_never_while_absent():
    policy = DistractorAwareMemory()
    track = ObjectTrack(1)
    track.commit(0, record(cond=True))
    policy.start_run(track, 0, reverse=False)
    flags = []
    for t in range(1, 16):
        absent = 6 <= t <= 11
        rec = record(area=0 if absent else 100, score=-1.0 if absent else 2.0)
        policy.observe(track, t, rec, None)
        track.commit(t, rec)
        flags.append(rec.ram)
    ram_frames = [t for t, f in zip(range(1, 16), flags) if f]
    assert ram_frames == [5, 12]  # every 5th frame while present; the gap waits for the object
    sel = policy.select(track, 16, reverse=False, num_frames=20)
    assert sel.spatial[0] == (0, 6)  # the prompted frame, no temporal encoding
    assert sel.spatial[1:] == [(5, 1), (12, 0)]  # RAM, most recent in slot 0
    assert [p[0] for p in sel.pointers][:2] == [0, 15]


def test_drm_anchor_taken_when_reliable_with_a_distractor_and_spaced():
    policy = DistractorAwareMemory()
    track = ObjectTrack(1)
    track.commit(0, record(cond=True))
    policy.start_run(track, 0, reverse=False)
    target, far = square(x=5, side=10), square(x=40, side=10)
    anchors = []
    for t in range(1, 14):
        rec = record(area=100)
        policy.observe(track, t, rec, FrameEvidence(target, 0.95, [far | target]))
        track.commit(t, rec)
        if rec.drm:
            anchors.append(t)
    assert anchors == [2, 7, 12]  # needs history first, then at least 5 frames apart
    sel = policy.select(track, 13, reverse=False, num_frames=20)
    drm = [s for s in sel.spatial[1:] if s[1] == 6]
    assert [t for t, _ in drm] == [12, 7, 2]  # nearest first, attended like prompted frames
    assert policy.pinned(track) == {0, 2, 7, 12}


def test_session_with_the_distractor_aware_memory(make_session):
    s = make_session(memory_policy="distractor_aware")
    s.add_points(0, 1, [[20, 45]], [1])
    results = list(s.propagate())
    assert [r.frame for r in results] == list(range(12))
    track = s._tracks[1]
    assert any(r.ram for r in track.committed.values())
