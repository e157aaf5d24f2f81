"""Out of device memory during a propagation: the run stops at that frame, every frame done is
kept, the message names the frame, the memory asked for and what to try, and the session
stays usable (the error is injected: no GPU here)."""

from __future__ import annotations

import pytest
import torch

from sam2_studio.engine import OutOfDeviceMemory
from sam2_studio.engine.errors import format_bytes, is_out_of_memory, requested_bytes

CUDA_MESSAGE = ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 7.79 GiB "
                "of which 1.10 GiB is free.")


def fail_on(session, frame: int, message: str = CUDA_MESSAGE):  # noqa: ANN001, ANN201
    """Make the model's memory attention run out of memory while tracking ``frame``."""
    features = session.features.get
    attention = session.model.memory_attention.forward
    current = {"frame": None}

    def get(index):  # noqa: ANN001, ANN202
        current["frame"] = index
        return features(index)

    def attend(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        if current["frame"] == frame:
            raise torch.OutOfMemoryError(message)
        return attention(*args, **kw)

    session.features.get = get
    session.model.memory_attention.forward = attend
    return lambda: (delattr(session.model.memory_attention, "forward"), delattr(session.features, "get"))


@pytest.mark.parametrize("depth", [0, 1])
def test_out_of_memory_stops_at_the_frame_and_keeps_the_rest(make_session, depth):
    s = make_session(pipeline_depth=depth)
    s.add_points(0, 1, [[20, 45]], [1])
    s.add_points(0, 2, [[100, 20]], [1])
    restore = fail_on(s, 6)
    done = []
    with pytest.raises(OutOfDeviceMemory) as info:
        for r in s.propagate():
            done.append(r.frame)
    restore()
    err = info.value
    assert done == [0, 1, 2, 3, 4, 5]  # every frame before it was handed out, none after
    assert err.frame == 6 and err.requested == 2 * 2**30
    text = str(err)
    for words in ("frame 6", "2.00 GiB", "smaller model", "working resolution", "CPU", "fewer objects"):
        assert words in text, text
    for obj in (1, 2):
        assert all(s.mask(f, obj) is not None for f in range(6)) and s.mask(6, obj) is None
    # still usable: the run goes on from where it stopped
    assert [r.frame for r in s.propagate(start=6)] == list(range(6, 12))
    assert s.mask(11, 2) is not None


def test_reading_the_request_from_each_device():
    assert requested_bytes(torch.OutOfMemoryError(CUDA_MESSAGE)) == 2 * 2**30
    mps = RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB). Tried to allocate 256.00 MB on private pool.")
    assert is_out_of_memory(mps) and requested_bytes(mps) == 256 * 10**6
    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                       "to allocate 123456789 bytes. Error code 12")
    assert is_out_of_memory(cpu) and requested_bytes(cpu) == 123456789
    assert requested_bytes(RuntimeError("out of memory")) is None
    assert format_bytes(3 * 2**20) == "3.00 MiB"
    assert "GPU memory on frame 3;" in str(OutOfDeviceMemory(3, "cuda", None))
