"""Where the worker's model comes from: a checkpoint file, or random weights for developers.

A ``ModelSource`` is loaded on the worker thread (loading takes seconds) and gives a
``LoadedModel``: the model, the words for the status bar, and how to start a tracking
session on a clip. Random weights exist for tests and for trying the editor's plumbing
without a checkpoint; they are always labelled as such (``ModelInfo.random_weights``), so
nobody mistakes their masks for a real model's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sam2_studio.app.worker import TrackingSession
    from sam2_studio.engine import FrameSource

RANDOM_WEIGHTS_ENV = "SAM2_STUDIO_RANDOM_WEIGHTS"
DEVICE_ENV = "SAM2_STUDIO_DEVICE"
DEFAULT_POLICY = "sam2"


@dataclass(frozen=True)
class ModelInfo:
    """What the status bar and the model dialog say about the loaded model."""

    variant: str
    device: str  # e.g. "CPU, 2 threads (fp32)": the precision is always named
    random_weights: bool = False
    path: str | None = None
    image_size: int = 1024
    note: str | None = None  # what a stand-in that is not a real model is (tests, demos)
    precision: str = "fp32"  # "fp32", "bf16" or "fp16"
    precision_notice: str | None = None  # why the precision is not the one asked for
    compiled: bool = False  # torch.compile on the image encoder and memory attention
    engine: str = ""  # on a CPU: "OpenVINO fp32", "torch fp32"
    notice: str | None = None  # for the user: an engine fallback, a first-use conversion

    @property
    def where(self) -> str:
        """Device, precision and engine: 'CPU, 2 threads (fp32) · OpenVINO'."""
        device = f"{self.device}, compiled" if self.compiled else self.device
        return f"{device} · {self.engine.split()[0]}" if self.engine else device

    @property
    def label(self) -> str:
        if self.note:
            return f"{self.note} · {self.where}"
        if self.random_weights:
            return f"RANDOM WEIGHTS ({self.variant} @ {self.image_size}px, developer mode) · {self.where}"
        return f"{self.variant} · {resolution_label(self.image_size)} · {self.where}"


@dataclass
class LoadedModel:
    info: ModelInfo
    model: Any  # a Sam2Model (or whatever the session factory needs)
    # (model, frames, memory policy or None for the source's own) -> session
    session_factory: Callable[[Any, FrameSource, str | None], TrackingSession]

    def new_session(self, frames: FrameSource, policy: str | None = None) -> TrackingSession:
        """A tracking session on ``frames``; ``policy`` overrides the source's memory."""
        if policy is None:
            return self.session_factory(self.model, frames)  # type: ignore[call-arg]
        return self.session_factory(self.model, frames, policy)


class ModelSource(Protocol):
    def load(self) -> LoadedModel: ...

    @property
    def description(self) -> str: ...


def _video_session(policy: str) -> Callable[[Any, FrameSource, str | None], TrackingSession]:
    def make(model: Any, frames: FrameSource, chosen: str | None = None) -> TrackingSession:
        from sam2_studio.engine import VideoSession

        return VideoSession(model, frames, chosen or policy)

    return make


def resolution_label(image_size: int) -> str:
    from sam2_studio.project.resolution import describe_size

    return describe_size(image_size)


def _engine(model: Any, cpu_engine: str, precision: str) -> tuple[str, str | None]:
    """Put the model on its CPU engine; the engine's label and a notice (CPU only)."""
    if model.device.type != "cpu":
        return "", None
    from sam2_studio.app.cpu_engine import prepare_cpu_engine

    report = prepare_cpu_engine(model, cpu_engine, precision if precision in ("fp32", "bf16") else "fp32")
    return report.label, report.notice


def _device(preferred: str | None) -> Any:
    from sam2_studio.model import choose_device

    return choose_device(preferred or os.environ.get(DEVICE_ENV) or None)


def _ready(model: Any, variant: str, compile_: bool | None, random_weights: bool, path: str | None,
           cpu_engine: str = "auto") -> ModelInfo:
    """Compile if asked (or by default on CUDA), warm up, and say what was loaded."""
    from sam2_studio.model import describe
    from sam2_studio.model.compile import compile_by_default, compile_model, warm_up

    compiled = compile_by_default(model.device) if compile_ is None else compile_
    if compiled:
        compile_model(model)
        warm_up(model)
    p = model.precision
    # On a CPU the heavy parts go to the CPU engine (OpenVINO unless told otherwise), in the
    # precision the policy chose; a compiled model stays as torch.compile made it.
    engine, notice = ("", None) if compiled else _engine(model, cpu_engine, p.name)
    return ModelInfo(variant, describe(model.device, p), random_weights, path, model.image_size,
                     precision=p.name, precision_notice=p.notice, compiled=compiled,
                     engine=engine, notice=notice)


@dataclass(frozen=True)
class CheckpointFile:
    """An official SAM 2 / 2.1 checkpoint on disk (see ``app.models.ModelManager``)."""

    follows_resolution = True  # loaded at the project's working resolution (app.resolution)

    path: Path
    variant: str | None = None
    device: str | None = None  # None: the best present (CUDA, MPS, CPU)
    policy: str = DEFAULT_POLICY
    image_size: int = 1024  # the official input size; smaller is faster and coarser
    precision: str | None = None  # "fp32", "bf16", "fp16"; None: the device's (model/precision.py)
    compile: bool | None = None  # torch.compile; None: on CUDA with Triton only
    cpu_engine: str = "auto"  # on a CPU: "auto" (OpenVINO where installed), "torch", "openvino"

    @property
    def description(self) -> str:
        return f"{self.variant or 'checkpoint'} from {self.path}"

    def load(self) -> LoadedModel:
        from sam2_studio.model import load_checkpoint

        device = _device(self.device)
        model = load_checkpoint(self.path, self.variant, device, self.image_size, self.precision)
        info = _ready(model, self.variant or model.config.name, self.compile, False, str(self.path),
                      self.cpu_engine)
        return LoadedModel(info, model, _video_session(self.policy))


@dataclass(frozen=True)
class RandomWeights:
    """An untrained model: the real engine with meaningless masks, for tests and plumbing.

    ``image_size`` 256 keeps it fast on a laptop CPU. The object-score head is biased
    towards "present" so masks are not all empty, which is all that makes them useful for
    exercising the editor.
    """

    variant: str = "sam2.1_hiera_tiny"
    image_size: int = 256
    seed: int = 0
    device: str | None = None
    policy: str = DEFAULT_POLICY
    precision: str | None = None
    compile: bool | None = None
    cpu_engine: str = "torch"  # developer mode stays on torch unless asked (conversions cost)

    @property
    def description(self) -> str:
        return f"random weights ({self.variant} @ {self.image_size}px)"

    def load(self) -> LoadedModel:
        import torch

        from sam2_studio.model import build_model

        device = _device(self.device)
        torch.manual_seed(self.seed)
        model = build_model(self.variant, self.image_size, device=device, precision=self.precision)
        _make_informative(model, self.seed)
        info = _ready(model, self.variant, self.compile, True, None, self.cpu_engine)
        return LoadedModel(info, model, _video_session(self.policy))


def _make_informative(model: Any, seed: int, object_bias: float = 4.0) -> None:
    """Give constant-initialised tensors some spread and bias the object-score head towards
    "present", so a random model draws masks that vary with the prompt."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if t.numel() > 1 and torch.all(t == t.flatten()[0]):
                base = 1.0 if name.endswith("weight") and t.flatten()[0] == 1 else 0.0
                t.copy_(base + 0.05 * torch.randn(t.shape, generator=g).to(t.device))
        bias = model.state_dict().get("sam_mask_decoder.pred_obj_score_head.layers.2.bias")
        if bias is not None:
            bias.fill_(object_bias)


def random_weights_from_env(environ: dict[str, str] | None = None) -> RandomWeights | None:
    """``SAM2_STUDIO_RANDOM_WEIGHTS=1`` (or ``=VARIANT`` or ``=VARIANT@SIZE``): the developer
    switch that runs the editor on random weights; None when it is not set."""
    value = (environ if environ is not None else os.environ).get(RANDOM_WEIGHTS_ENV, "").strip()
    if not value or value.lower() in ("0", "no", "false", "off"):
        return None
    if value.lower() in ("1", "yes", "true", "on"):
        return RandomWeights()
    variant, _, size = value.partition("@")
    return RandomWeights(variant=variant or "sam2.1_hiera_tiny", image_size=int(size) if size else 256)


def default_source(variant: str | None, manager: Any, device: str | None = None,
                   precision: str | None = None, compile_: bool | None = None) -> ModelSource | None:
    """The model to start with: the developer switch if set, else ``variant`` (or the first
    installed model, SAM 2.1 first, smallest first) from the model manager; None when no
    checkpoint is installed."""
    forced = random_weights_from_env()
    if forced is not None:
        return replace(forced, device=device or forced.device, precision=precision, compile=compile_)
    candidates = [variant] if variant else []
    order = ("tiny", "small", "base_plus", "large")
    for family in ("sam2.1", "sam2"):
        candidates += [f"{family}_hiera_{size}" for size in order]
    for name in candidates:
        try:
            model = manager.installed(name)
        except Exception:  # noqa: BLE001 - an unknown variant in an old project
            continue
        if model is not None and model.path.is_file():
            return CheckpointFile(model.path, name, device, precision=precision, compile=compile_)
    return None
