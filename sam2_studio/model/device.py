"""Where the model runs: CUDA, else Apple MPS, else the CPU (precision: ``precision.py``)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
from collections.abc import Iterator

import torch

from .precision import Precision, choose_precision

MPS_FALLBACK_ENV = "PYTORCH_ENABLE_MPS_FALLBACK"


def enable_mps_fallback() -> None:
    """Let the few operators MPS lacks run on the CPU instead of failing (set before use)."""
    os.environ.setdefault(MPS_FALLBACK_ENV, "1")


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(preferred: str | torch.device | None = None) -> torch.device:
    """The requested device, or the best one present (CUDA, then Apple MPS, then the CPU)."""
    if preferred is not None:
        dev = torch.device(preferred)
    elif torch.cuda.is_available():
        dev = torch.device("cuda")
    elif mps_available():
        dev = torch.device("mps")
    else:
        dev = torch.device("cpu")
    if dev.type == "mps":
        enable_mps_fallback()
    return dev


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the device's default precision (None: plain fp32)."""
    return choose_precision(device).autocast_dtype


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


def describe(device: torch.device, precision: Precision | None = None) -> str:
    """A short human name for a status bar: 'CUDA: NVIDIA H100 (bf16)', 'CPU, 8 threads (fp32)'."""
    p = (precision or choose_precision(device)).label
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)} ({p})"
    if device.type == "mps":
        return f"Apple GPU (MPS, {p})"
    return f"CPU, {torch.get_num_threads()} threads ({p})"


_ALLOCATOR_TUNED = False


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL("libc.so.6")


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
        libc = _libc()
        m_trim_threshold, m_mmap_max = -1, -4
        ok = libc.mallopt(m_mmap_max, 0) == 1 and libc.mallopt(m_trim_threshold, 1 << 30) == 1
    except (OSError, AttributeError):
        return False
    _ALLOCATOR_TUNED = ok
    return ok


def trim_cpu_heap() -> bool:
    """Give the free pages of glibc's heaps back to the OS (``malloc_trim``).

    With ``tune_cpu_allocator``'s settings freed memory stays in the process, and a long track
    (1080p masks made and freed on three threads) leaves it scattered: RSS then grew ~90 MB
    per 1000 frames of which ~35 were kept data. The engine calls this every few hundred
    frames; the pages it returns fault in again once, a few ms per call. Linux/glibc only.
    """
    if not _ALLOCATOR_TUNED:
        return False
    try:
        return bool(_libc().malloc_trim(0))
    except (OSError, AttributeError):
        return False
