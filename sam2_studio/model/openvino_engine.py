"""The CPU engine: the image encoder and memory attention through OpenVINO.

Together they are ~95% of a tracked frame's arithmetic on a CPU. Both are converted from
our own modules (``openvino.convert_model``) the first time a variant and input size are
used, kept on disk in fp32 (no fp16 weight compression: parity with torch), and compiled for
the CPU with an inference-precision hint: ``fp32`` by default (within ~1e-6 of torch), or
``bf16`` on processors that compute it natively (faster, ~1e-2 relative; labelled).

:func:`install` swaps ``model.image_encoder`` and ``model.memory_attention`` for subclasses
that run the compiled graphs: every method of :class:`Sam2Model` stays as it is, the state
dict keeps its names, and any call OpenVINO cannot take (another device, autograd, another
input size) runs the torch forward. Nothing here raises for a missing or failing OpenVINO:
the model then stays on torch and the report says why (``EngineReport.notice``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .image_encoder import ImageEncoder
from .memory_attention import MemoryAttention
from .openvino_export import EncoderLevels, MemoryAttentionWithKeyTables, key_rope_tables, pairwise
from .sam2_model import Sam2Model

log = logging.getLogger(__name__)

ENGINES = ("auto", "torch", "openvino")
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
EXPORT_VERSION = 2  # bump when openvino_export changes what a converted graph computes
Progress = Callable[[str], None]
KEY_TABLES_KEPT = 4  # rotary tables of memory-bank layouts kept (OpenVinoMemoryAttention)


@dataclass(frozen=True)
class EngineReport:
    """Which engine the model's heavy parts run on, and what the user should be told."""

    engine: str  # "openvino" or "torch"
    precision: str  # "fp32" or "bf16"
    converted_s: float = 0.0  # seconds spent converting now (0: read from the cache)
    prepared_s: float = 0.0  # seconds to read (and convert) and compile
    notice: str | None = None  # a fallback, a refused precision, or a first-use conversion

    @property
    def label(self) -> str:
        name = "OpenVINO" if self.engine == "openvino" else "torch"
        return f"{name} {self.precision}"


def openvino_version() -> str | None:
    try:
        import openvino
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return None
    return str(getattr(openvino, "__version__", "unknown"))


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), so a bf16 hint is a
    speed-up rather than an emulation."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    if flags:
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    try:  # not Linux: ask OpenVINO
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # noqa: BLE001
        return False


def choose_engine(device: torch.device, requested: str = "auto") -> tuple[str, str | None]:
    """The engine for ``requested`` ("auto", "torch", "openvino") on ``device``, and a notice
    when the request cannot be honoured. Auto means OpenVINO on a CPU where it is installed."""
    if requested not in ENGINES:
        raise ValueError(f"unknown CPU engine {requested!r}; choose one of {', '.join(ENGINES)}")
    if requested == "torch":
        return "torch", None
    if device.type != "cpu":
        note = f"the OpenVINO engine runs on the CPU only; using torch on {device.type}" if requested == "openvino" else None
        return "torch", note
    if openvino_version() is None:
        return "torch", "OpenVINO is not installed: the CPU engine is torch (slower). Install it with `pip install openvino`"
    return "openvino", None


def choose_cpu_precision(requested: str) -> tuple[str, str | None]:
    """``fp32`` always; ``bf16`` only where the CPU computes it natively (else fp32 and a notice)."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; the CPU engine takes {', '.join(PRECISIONS)}")
    if requested == "bf16" and not native_bf16():
        return "fp32", "this processor has no native bf16 arithmetic: the CPU engine runs in fp32"
    return requested, None


# == conversion and the disk cache ==========================================================
def weights_digest(*modules: torch.nn.Module) -> str:
    """A short fingerprint of the modules' tensors: the cache must never serve another
    checkpoint's weights."""
    h = hashlib.blake2b(digest_size=12)
    for module in modules:
        for name, t in module.state_dict().items():
            h.update(name.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


PARTS = ("image_encoder", "memory_attention")


def cache_key(model: Sam2Model, part: str) -> str:
    """Variant, input size, part, weights, OpenVINO version and export version: a graph is
    reused only where it computes exactly what this model would."""
    c = model.config
    digest = weights_digest(getattr(model, part))
    version = re.sub(r"[^0-9A-Za-z.]", "", (openvino_version() or "none").split("-")[0])
    return f"{c.name}-{c.image_size}px-{part}-{digest}-ov{version}-x{EXPORT_VERSION}"


def _convert(module: torch.nn.Module, example: tuple[torch.Tensor, ...], shapes: list[list[int]]) -> Any:
    import openvino as ov

    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # Tracing ourselves without the trace check is ~3x cheaper than convert_model's own
        # tracing; shapes read from tensors stay symbolic, so batch and bank length stay free.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.trace: convert_model takes it
        traced = torch.jit.trace(module, example, check_trace=False)
        return ov.convert_model(traced, example_input=example, input=[ov.PartialShape(s) for s in shapes])


def _export(model: Sam2Model, part: str) -> Any:
    """The OpenVINO graph of one part, dynamic in batch (and, for the memory, bank length)."""
    s, side = model.image_size, model.config.feat_size
    g = torch.Generator().manual_seed(0)
    if part == "image_encoder":
        return _convert(EncoderLevels(_torch_encoder(model)), (torch.randn(1, 3, s, s, generator=g),), [[-1, 3, s, s]])
    grid, d, m = side * side, model.config.d_model, model.config.mem_dim
    attention = _torch_attention(model)
    cos, sin = attention.layers[0].self_attn.rope.tables(grid, torch.device("cpu"), torch.float32)
    n_ptr = 4
    kc, ks = (pairwise(t) for t in key_rope_tables(cos, sin, 2 * grid + n_ptr, n_ptr))
    example = (torch.randn(1, grid, d, generator=g), torch.randn(1, grid, d, generator=g),
               torch.randn(1, 2 * grid + n_ptr, m, generator=g), torch.randn(1, 2 * grid + n_ptr, m, generator=g), kc, ks)
    width = kc.shape[1]
    shapes = [[-1, grid, d], [-1, grid, d], [-1, -1, m], [-1, -1, m], [-1, width], [-1, width]]
    return _convert(MemoryAttentionWithKeyTables(attention), example, shapes)


def prepare_cache(model: Sam2Model, cache_dir: Path, parts: tuple[str, ...] = PARTS,
                  progress: Progress | None = None) -> tuple[dict[str, Path], float]:
    """The IR file of each part, converting those not cached yet (fp32 weights, written
    atomically); returns them and the seconds spent converting (0 when all were cached)."""
    import openvino as ov

    cache_dir = Path(cache_dir)
    paths = {part: cache_dir / f"{cache_key(model, part)}.xml" for part in parts}
    todo = [part for part, path in paths.items() if not (path.is_file() and path.with_suffix(".bin").is_file())]
    if not todo:
        return paths, 0.0
    if progress:
        progress(f"Converting {model.config.name} at {model.image_size}px for OpenVINO "
                 "(first use on this machine; kept for next time)…")
    cache_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for part in todo:
        final = paths[part]
        tmp = cache_dir / f".{final.stem}.{os.getpid()}.converting.xml"
        try:
            ov.save_model(_export(model, part), str(tmp), compress_to_fp16=False)
            os.replace(tmp.with_suffix(".bin"), final.with_suffix(".bin"))
            os.replace(tmp, final)  # the .xml last: its presence means the pair is complete
        finally:
            for leftover in (tmp, tmp.with_suffix(".bin")):
                leftover.unlink(missing_ok=True)
    return paths, time.perf_counter() - t0


# == running the compiled graphs ============================================================
class _Compiled:
    """One compiled graph and its infer request (calls are serialised: one worker thread
    owns the model, the lock is for safety)."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()

    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        arrays = [np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy()) for t in inputs]
        with self._lock:
            result = self._request.infer(arrays, share_inputs=True, share_outputs=False)
            return [torch.from_numpy(np.asarray(result[i])) for i in range(len(self._compiled.outputs))]


def _compile(core: Any, path: Path, precision: str, threads: int) -> _Compiled:
    config = {
        "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": max(1, threads),
    }
    return _Compiled(core.compile_model(core.read_model(str(path)), "CPU", config))


class _Fallback:
    """Remembers why OpenVINO stopped serving a module, so the torch forward takes over for good."""

    failure: str | None = None
    precision: str = "fp32"

    def _failed(self, exc: Exception) -> None:
        self.failure = f"{type(exc).__name__}: {exc}"
        log.warning("OpenVINO failed (%s); %s runs on torch from now on", self.failure, type(self).__name__)


def _runs_here(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and not torch.is_grad_enabled() and x.dtype in (torch.float32, torch.bfloat16, torch.float16)


class OpenVinoImageEncoder(_Fallback, ImageEncoder):
    """:class:`ImageEncoder` whose forward runs a compiled OpenVINO graph (same parameters,
    same outputs); other sizes, devices or autograd run the torch forward."""

    def __init__(self, encoder: ImageEncoder, compiled: _Compiled, image_size: int) -> None:
        torch.nn.Module.__init__(self)
        self.trunk = encoder.trunk  # the same modules: the state dict keeps its names
        self.neck = encoder.neck
        self.__dict__["_original"] = encoder  # not a submodule: for uninstall
        self._compiled = compiled
        self._size = image_size

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        if self.failure is None and _runs_here(images) and tuple(images.shape[-2:]) == (self._size, self._size):
            try:
                levels = [t.to(images.dtype) for t in self._compiled(images)]
            except Exception as exc:  # noqa: BLE001 - torch is always there to take over
                self._failed(exc)
            else:
                return levels, self.neck.position_encoding(levels[-1])
        return super().forward(images)


class OpenVinoMemoryAttention(_Fallback, MemoryAttention):
    """:class:`MemoryAttention` whose forward runs a compiled OpenVINO graph for any batch,
    bank length and number of pointer tokens."""

    def __init__(self, attention: MemoryAttention, compiled: _Compiled, grid: int) -> None:
        torch.nn.Module.__init__(self)
        self.layers = attention.layers
        self.norm = attention.norm
        self.__dict__["_original"] = attention
        self._compiled = compiled
        self._grid = grid
        # A full bank's tables are 59 MB at 1024 (tiny): keep the few layouts a run alternates between.
        self._tables: OrderedDict[tuple[int, int], tuple[torch.Tensor, ...]] = OrderedDict()

    def _key_tables(self, num_memory: int, num_ptr_tokens: int) -> tuple[torch.Tensor, ...]:
        key = (num_memory, num_ptr_tokens)
        if key not in self._tables:
            cos, sin = self.layers[0].self_attn.rope.tables(self._grid, torch.device("cpu"), torch.float32)
            self._tables[key] = tuple(pairwise(t) for t in key_rope_tables(cos, sin, num_memory, num_ptr_tokens))
            while len(self._tables) > KEY_TABLES_KEPT:
                self._tables.popitem(last=False)
        self._tables.move_to_end(key)
        return self._tables[key]

    def forward(self, current: torch.Tensor, current_pos: torch.Tensor, memory: torch.Tensor,
                memory_pos: torch.Tensor, num_ptr_tokens: int = 0) -> torch.Tensor:
        if self.failure is None and _runs_here(current) and current.shape[1] == self._grid:
            try:
                tables = self._key_tables(memory.shape[1], int(num_ptr_tokens))
                (out,) = self._compiled(current, current_pos, memory, memory_pos, *tables)
            except Exception as exc:  # noqa: BLE001
                self._failed(exc)
            else:
                return out.to(current.dtype)
        return super().forward(current, current_pos, memory, memory_pos, num_ptr_tokens)


def _original(module: Any) -> Any:
    """The torch module a wrapper stands in for (itself when it is no wrapper)."""
    return module.__dict__.get("_original", module)


def _torch_encoder(model: Sam2Model) -> ImageEncoder:
    return _original(model.image_encoder)


def _torch_attention(model: Sam2Model) -> MemoryAttention:
    return _original(model.memory_attention)


def uninstall(model: Sam2Model) -> Sam2Model:
    """Back to the torch modules (the same parameters)."""
    model.image_encoder = _torch_encoder(model)
    model.memory_attention = _torch_attention(model)
    return model


def engine_of(model: Sam2Model) -> str:
    wrapped = isinstance(model.image_encoder, OpenVinoImageEncoder) or isinstance(model.memory_attention, OpenVinoMemoryAttention)
    return "openvino" if wrapped else "torch"


def install(model: Sam2Model, cache_dir: str | Path, precision: str = "fp32", threads: int | None = None,
            progress: Progress | None = None, parts: tuple[str, ...] = PARTS) -> EngineReport:
    """Run ``model``'s image encoder and memory attention (or only ``parts``) through
    OpenVINO on the CPU.

    Call it after the weights are loaded (the graphs hold them). Never raises for OpenVINO's
    sake: on any failure the model stays on torch and the report's notice says why.
    """
    precision, refused = choose_cpu_precision(precision)
    t0 = time.perf_counter()
    uninstall(model)
    if model.device.type != "cpu":
        return EngineReport("torch", precision, notice="the OpenVINO engine runs on the CPU only")
    if openvino_version() is None:
        return EngineReport("torch", precision, notice="OpenVINO is not installed: tracking runs on torch (slower)")
    try:
        import openvino as ov

        paths, converted = prepare_cache(model, Path(cache_dir), parts, progress)
        core = ov.Core()
        try:
            core.set_property({"CACHE_DIR": str(Path(cache_dir) / "compiled")})
        except Exception:  # noqa: BLE001 - compiling without a blob cache is only slower
            log.debug("no OpenVINO compiled-model cache", exc_info=True)
        n = threads or torch.get_num_threads()
        compiled = {part: _compile(core, path, precision, n) for part, path in paths.items()}
    except Exception as exc:  # noqa: BLE001 - a failed conversion or compilation: torch it is
        log.warning("OpenVINO engine unavailable", exc_info=True)
        return EngineReport("torch", precision, notice=f"the OpenVINO engine could not be prepared "
                            f"({type(exc).__name__}: {exc}); tracking runs on torch (slower)")
    side = model.config.feat_size
    if "image_encoder" in compiled:
        model.image_encoder = OpenVinoImageEncoder(model.image_encoder, compiled["image_encoder"], model.image_size)
    if "memory_attention" in compiled:
        model.memory_attention = OpenVinoMemoryAttention(model.memory_attention, compiled["memory_attention"], side * side)
    for wrapped in (model.image_encoder, model.memory_attention):
        if isinstance(wrapped, _Fallback):
            wrapped.precision = precision
    notice = refused
    if converted:
        first = f"first use: converted for OpenVINO in {converted:.0f} s (kept for next time)"
        notice = f"{notice}; {first}" if notice else first
    return EngineReport("openvino", precision, converted, time.perf_counter() - t0, notice)
