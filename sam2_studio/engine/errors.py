"""Errors of a tracking session that the user can act on."""

from __future__ import annotations

import re

from sam2_studio.errors import StudioError

_REQUEST = re.compile(r"(?:Tried to allocate|tried to allocate)\s+([\d.]+)\s*(bytes|[KMGT]i?B)", re.IGNORECASE)
_UNITS = {"bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's out-of-memory errors on every device (CUDA, MPS, the CPU allocator)."""
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text or "can't allocate memory" in text


def requested_bytes(exc: BaseException) -> int | None:
    """How much the failed allocation asked for, read from torch's message."""
    m = _REQUEST.search(str(exc))
    if m is None:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def format_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} bytes"


class OutOfDeviceMemory(StudioError):
    """The device ran out of memory on ``frame``. Every frame done before it is kept and the
    session stays usable; the message says what to try."""

    def __init__(self, frame: int, device: str, requested: int | None, objects: int = 1) -> None:
        self.frame = frame
        self.device = device
        self.requested = requested
        asked = f" (it asked for {format_bytes(requested)} more)" if requested else ""
        where = {"cuda": "GPU", "mps": "Apple GPU", "cpu": "system"}.get(device, device)
        lighter = "track fewer objects at once, " if objects > 1 else ""
        super().__init__(
            f"out of {where} memory on frame {frame}{asked}; the frames tracked before it are kept. "
            f"Try a smaller model, a smaller working resolution, {lighter}or the CPU, "
            "and close other programs that use the GPU."
        )
