"""Objects advance together in one batched model call per frame, with the same results as one
by one; a frame computed ahead and not handed out is taken back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_studio.engine.batch import group_by_layout, same_or_each
from sam2_studio.engine.memory_bank import MemorySelection


def scripted(session):  # noqa: ANN001
    """Two objects prompted together (same layout), a third added later (its own layout until
    its pointers fill up), tracked both ways; masks and logits of every object-frame."""
    session.add_points(0, 1, [[20, 45]], [1])
    session.add_points(0, 2, [[100, 20]], [1])
    session.add_box(3, 3, [60, 20, 120, 80])
    masks = {}
    for r in session.propagate(direction="both"):
        for obj, m in r.masks.items():
            masks[(r.frame, obj)] = m
    logits = {(f, o): rec.logits for o, t in session._tracks.items() for f, rec in t.committed.items()
              if rec.logits is not None}
    return masks, logits


def test_batched_objects_give_the_one_by_one_results(make_session):
    one, one_logits = scripted(make_session(batch_objects=False))
    calls = []
    batched_session = make_session()
    decode = batched_session.model.decode

    def counting(embedding, *args, **kw):  # noqa: ANN001, ANN002, ANN003
        calls.append(embedding.shape[0])
        return decode(embedding, *args, **kw)

    batched_session.model.decode = counting
    try:
        batched, batched_logits = scripted(batched_session)
    finally:
        del batched_session.model.decode
    assert max(calls) == 3, "all three objects must share a call once their layouts agree"
    assert one.keys() == batched.keys() and len(one) == 36
    for key in one:
        np.testing.assert_array_equal(one[key], batched[key], err_msg=f"frame, object {key}")
    assert one_logits.keys() == batched_logits.keys()
    worst = max(((one_logits[k] - batched_logits[k]).abs().max() / (1 + one_logits[k].abs().max())).item()
                for k in one_logits)
    assert worst < 1e-5  # the batched GEMMs round differently in the last bits, nothing more
    assert np.mean([m.mean() for m in one.values()]) > 0.01  # the objects are there


def test_grouping_by_memory_layout():
    a = MemorySelection([(0, 6), (4, 5)], [(0, 5)])
    b = MemorySelection([(0, 6), (3, 4)], [(0, 6)])  # same layout, other frames and distances
    c = MemorySelection([(2, 6)], [(2, 3)])
    assert group_by_layout([a, b, c]) == [[0, 1], [2]]
    assert group_by_layout([a, b, c], batch=False) == [[0], [1], [2]]
    assert same_or_each([6, 6]) == 6 and same_or_each([5, 4]) == (5, 4)


def test_per_row_temporal_positions_equal_single_rows(small_model):
    """One batched call where rows remember frames at different distances gives each row's own
    single-object result."""
    from sam2_studio.model import PointerMemory, SpatialMemory

    m = small_model
    g = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        feats = m.encode_image(torch.randn(1, 3, m.image_size, m.image_size, generator=g))
        h = feats.embedding.shape[-1]
        mem = torch.randn(2, m.config.mem_dim, h, h, generator=g)
        pos = m.memory_encoder.position_encoding(mem[:1])
        ptr = torch.randn(2, m.config.d_model, generator=g)
        both = m.condition_on_memory(feats, [SpatialMemory(mem, pos, (6, 2))], [PointerMemory(ptr, (3, 9))], 15)
        for i, (slot, off) in enumerate(((6, 3), (2, 9))):
            alone = m.condition_on_memory(feats, [SpatialMemory(mem[i : i + 1], pos, slot)],
                                          [PointerMemory(ptr[i : i + 1], off)], 15)
            torch.testing.assert_close(both[i : i + 1], alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("depth", [0, 1])
def test_a_stop_keeps_exactly_the_frames_handed_out(make_session, depth):
    """With a frame computed ahead (depth 1, the accelerator default) a stop takes that frame
    back: the session and what the user saw agree."""
    s = make_session(pipeline_depth=depth)
    s.add_points(0, 1, [[20, 45]], [1])
    s.add_points(0, 2, [[100, 20]], [1])
    gen = s.propagate()
    got = [next(gen).frame for _ in range(4)]
    gen.close()
    assert got == [0, 1, 2, 3]
    for obj in (1, 2):
        assert s.mask(3, obj) is not None and s.mask(4, obj) is None
        assert 4 not in s._tracks[obj].tracked
    assert [r.frame for r in s.propagate(start=3)] == list(range(3, 12))


def test_pipelined_results_equal_step_by_step(make_session):
    step, _ = scripted(make_session(pipeline_depth=0))
    ahead, _ = scripted(make_session(pipeline_depth=2))
    assert step.keys() == ahead.keys()
    for key in step:
        np.testing.assert_array_equal(step[key], ahead[key])


def test_graph_cache_runs_steps_directly_off_cuda():
    """CUDA graphs are captured only on a CUDA device; elsewhere every call runs the step
    (the GPU run in bench/gpu.py compares graphs with no graphs: every mask identical)."""
    from sam2_studio.engine.graphs import GraphCache

    calls = []

    def step(x):  # noqa: ANN001, ANN202
        calls.append(1)
        return (x * 2,)

    cache = GraphCache(None, after=1)
    x = torch.ones(3)
    for _ in range(3):
        (y,) = cache.run(("k",), step, x)
        assert torch.equal(y, x * 2)
    assert len(calls) == 3 and cache.captures == 0 and cache.replays == 0
