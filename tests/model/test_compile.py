"""torch.compile of the image encoder and memory attention gives the eager masks.

The graphs are traced through dynamo and AOT autograd ("aot_eager"): what our modules become
under compilation, without the minutes inductor's C++ code generation takes on a 2-core CPU
(measured here once with inductor: 327 s of compiling, the same masks, logits within 4e-7).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_studio.engine import ArrayFrames, VideoSession
from sam2_studio.model import build_model
from sam2_studio.model.compile import compile_by_default, compile_model, is_compiled

pytestmark = pytest.mark.slow


def test_compiled_and_eager_models_give_the_same_masks(small_model_state, square_clip):
    import torch._dynamo
    from torch._dynamo.utils import counters

    eager = build_model("sam2.1_hiera_tiny", 128, device="cpu")
    eager.load_state_dict(small_model_state)
    compiled = build_model("sam2.1_hiera_tiny", 128, device="cpu")
    compiled.load_state_dict(small_model_state)
    torch._dynamo.reset()
    counters.clear()
    compile_model(compiled, backend="aot_eager")
    assert is_compiled(compiled) and not is_compiled(eager)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints still load and save
    results = []
    for model in (eager, compiled):
        s = VideoSession(model, ArrayFrames(square_clip))
        s.add_points(0, 1, [[20, 45]], [1])
        s.add_points(0, 2, [[100, 20]], [1])
        results.append({(r.frame, o): (r.masks[o], r.logits[o]) for r in s.propagate() for o in r.masks})
    for key, (mask, logits) in results[0].items():
        np.testing.assert_array_equal(mask, results[1][key][0], err_msg=str(key))
        torch.testing.assert_close(logits, results[1][key][1], rtol=1e-5, atol=1e-5)
    # compiled a bounded number of times while the memory bank filled, not once per frame
    assert counters["graph_break"] == {}  # whole modules traced, nothing left to Python between pieces
    assert 1 <= counters["stats"]["unique_graphs"] <= 6
    torch._dynamo.reset()


def test_compile_is_on_by_default_only_on_cuda():
    assert not compile_by_default(torch.device("cpu"))
    assert not compile_by_default(torch.device("mps"))


@pytest.fixture(scope="module")
def small_model_state():
    from tests.reference import randomize_

    torch.manual_seed(0)
    return randomize_(build_model("sam2.1_hiera_tiny", 128, device="cpu")).state_dict()


@pytest.fixture(scope="module")
def square_clip():
    from tests.engine.conftest import moving_square_clip

    return moving_square_clip(8)
