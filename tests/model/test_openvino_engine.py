"""The OpenVINO CPU engine: same outputs as torch, a disk cache, and torch whenever it cannot serve.

A small model (tiny at 128 px) keeps the conversion to a few seconds; the parity with the
reference at real sizes is in test_parity_image_encoder.py, test_parity_memory.py and
tests/engine/test_parity_video.py.
"""

from __future__ import annotations

import pytest
import torch

from sam2_studio.model import PointerMemory, SpatialMemory, build_model
from sam2_studio.model import openvino_engine as ove
from sam2_studio.model.openvino_export import key_rope_tables
from tests.model.conftest import close, varies
from tests.reference import randomize_

pytest.importorskip("openvino")

S = 128
H = S // 16


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return randomize_(build_model("sam2.1_hiera_tiny", S, device="cpu"))


@pytest.fixture(scope="module")
def installed(model, openvino_cache):
    keys = list(model.state_dict())
    report = ove.install(model, openvino_cache)
    assert report.engine == "openvino", report.notice
    assert list(model.state_dict()) == keys, "the state dict keeps the checkpoint's names"
    yield model, report
    ove.uninstall(model)


def _bank(batch: int, frames: int, pointers: int, g: torch.Generator):
    spatial = [SpatialMemory(torch.randn(batch, 64, H, H, generator=g), torch.randn(batch, 64, H, H, generator=g), i)
               for i in range(frames)]
    ptrs = [PointerMemory(torch.randn(batch, 256, generator=g), d) for d in range(1, pointers + 1)]
    return spatial, ptrs


def _torch_and_openvino(model, fn):  # noqa: ANN001, ANN202
    with torch.inference_mode():
        got = fn()
        saved = model.image_encoder, model.memory_attention
        ove.uninstall(model)
        try:
            expected = fn()
        finally:
            model.image_encoder, model.memory_attention = saved
    return expected, got


@pytest.mark.parametrize("batch", [1, 3])
def test_image_encoder_matches_torch_at_any_batch(installed, batch):
    model, _ = installed
    images = torch.randn(batch, 3, S, S, generator=torch.Generator().manual_seed(batch))
    expected, got = _torch_and_openvino(model, lambda: model.encode_image(images))
    assert ove.engine_of(model) == "openvino"
    close(expected.embedding, got.embedding)
    close(expected.high_res[0], got.high_res[0])
    close(expected.high_res[1], got.high_res[1])
    close(expected.pos, got.pos)
    assert varies(got.embedding)


@pytest.mark.parametrize(("batch", "frames", "pointers"), [(1, 1, 0), (1, 7, 16), (2, 3, 5), (4, 2, 1)])
def test_memory_attention_matches_torch_for_every_bank(installed, batch, frames, pointers):
    """One compiled graph serves every batch, bank length and pointer count (pointer tokens
    are not rotated: the key tables say so)."""
    model, _ = installed
    g = torch.Generator().manual_seed(frames * 10 + pointers)
    feats = model.encode_image(torch.randn(1, 3, S, S, generator=g)).expand(batch)
    spatial, ptrs = _bank(batch, frames, pointers, g)
    expected, got = _torch_and_openvino(model, lambda: model.condition_on_memory(feats, spatial, ptrs, 15))
    close(expected, got)
    assert varies(got)


def test_the_cache_is_reused_and_keyed_by_weights(model, installed, openvino_cache):
    _, first = installed
    files = sorted(p.name for p in openvino_cache.glob("*.xml"))
    again = ove.install(model, openvino_cache)
    assert again.engine == "openvino" and again.converted_s == 0.0 and again.notice is None
    assert sorted(p.name for p in openvino_cache.glob("*.xml")) == files
    other = build_model("sam2.1_hiera_tiny", S, device="cpu")  # other weights: other keys
    assert ove.cache_key(other, "image_encoder") != ove.cache_key(model, "image_encoder")
    assert ove.cache_key(model, "image_encoder").startswith(f"sam2.1_hiera_tiny-{S}px-image_encoder-")
    assert not list(openvino_cache.glob(".*converting*")), "no half-written files are left"


def test_missing_openvino_falls_back_to_torch(monkeypatch, tmp_path):
    model = build_model("sam2.1_hiera_tiny", S, device="cpu")
    monkeypatch.setattr(ove, "openvino_version", lambda: None)
    report = ove.install(model, tmp_path)
    assert report.engine == "torch" and "not installed" in report.notice
    assert ove.engine_of(model) == "torch"
    assert ove.choose_engine(torch.device("cpu"), "auto")[0] == "torch"
    engine, note = ove.choose_engine(torch.device("cpu"), "openvino")
    assert engine == "torch" and "pip install openvino" in note


def test_a_failing_conversion_falls_back_to_torch(monkeypatch, tmp_path):
    model = build_model("sam2.1_hiera_tiny", S, device="cpu")

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("unsupported operation aten::frobnicate")

    monkeypatch.setattr(ove, "_export", broken)
    report = ove.install(model, tmp_path)
    assert report.engine == "torch"
    assert "could not be prepared" in report.notice and "frobnicate" in report.notice
    assert ove.engine_of(model) == "torch"
    assert not list(tmp_path.glob("*.xml")) and not list(tmp_path.glob(".*"))
    with torch.inference_mode():
        assert model.encode_image(torch.zeros(1, 3, S, S)).embedding.shape == (1, 256, H, H)


def test_a_failing_inference_hands_over_to_torch_for_good(installed, monkeypatch):
    model, _ = installed
    images = torch.randn(1, 3, S, S)
    with torch.inference_mode():
        expected = model.encode_image(images).embedding
    encoder = model.image_encoder
    calls = []

    def broken(*inputs):  # noqa: ANN002, ANN202
        calls.append(1)
        raise RuntimeError("device lost")

    monkeypatch.setattr(encoder, "_compiled", broken)
    monkeypatch.setattr(encoder, "failure", None)
    with torch.inference_mode():
        close(expected, model.encode_image(images).embedding)
        close(expected, model.encode_image(images).embedding)
    assert len(calls) == 1 and "device lost" in encoder.failure


def test_autograd_and_other_sizes_run_torch(installed):
    model, _ = installed
    model.image_encoder.failure = None
    with torch.no_grad():
        big = model.encode_image(torch.zeros(1, 3, 2 * S, 2 * S))  # not the converted size
    assert big.embedding.shape == (1, 256, 2 * H, 2 * H)


def test_key_tables_leave_pointer_tokens_unrotated():
    cos, sin = torch.rand(4, 8), torch.rand(4, 8)
    kc, ks = key_rope_tables(cos, sin, 2 * 4 + 3, 3)
    assert torch.equal(kc[:4], cos) and torch.equal(kc[4:8], cos)
    assert torch.equal(kc[8:], torch.ones(3, 8)) and torch.equal(ks[8:], torch.zeros(3, 8))
    with pytest.raises(ValueError, match="whole frames"):
        key_rope_tables(cos, sin, 6, 1)


def test_precision_requests():
    assert ove.choose_cpu_precision("fp32") == ("fp32", None)
    precision, note = ove.choose_cpu_precision("bf16")
    assert precision == ("bf16" if ove.native_bf16() else "fp32")
    assert (note is None) == ove.native_bf16()
    with pytest.raises(ValueError):
        ove.choose_cpu_precision("int4")
    assert ove.choose_engine(torch.device("cpu"), "torch") == ("torch", None)
    assert ove.EngineReport("openvino", "bf16").label == "OpenVINO bf16"
