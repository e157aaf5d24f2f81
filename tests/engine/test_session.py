"""Behaviour of a session: prompts, directions, limits, cancellation, stale ranges, bad calls."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sam2_studio.engine import FrameResult


def frames_of(results) -> list[int]:  # noqa: ANN001
    return [r.frame for r in results]


def test_each_prompt_type_returns_every_objects_masks(make_session):
    s = make_session()
    r = s.add_points(2, 1, [[40, 45]], [1])
    assert isinstance(r, FrameResult) and r.frame == 2 and list(r.masks) == [1]
    assert r.masks[1].shape == (96, 160) and r.masks[1].dtype == bool
    r = s.add_box(2, 2, [80, 20, 140, 80])
    assert list(r.masks) == [1, 2] and r.computed == (2,)
    mask = np.zeros((96, 160), bool)
    mask[30:60, 20:50] = True
    r = s.add_mask(5, 3, mask)
    assert list(r.masks) == [1, 2, 3]
    # A mask prompt is taken as the object's mask on that frame.
    assert (r.masks[3] == mask).mean() > 0.97
    assert not r.masks[1].any() and not r.masks[2].any()  # nothing known yet on frame 5
    r = s.add_box(2, 2, [80, 20, 140, 80], points=[[100, 50]], labels=[0])
    assert s.prompted_frames() == {1: [2], 2: [2], 3: [5]}


def test_forward_backward_and_both(make_session):
    s = make_session()
    s.add_points(4, 1, [[40, 45]], [1])
    assert frames_of(s.propagate()) == list(range(4, 12))
    assert frames_of(s.propagate(direction="backward")) == [4, 3, 2, 1, 0]
    assert frames_of(s.propagate(start=6, direction="both")) == list(range(6, 12)) + [6, 5, 4, 3, 2, 1, 0]
    assert frames_of(s.propagate(start=7, direction="forward", end=9)) == [7, 8, 9]
    assert frames_of(s.propagate(start=7, direction="backward", end=5)) == [7, 6, 5]
    for f in range(12):
        assert s.mask(f, 1) is not None


def test_in_and_out_points_bound_propagation(make_session):
    s = make_session()
    s.add_points(5, 1, [[60, 45]], [1])
    s.set_range(3, 8)
    assert frames_of(s.propagate(direction="both")) == [5, 6, 7, 8, 5, 4, 3]
    assert s.mask(9, 1) is None and s.mask(2, 1) is None
    with pytest.raises(ValueError, match="after out point"):
        s.set_range(8, 3)


def test_cancel_mid_propagation_then_keep_editing(make_session):
    s = make_session()
    s.add_points(0, 1, [[20, 45]], [1])
    gen = s.propagate()
    got = [next(gen).frame for _ in range(4)]
    gen.close()  # the user pressed Esc
    assert got == [0, 1, 2, 3]
    assert s.mask(3, 1) is not None and s.mask(4, 1) is None
    s.add_points(2, 1, [[30, 45]], [0])  # a correction on a tracked frame
    s.add_points(6, 2, [[100, 45]], [1])
    assert frames_of(s.propagate(start=2)) == list(range(2, 12))
    assert all(s.mask(f, 1) is not None for f in range(12))


def test_a_correction_is_conditioning_and_refines_the_frame(make_session):
    s = make_session()
    s.add_points(0, 1, [[20, 45]], [1])
    list(s.propagate())
    before = s.mask(6, 1).copy()
    after = s.add_points(6, 1, [[55, 45]], [0]).masks[1]
    assert not np.array_equal(before, after), "the negative click must change the mask"
    list(s.propagate(start=6))
    track = s._tracks[1]
    assert track.committed[6].is_cond and 6 in track.cond_order


def test_stale_ranges_after_edits(make_session):
    s = make_session()
    s.add_points(2, 1, [[30, 45]], [1])
    assert s.stale_ranges() == {1: []}
    list(s.propagate(direction="both"))
    s.add_points(8, 1, [[70, 45]], [0])  # correction: frames after the prompt at 2 are stale
    assert s.stale_ranges() == {1: [(3, 7), (9, 11)]}
    computed = frames_of(s.propagate(start=8, only_stale=True))
    assert computed == [9, 10, 11]  # forward only up to the clip end, nothing beyond
    computed = frames_of(s.propagate(start=8, direction="backward", only_stale=True))
    assert computed == [7, 6, 5, 4, 3]  # stops at the previous prompt
    assert s.stale_ranges() == {1: []}
    s.clear_frame(8, 1)
    assert s.stale_ranges() == {1: [(3, 11)]}
    # A new object needs tracking everywhere; the other stays as it is.
    s2 = make_session()
    s2.add_points(0, 1, [[20, 45]], [1])
    list(s2.propagate())
    s2.add_points(5, 2, [[100, 45]], [1])
    results = list(s2.propagate(start=0, only_stale=True))
    assert all(r.computed == (2,) for r in results)


def test_clear_remove_and_reset(make_session):
    s = make_session()
    s.add_points(3, 1, [[40, 45]], [1])
    s.add_points(3, 2, [[90, 45]], [1])
    list(s.propagate())
    r = s.clear_frame(3, 2)
    assert s.prompted_frames() == {1: [3], 2: []}
    assert 2 in r.masks  # its tracked result stays, no longer conditioning
    assert s.remove_object(2) == []
    assert s.object_ids == [1]
    with pytest.raises(ValueError, match="unknown object"):
        s.remove_object(2)
    s.reset()
    assert s.object_ids == []
    with pytest.raises(ValueError, match="no object has a prompt"):
        s.propagate()


def test_non_overlapping_objects(make_session):
    s = make_session(non_overlapping=True)
    s.add_box(0, 1, [10, 20, 80, 80])
    r = s.add_box(0, 2, [30, 20, 110, 80])
    assert not (r.masks[1] & r.masks[2]).any()


def snapshot(session):  # noqa: ANN001
    return copy.deepcopy({k: (set(t.prompts), set(t.pending), set(t.committed), list(t.cond_order)) for k, t in session._tracks.items()})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.add_points(12, 1, [[10, 10]], [1]), "outside the clip"),
        (lambda s: s.add_points(-1, 1, [[10, 10]], [1]), "outside the clip"),
        (lambda s: s.add_points(0, 1, [], []), "no points"),
        (lambda s: s.add_points(0, 1, [[10, 10]], [1, 0]), "labels"),
        (lambda s: s.add_points(0, 1, [[10, 10]], [5]), "labels must be"),
        (lambda s: s.add_points(0, 1, [[500, 10]], [1]), "inside the 160x96 frame"),
        (lambda s: s.add_box(0, 1, [200, 120, 260, 150]), "outside the 160x96 frame"),
        (lambda s: s.add_box(0, 1, [50, 50, 40, 60]), "no area"),
        (lambda s: s.add_mask(0, 1, np.zeros((10, 10), bool)), "the clip is 160x96"),
        (lambda s: s.clear_frame(0, 99), "unknown object"),
        (lambda s: s.propagate(direction="sideways"), "direction"),
        (lambda s: s.propagate(start=40), "outside the clip"),
        (lambda s: s.propagate(start=5, end=2), "not forward"),
    ],
)
def test_bad_calls_raise_and_leave_the_session_unchanged(make_session, call, message):
    s = make_session()
    s.add_points(1, 1, [[40, 45]], [1])
    before = snapshot(s)
    with pytest.raises(ValueError, match=message):
        call(s)
    assert snapshot(s) == before
