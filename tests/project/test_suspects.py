"""The suspect-frame detector: each kind of fault on a synthetic track, what it must not
flag, how the threshold moves it, and the measured rates on ../shared/data with injected
faults (the numbers bench/suspects.py reports in full)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sam2_studio.project.suspects import (Reason, SuspectRules, TrackSeries, continuity,
                                          model_confidence, review_track)
from tests.faults import KINDS, Tally, every_nth, plan_faults, track_with_faults
from tests.ground_truth import load_clip

N = 24


def series(area=None, cx=None, cy=None, **kw) -> TrackSeries:  # noqa: ANN001
    """A steady object (1000 px, centred at 100, 50) unless told otherwise."""
    area = list(area) if area is not None else [1000] * N
    n = len(area)
    return TrackSeries.build(list(range(n)), area, list(cx) if cx is not None else [100.0] * n,
                             list(cy) if cy is not None else [50.0] * n, **kw)


def flagged(s: TrackSeries, rules: SuspectRules | None = None) -> dict[int, tuple[str, ...]]:
    return {x.frame: tuple(r.value for r in x.reasons) for x in review_track(s, rules).suspects}


def with_(values, at: dict[int, float]):  # noqa: ANN001, ANN201
    out = list(values)
    for k, v in at.items():
        out[k] = v
    return out


def test_a_steady_track_and_smooth_change_are_not_suspect():
    assert flagged(series()) == {}
    growing = [1000 * 1.04 ** i for i in range(N)]  # 4 % a frame: a car coming closer
    moving = [100 + 6 * i for i in range(N)]  # 0.19 object sizes a frame
    assert flagged(series(growing, moving)) == {}


def test_each_fault_kind_is_flagged_and_the_return_is_not():
    base = [1000] * N
    assert flagged(series(with_(base, {5: 0}))) == {5: ("vanished",)}
    assert flagged(series(with_(base, {5: 500}))) == {5: ("area",)}  # half cut away
    assert flagged(series(with_(base, {5: 300_000}))) == {5: ("area",)}  # the whole frame
    assert flagged(series(cx=with_([100.0] * N, {5: 160.0}))) == {5: ("jump",)}  # swapped
    # a run of three, then back as before: every frame of it, and not the frame it ends on
    assert flagged(series(with_(base, {5: 500, 6: 520, 7: 490}))) == {5: ("area",), 6: ("area",), 7: ("area",)}
    # lost, then a wrong half, then right again: both frames
    assert flagged(series(with_(base, {5: 0, 6: 500}))) == {5: ("vanished",), 6: ("area",)}


def test_lasting_changes_are_flagged_once_at_their_onset():
    moved = [100.0] * 5 + [170.0] * (N - 5)  # followed something else from frame 5 on
    assert flagged(series(cx=moved)) == {5: ("jump",)}
    gone = [1000] * 10 + [0] * (N - 10)  # left the picture
    assert flagged(series(gone)) == {10: ("vanished",)}
    occluded = with_([1000] * N, {f: 0 for f in range(5, 15)})  # longer than a fault: is it the same object after?
    assert flagged(series(occluded)) == {5: ("vanished",), 15: ("reappeared",)}
    enters = [0] * 5 + [1000] * (N - 5)
    assert flagged(series(enters)) == {5: ("reappeared",)}


def test_a_long_fault_is_two_changes():
    run = with_([1000] * N, {f: 500 for f in range(5, 12)})  # 7 frames: longer than max_fault_frames
    assert flagged(series(run)) == {5: ("area",), 12: ("area",)}
    assert flagged(series(run), SuspectRules(max_fault_frames=8)) == {f: ("area",) for f in range(5, 12)}


def test_the_model_being_unsure_is_suspect_and_missing_evidence_is_not():
    score = with_([8.0] * N, {7: 0.4})  # the object-score head undecided
    iou = with_([0.93] * N, {9: 0.3})
    agreement = with_([0.85] * N, {11: 0.1})  # candidates covering different regions
    found = flagged(series(object_score=score, iou=iou, agreement=agreement))
    assert found == {7: ("unsure",), 9: ("unsure",), 11: ("unsure",)}
    # no numbers at all (painted masks, an engine without heads): the geometry decides alone
    s = series(with_([1000] * N, {5: 500}))
    assert np.isnan(s.iou).all() and flagged(s) == {5: ("area",)}
    assert model_confidence(series(), SuspectRules()).min() == 1.0
    # a clear "absent" is not doubt; an undecided one is
    absent = series(with_([1000] * N, {20: 0, 21: 0, 22: 0, 23: 0}),
                    object_score=with_([8.0] * N, {20: -8.0, 21: -8.0, 22: -0.2, 23: -8.0}))
    assert flagged(absent) == {20: ("vanished",), 22: ("unsure",)}


def test_prompted_frames_are_trusted_and_checked_ones_are_marked():
    s = series(with_([1000] * N, {5: 500}), prompted=[i == 5 for i in range(N)])
    assert 5 not in flagged(s)
    s = series(with_([1000] * N, {5: 500}), checked=[i == 5 for i in range(N)])
    (suspect,) = review_track(s).suspects
    assert suspect.frame == 5 and suspect.checked and review_track(s).open_suspects() == []


def test_the_threshold_moves_every_criterion_and_confidence_is_below_it_where_flagged():
    s = series(with_([1000] * N, {5: 700}))  # a 30 % drop: between the rules' limits
    assert flagged(s) == {}
    assert flagged(s, SuspectRules(threshold=0.8)) == {5: ("area",)}
    verdict = review_track(s, SuspectRules(threshold=0.8))
    assert verdict.confidence_at(5) < 0.8 <= verdict.confidence_at(10)
    # each rule's limit scores exactly one half
    a = series([1000, 1500], cx=[0.0, 0.0])
    assert continuity(a, 0, 1, SuspectRules())[0] == pytest.approx(0.5)
    b = series([1000, 1000], cx=[0.0, 0.5 * math.sqrt(1000)])
    assert continuity(b, 0, 1, SuspectRules()) == (pytest.approx(0.5), Reason.JUMP)
    with pytest.raises(ValueError):
        SuspectRules(threshold=1.5)


def test_gaps_in_tracking_are_not_compared():
    frames = list(range(10)) + list(range(30, 40))  # never tracked in between
    s = TrackSeries.build(frames, [1000] * 10 + [3000] * 10, [100.0] * 10 + [400.0] * 10, [50.0] * 20)
    assert flagged(s) == {}


@pytest.fixture(scope="module")
def car(data_dir):
    return load_clip(data_dir / "davis16_car-shadow")


@pytest.mark.parametrize("step", [1, 2])
def test_injected_faults_on_the_car_clip_are_found_and_clean_frames_pass(car, step):
    """The issue's bar, on a few seeds: at least 90 % of every kind found, at most 5 % of
    clean frames flagged (bench/suspects.py measures more seeds and a held-out set)."""
    clip = every_nth(car, step) if step > 1 else car
    total = Tally()
    for seed in range(4):
        faults = plan_faults(len(clip.frames), np.random.default_rng((seed, 99)), every=6)
        total.add(track_with_faults(clip, faults, seed))
    assert set(total.injected) == set(KINDS)
    for kind in KINDS:
        assert total.found[kind] >= 0.9 * total.injected[kind], (kind, total)
    assert total.false_alarms <= 0.05 * total.clean, total
    clean = track_with_faults(clip, [], 7)
    assert clean.false_alarms == 0
