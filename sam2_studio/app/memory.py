"""How much memory the editor holds, for the status bar: resident RAM, and GPU memory when
torch has allocated some."""

from __future__ import annotations

import sys

from sam2_studio.app.progress import format_bytes


def resident_bytes() -> int | None:
    """The process's resident set size, or None where it cannot be read."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil missing or refused: try /proc
        pass
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def gpu_bytes() -> int | None:
    """Memory torch holds on the GPU, or None with no GPU in use (never imports torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return int(torch.cuda.memory_reserved())
    except Exception:  # noqa: BLE001
        return None
    return None


def memory_text() -> str:
    parts = []
    rss = resident_bytes()
    if rss is not None:
        parts.append(f"RAM {format_bytes(rss)}")
    gpu = gpu_bytes()
    if gpu:
        parts.append(f"GPU {format_bytes(gpu)}")
    return " · ".join(parts)
