"""The working resolution in the application: the model's input size for a project, and the
speed figures measured on this machine that the first tracking of a clip on a CPU offers.

The figures are honest by construction: one image-encoder pass and one memory-attention
pass with a full memory bank (what a tracked frame costs, less the small decoder), timed
with the engine and weights in use, once per machine, model and engine; kept in settings.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from typing import Any

from sam2_studio.app.model_source import ModelSource
from sam2_studio.project.resolution import RESOLUTIONS, describe

OFFER = ("full", "draft")  # what the first-tracking offer compares


def follows_resolution(source: ModelSource | None) -> bool:
    """Real checkpoints run at the project's working resolution; developer random weights and
    test stand-ins keep their own size unless they say otherwise."""
    return bool(getattr(source, "follows_resolution", False)) and dataclasses.is_dataclass(source)


def at_resolution(source: ModelSource, name: str) -> ModelSource:
    """``source`` at the input size of the resolution ``name`` (when it follows it)."""
    size = RESOLUTIONS[name]
    if follows_resolution(source) and getattr(source, "image_size", size) != size:
        return dataclasses.replace(source, image_size=size)  # type: ignore[type-var]
    return source


def resolution_of(image_size: int | None, fallback: str) -> str:
    """The preset a model input size belongs to, else ``fallback`` (the project's)."""
    for name, size in RESOLUTIONS.items():
        if size == image_size:
            return name
    return fallback


def merge_ranges(*maps: dict[int, Any]) -> dict[int, list[tuple[int, int]]]:
    """Per object, the union of several {object: [(first, last), ...]} maps."""
    from sam2_studio.project.resolution import merge

    out: dict[int, list[tuple[int, int]]] = {}
    for m in maps:
        for obj, ranges in m.items():
            out.setdefault(obj, []).extend(tuple(r) for r in ranges)
    return {obj: list(merge(r)) for obj, r in out.items() if r}


def machine_key(variant: str, engine: str) -> str:
    """What the figures depend on: the processor, its cores, the model and the engine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu} · {os.cpu_count()} cores · {variant} · {engine or 'torch'}"


def measure_frame_seconds(model: Any, names: tuple[str, ...] = OFFER, cache_dir: Any = None) -> dict[str, float]:
    """Seconds one tracked frame's heavy part takes at each resolution, on ``model``'s
    engine and weights (other sizes are built with the same weights; on OpenVINO they are
    converted once, as tracking at that size would)."""
    import torch

    from sam2_studio.app.cpu_engine import prepare_cpu_engine
    from sam2_studio.model import PointerMemory, Sam2Model, SpatialMemory, build_model, openvino_engine

    if not isinstance(model, Sam2Model):  # a test stand-in: nothing to measure
        return {}
    engine = openvino_engine.engine_of(model)
    precision = getattr(model.image_encoder, "precision", "fp32")
    out: dict[str, float] = {}
    for name in names:
        size = RESOLUTIONS[name]
        m = model
        if model.image_size != size:
            m = build_model(model.config.name, size, device=model.device)
            m.load_state_dict(model.state_dict())
            if engine == "openvino":
                prepare_cpu_engine(m, "openvino", precision, cache_dir)
        out[name] = _time_frame(m, torch, SpatialMemory, PointerMemory)
    return out


def _time_frame(m: Any, torch: Any, spatial_memory: Any, pointer_memory: Any) -> float:
    g = torch.Generator().manual_seed(0)
    side = m.config.feat_size
    with torch.inference_mode():
        image = torch.randn(1, 3, m.image_size, m.image_size, generator=g).to(m.device)
        bank = [spatial_memory(torch.randn(1, m.config.mem_dim, side, side, generator=g).to(m.device),
                               torch.randn(1, m.config.mem_dim, side, side, generator=g).to(m.device), i)
                for i in range(m.config.num_maskmem)]
        ptrs = [pointer_memory(torch.randn(1, m.config.d_model, generator=g).to(m.device), d)
                for d in range(1, m.config.max_obj_ptrs + 1)]
        t0 = time.perf_counter()
        feats = m.encode_image(image)
        m.condition_on_memory(feats, bank, ptrs, m.config.max_obj_ptrs - 1)
        return time.perf_counter() - t0


def offer_text(seconds: dict[str, float]) -> str:
    """The words of the first-tracking offer, with this machine's figures."""
    parts = [f"{describe(name).split()[0]} ≈ {seconds[name]:.1f} s a frame" for name in OFFER if name in seconds]
    return ("On this computer's processor (measured here): " + ", ".join(parts) + ". Draft is faster "
            "but coarser: mask edges follow the object less closely and small objects may be lost. "
            "You can change it any time in Track › Working Resolution.")
