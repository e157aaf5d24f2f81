"""Work done ahead of a click: ``prefetch`` encodes the frame (and attends to an object's memory
on a tracked frame), so the click runs only the decoder, with the very same answer."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def counted(monkeypatch, small_model):
    """How often the image encoder and memory attention run."""
    calls = {"encode": 0, "attend": 0}
    encode, attend = small_model.encode_image, small_model.attend_memory

    def counting_encode(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        calls["encode"] += 1
        return encode(*a, **kw)

    def counting_attend(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        calls["attend"] += 1
        return attend(*a, **kw)

    monkeypatch.setattr(small_model, "encode_image", counting_encode)
    monkeypatch.setattr(small_model, "attend_memory", counting_attend)
    return calls


def test_a_click_where_the_playhead_rested_reuses_the_encoded_frame(make_session, counted):
    s = make_session()
    s.prefetch(3)
    assert counted["encode"] == 1
    r = s.add_points(3, 1, [[40, 45]], [1])
    assert counted["encode"] == 1, "the click encoded the frame again"
    plain = make_session().add_points(3, 1, [[40, 45]], [1])
    assert np.array_equal(r.masks[1], plain.masks[1])
    s.prefetch(3)  # already there: nothing runs
    assert counted["encode"] == 2  # one for the plain session


def test_a_correction_on_a_tracked_frame_reuses_the_prefetched_attention(make_session, counted, clip):
    s, plain = make_session(clip[:7]), make_session(clip[:7])
    for session in (s, plain):
        session.add_points(0, 1, [[20, 45]], [1])
        list(session.propagate())
    attended = counted["attend"]
    s.prefetch(6, 1)
    assert counted["attend"] == attended + 1
    r = s.add_points(6, 1, [[50, 45]], [0])
    assert counted["attend"] == attended + 1, "the correction ran memory attention again"
    expected = plain.add_points(6, 1, [[50, 45]], [0])
    assert np.array_equal(r.masks[1], expected.masks[1])
    assert r.masks[1].any() and not np.array_equal(r.masks[1], s.result(5).masks[1])
    # a second click on the same frame reads the same memory: no attention either
    before = counted["attend"]
    s.add_points(6, 1, [[55, 45]], [0], clear=False)
    assert counted["attend"] == before


def test_prefetched_attention_is_not_reused_once_the_memory_changed(make_session, counted, clip):
    s, plain = make_session(clip[:7]), make_session(clip[:7])
    for session in (s, plain):
        session.add_points(0, 1, [[20, 45]], [1])
        list(session.propagate())
    s.prefetch(6, 1)
    for session in (s, plain):  # a correction before frame 6, tracked again: new memories
        session.add_points(4, 1, [[40, 45]], [0])
        list(session.propagate(start=4))
    before = counted["attend"]
    r = s.add_points(6, 1, [[50, 45]], [0])
    assert counted["attend"] == before + 1
    assert np.array_equal(r.masks[1], plain.add_points(6, 1, [[50, 45]], [0]).masks[1])


def test_prefetch_of_an_untracked_frame_or_object_only_encodes(make_session, counted):
    s = make_session()
    s.add_points(0, 1, [[20, 45]], [1])
    s.prefetch(6, 1)  # frame 6 not tracked yet: a click there is an image prompt
    s.prefetch(6, 7)  # an object the session does not know
    assert counted == {"encode": 2, "attend": 0}
    with pytest.raises(ValueError, match="outside the clip"):
        s.prefetch(99)


def test_a_prompt_while_propagation_is_suspended_is_answered_and_kept(make_session, clip):
    """The worker closes the run before a click and starts it again after; a caller that
    prompts while the generator is suspended and then resumes it gets a consistent session
    too: the run does not overwrite the prompted frame."""
    s = make_session(clip[:8])
    s.add_points(0, 1, [[20, 45]], [1])
    run = s.propagate()
    got = [next(run).frame for _ in range(3)]
    answer = s.add_points(6, 1, [[50, 45]], [0]).masks[1]  # ahead of the run, while suspended
    rest = list(run)
    assert got + [r.frame for r in rest] == list(range(8))
    at6 = next(r for r in rest if r.frame == 6)
    assert 1 not in at6.computed and np.array_equal(at6.masks[1], answer)
    assert np.array_equal(s.mask(6, 1), answer)
    assert frames_tracked(s) == list(range(8))
    list(s.propagate(start=6))  # the next run commits the prompt as a conditioning frame
    assert 6 in s._tracks[1].cond_order and np.array_equal(s.mask(6, 1), answer)


def frames_tracked(s) -> list[int]:  # noqa: ANN001
    return sorted(f for f in range(s.num_frames) if s.mask(f, 1) is not None)
