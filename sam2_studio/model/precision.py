"""One place that decides the compute precision for a device.

CUDA runs under bf16 autocast, as the official predictor does; Apple MPS under fp16 (bf16
on MPS has been reported to lose objects, fp16 matched fp32 closely); the CPU in fp32
unless asked otherwise. A request the device cannot honour falls back (bf16 -> fp16 -> fp32)
with a notice the user sees, never an error.

Memories are stored in one declared dtype per precision (:attr:`Precision.memory_dtype`):
bf16 as the official predictor keeps them (so fp32 results match it), fp16 under fp16
autocast (bf16 has fewer mantissa bits than the fp16 the model then computes in).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """The precision a model runs in on a device, and why, if it is not what was asked."""

    name: str  # "fp32", "bf16" or "fp16"
    device_type: str  # "cuda", "mps" or "cpu"
    notice: str | None = None  # set when a request was not honoured, or needs a word of warning

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype, None for plain fp32."""
        return None if self.name == "fp32" else DTYPES[self.name]

    @property
    def memory_dtype(self) -> torch.dtype:
        """The one dtype memories are stored in."""
        return torch.float16 if self.name == "fp16" else torch.bfloat16

    @property
    def label(self) -> str:
        return self.name

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """No autograd, and autocast to this precision's dtype (none for fp32)."""
        with torch.inference_mode():
            dtype = self.autocast_dtype
            if dtype is None:
                yield
            else:
                with torch.autocast(device_type=self.device_type, dtype=dtype):
                    yield


def default_precision(device: torch.device | str) -> str:
    """What a device runs in when nobody asks: CUDA bf16, MPS fp16, CPU fp32."""
    kind = torch.device(device).type
    return {"cuda": "bf16", "mps": "fp16"}.get(kind, "fp32")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX on x86, or the Arm BF16 extension: bf16 matrix units in hardware.

    Without them torch emulates bf16 on the CPU, slower than fp32.
    """
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
                return bf16_in_cpu_flags(f.read())
        except OSError:
            return False
    if sys.platform == "darwin":
        import platform

        return platform.machine() == "arm64"  # Apple M2 and later; M1 emulates, still correct
    return False


def bf16_in_cpu_flags(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text lists bf16 hardware (x86 ``flags``, Arm ``Features``)."""
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            return bool(set(line.split(":", 1)[-1].split()) & {"avx512_bf16", "amx_bf16", "bf16"})
    return False


def supports(device: torch.device | str, name: str) -> bool:
    """Whether ``device`` runs ``name`` natively (fp32 everywhere)."""
    dev = torch.device(device)
    if name == "fp32":
        return True
    if dev.type == "cuda":
        if name == "bf16":
            return _cuda_native_bf16()
        return True  # fp16 runs on every CUDA GPU torch supports
    if dev.type == "mps":
        if name == "bf16":
            mps = torch.backends.mps
            return bool(getattr(mps, "is_macos_or_newer", lambda *_: False)(14, 0))
        return True
    if name == "bf16":
        return cpu_has_native_bf16()
    return True  # fp16 autocast runs on any CPU (slowly): kept for checking the MPS path


def _cuda_native_bf16() -> bool:
    """Ampere and newer; older GPUs only emulate bf16 (torch may still call that supported)."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch before 2.3 has no such argument and reports native support only
        return bool(torch.cuda.is_bf16_supported())


def choose_precision(device: torch.device | str, requested: str | None = None) -> Precision:
    """The precision for ``device``: ``requested`` when the device runs it, else the next
    best with a notice; ``None`` asks for the device's default."""
    dev = torch.device(device)
    if requested is not None and requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}: use one of {', '.join(PRECISIONS)}")
    want = requested or default_precision(dev)
    name = dev.type.upper() if dev.type != "cpu" else "this CPU"
    if supports(dev, want):
        notice = None
        if dev.type == "cpu" and want == "fp16":
            notice = "fp16 on the CPU is emulated and slow; it is there to check the Apple GPU path"
        elif dev.type == "mps" and want == "bf16":
            notice = "bf16 on Apple GPUs has been reported to lose objects; fp16 is the safer choice"
        return Precision(want, dev.type, notice)
    for fallback in ("fp16", "fp32") if want == "bf16" else ("fp32",):
        if fallback == "fp16" and dev.type == "cpu":
            continue  # fp16 is slower than fp32 on a CPU
        if supports(dev, fallback):
            return Precision(fallback, dev.type, f"{name} has no native {want}: running in {fallback} instead")
    return Precision("fp32", dev.type, f"{name} has no native {want}: running in fp32 instead")
