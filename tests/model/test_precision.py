"""One precision policy: CUDA bf16, Apple MPS fp16, CPU fp32; overridable; a device without
what was asked falls back with a notice, never an error. Devices are simulated."""

from __future__ import annotations

import os

import pytest
import torch

from sam2_studio.model import build_model, choose_device, choose_precision, default_precision, describe
from sam2_studio.model import precision as precision_module


@pytest.fixture
def capabilities(monkeypatch):
    """Pretend hardware: which (device type, precision) pairs run natively."""
    native: set[tuple[str, str]] = {("cuda", "bf16"), ("cuda", "fp16"), ("mps", "fp16"), ("mps", "bf16"), ("cpu", "fp16")}

    def supports(device, name):  # noqa: ANN001, ANN202
        return name == "fp32" or (torch.device(device).type, name) in native

    monkeypatch.setattr(precision_module, "supports", supports)
    return native


def test_each_device_has_its_default(capabilities):
    assert default_precision("cuda") == "bf16" and default_precision("mps") == "fp16" and default_precision("cpu") == "fp32"
    for device, name, dtype in (("cuda", "bf16", torch.bfloat16), ("mps", "fp16", torch.float16), ("cpu", "fp32", None)):
        p = choose_precision(device)
        assert (p.name, p.autocast_dtype, p.notice) == (name, dtype, None)
    assert choose_precision("cpu").memory_dtype == torch.bfloat16  # as the official predictor stores memories
    assert choose_precision("mps").memory_dtype == torch.float16


def test_requests_are_honoured_or_fall_back_with_a_notice(capabilities):
    assert choose_precision("cuda", "fp32").name == "fp32"
    capabilities.discard(("cuda", "bf16"))  # a GPU older than Ampere
    p = choose_precision("cuda")
    assert p.name == "fp16" and "no native bf16" in p.notice and "fp16" in p.notice
    p = choose_precision("cpu", "bf16")  # a CPU without bf16 units: fp32, not the slower fp16
    assert p.name == "fp32" and "no native bf16" in p.notice
    capabilities.add(("cpu", "bf16"))
    assert choose_precision("cpu", "bf16") == precision_module.Precision("bf16", "cpu")
    assert "reported to lose objects" in choose_precision("mps", "bf16").notice
    assert "slow" in choose_precision("cpu", "fp16").notice
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        choose_precision("cpu", "fp8")


def test_the_model_carries_its_precision_and_says_it():
    model = build_model("sam2.1_hiera_tiny", 128, device="cpu")
    assert model.precision.name == "fp32"
    assert describe(model.device, model.precision).endswith("(fp32)")
    with model.inference():
        assert torch.is_inference_mode_enabled() and not torch.is_autocast_enabled("cpu")
    model.set_precision("fp16")
    assert describe(model.device, model.precision).endswith("(fp16)")
    with model.inference():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.float16


def test_apple_gpus_get_the_cpu_fallback_for_missing_operators(monkeypatch):
    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK", raising=False)
    assert choose_device("mps").type == "mps"
    assert os.environ["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"


def test_native_bf16_is_read_from_the_cpu_flags():
    zen4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
    zen3 = "processor\t: 0\nflags\t\t: fpu avx2 fma\n"
    graviton3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
    sapphire = "flags\t\t: avx512f amx_bf16 amx_tile\n"
    assert precision_module.bf16_in_cpu_flags(zen4) and precision_module.bf16_in_cpu_flags(graviton3)
    assert precision_module.bf16_in_cpu_flags(sapphire)
    assert not precision_module.bf16_in_cpu_flags(zen3) and not precision_module.bf16_in_cpu_flags("")
