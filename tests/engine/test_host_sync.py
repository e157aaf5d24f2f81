"""The model step never reads a value back to the host, so an accelerator never waits for
Python: no ``.item()``, ``.cpu()``, ``.numpy()``, ``.tolist()`` and no tensor turned into a
Python bool, int or float anywhere in the per-frame model path (checked on the CPU by making
each of those fail while the step runs; a GPU run checks it again with torch's own
synchronisation detector in bench/gpu.py)."""

from __future__ import annotations

import threading

import pytest
import torch

from sam2_studio.engine import session as session_module
from sam2_studio.engine.postprocess import fill_holes_on_device

READS = ("item", "cpu", "numpy", "tolist", "__bool__", "__float__", "__int__", "__index__")


@pytest.fixture
def no_host_reads(monkeypatch):
    """While ``guard.active`` on the calling thread, any host read of a tensor raises."""
    guard = threading.local()
    guard.active = False
    caught: list[str] = []

    def forbid(name, original):  # noqa: ANN001, ANN202
        def wrapper(self, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
            if getattr(guard, "active", False):
                caught.append(name)
                raise AssertionError(f"a host read ({name}) inside the model step")
            return original(self, *args, **kw)

        return wrapper

    for name in READS:
        monkeypatch.setattr(torch.Tensor, name, forbid(name, getattr(torch.Tensor, name)))
    guard.caught = caught
    return guard


@pytest.mark.parametrize("policy", ["sam2"])
def test_the_model_step_reads_nothing_back(make_session, no_host_reads, monkeypatch, policy):
    # On the CPU holes are filled by OpenCV (the data is already on the host); check the
    # device implementation the accelerators use instead.
    monkeypatch.setattr(session_module, "fill_holes", fill_holes_on_device)
    s = make_session(memory_policy=policy, keep_memories=2, keep_logits=2)
    s.add_points(0, 1, [[20, 45]], [1])
    s.add_points(0, 2, [[100, 20]], [1])
    advance = s._advance

    def guarded(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        no_host_reads.active = True
        try:
            return advance(*args, **kw)
        finally:
            no_host_reads.active = False

    s._advance = guarded
    frames = [r.frame for r in s.propagate()]  # evicted memories are re-encoded on the way
    assert frames == list(range(12)) and not no_host_reads.caught
    assert s.mask(11, 1) is not None
