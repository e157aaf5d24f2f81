from __future__ import annotations

import torch

from sam2_studio.model import autocast_dtype, choose_device, describe, inference_context


def test_device_choice_and_precision():
    assert choose_device("cpu") == torch.device("cpu")
    dev = choose_device()
    assert dev.type in {"cuda", "mps", "cpu"}
    if not torch.cuda.is_available():
        assert autocast_dtype(torch.device("cpu")) is None
    assert "CPU" in describe(torch.device("cpu"))
    with inference_context(torch.device("cpu")):
        assert torch.is_inference_mode_enabled()
