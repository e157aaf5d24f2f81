"""Where the model runs and in what precision: CUDA (bf16 autocast), else Apple MPS, else CPU."""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator

import torch


def choose_device(preferred: str | torch.device | None = None) -> torch.device:
    """The requested device, or the best one present."""
    if preferred is not None:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the hardware runs it fast (CUDA with bf16 support); fp32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


@contextlib.contextmanager
def inference_context(device: torch.device, dtype: torch.dtype | None = None) -> Iterator[None]:
    """No autograd, plus autocast to ``dtype`` (default: :func:`autocast_dtype`)."""
    dtype = dtype if dtype is not None else autocast_dtype(device)
    with torch.inference_mode():
        if dtype is None or dtype == torch.float32:
            yield
        else:
            with torch.autocast(device_type=device.type, dtype=dtype):
                yield


def describe(device: torch.device) -> str:
    """A short human name for a status bar: 'CUDA: NVIDIA H100 (bf16)', 'CPU (fp32)'."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"CUDA: {name} ({'bf16' if autocast_dtype(device) else 'fp32'})"
    if device.type == "mps":
        return "Apple GPU (MPS, fp32)"
    return f"CPU, {torch.get_num_threads()} threads (fp32)"


_ALLOCATOR_TUNED = False


def tune_cpu_allocator() -> bool:
    """Keep freed memory in glibc's heap instead of returning it to the OS at every free.

    The image encoder allocates and frees tensors of 25-150 MB per block; by default glibc
    serves each from a fresh ``mmap`` and every page of it faults on first touch. Measured
    with the profiler: ~20% of the CPU image encoder went to those faults (``aten::copy_``
    into new outputs). With mmap off and a high trim threshold the pages are reused.
    Process-wide and only on Linux/glibc; returns whether it applied.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        ok = libc.mallopt(m_mmap_max, 0) == 1 and libc.mallopt(m_trim_threshold, 1 << 30) == 1
    except (OSError, AttributeError):
        return False
    _ALLOCATOR_TUNED = ok
    return ok
