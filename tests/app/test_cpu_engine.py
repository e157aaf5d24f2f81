"""The CPU engine as the application chooses it, the settings that hold the choice, and the
speed figures behind the Draft offer."""

from __future__ import annotations

import json

import pytest
import torch

from sam2_studio.app import resolution as app_resolution
from sam2_studio.app.cpu_engine import prepare_cpu_engine
from sam2_studio.app.model_source import ModelInfo, RandomWeights
from sam2_studio.app.settings import load_settings, save_settings
from sam2_studio.model import build_model
from sam2_studio.model import openvino_engine as ove


def test_settings_keep_the_engine_and_refuse_nonsense(tmp_path):
    s = load_settings(tmp_path)
    assert (s.cpu_engine, s.offer_draft) == ("auto", True)
    s.cpu_engine = "torch"
    s.speed_figures["cpu"] = {"full": 2.0, "draft": 0.3}
    save_settings(s, tmp_path)
    back = load_settings(tmp_path)
    assert (back.cpu_engine, back.speed_figures) == ("torch", {"cpu": {"full": 2.0, "draft": 0.3}})
    raw = json.loads((tmp_path / "settings.json").read_text())
    raw.update(cpu_engine="quantum")
    (tmp_path / "settings.json").write_text(json.dumps(raw))
    assert load_settings(tmp_path).cpu_engine == "auto"


def test_forced_openvino_without_openvino_runs_torch_and_says_so(monkeypatch, tmp_path):
    model = build_model("sam2.1_hiera_tiny", 64, device="cpu")
    monkeypatch.setattr(ove, "openvino_version", lambda: None)
    report = prepare_cpu_engine(model, "openvino", "fp32", tmp_path)
    assert report.engine == "torch" and "not installed" in report.notice
    assert prepare_cpu_engine(model, "auto", "fp32", tmp_path).label == "torch fp32"


def test_the_torch_engine_keeps_the_precision_policys_choice(tmp_path):
    model = build_model("sam2.1_hiera_tiny", 64, device="cpu")
    report = prepare_cpu_engine(model, "torch", "bf16", tmp_path)
    assert report.label == "torch bf16" and report.notice is None


def test_the_status_line_names_model_resolution_device_and_engine():
    info = ModelInfo("sam2.1_hiera_tiny", "CPU, 2 threads (bf16)", image_size=512, engine="OpenVINO bf16")
    assert info.label == "sam2.1_hiera_tiny · Draft 512 · CPU, 2 threads (bf16) · OpenVINO"
    gpu = ModelInfo("sam2.1_hiera_tiny", "CUDA: H100 (bf16)", image_size=1024)
    assert gpu.label == "sam2.1_hiera_tiny · Full 1024 · CUDA: H100 (bf16)"
    loaded = RandomWeights(image_size=64).load()
    assert loaded.info.engine == "torch fp32" and "@ 64px" in loaded.info.label and loaded.info.label.endswith("· torch")


def test_speed_figures_are_measured_with_the_models_weights(monkeypatch):
    monkeypatch.setattr(app_resolution, "RESOLUTIONS", {"full": 128, "draft": 64})
    torch.manual_seed(0)
    model = build_model("sam2.1_hiera_tiny", 128, device="cpu")
    seconds = app_resolution.measure_frame_seconds(model, ("full", "draft"))
    assert set(seconds) == {"full", "draft"} and all(v > 0 for v in seconds.values())
    assert app_resolution.measure_frame_seconds(object(), ("full",)) == {}  # a stand-in: nothing
    text = app_resolution.offer_text({"full": 2.04, "draft": 0.31})
    assert "Full ≈ 2.0 s a frame" in text and "Draft ≈ 0.3 s a frame" in text and "small objects may be lost" in text
    key = app_resolution.machine_key("sam2.1_hiera_tiny", "OpenVINO fp32")
    assert "sam2.1_hiera_tiny" in key and "OpenVINO fp32" in key


@pytest.mark.parametrize(("size", "expected"), [(1024, "full"), (768, "balanced"), (512, "draft"), (256, "draft")])
def test_resolution_of_a_model_size(size, expected):
    assert app_resolution.resolution_of(size, "draft") == expected
