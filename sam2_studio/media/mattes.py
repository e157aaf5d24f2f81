"""Matte values between the forms tools want: float 0..1, 8-bit, 16-bit; straight or premultiplied.

Conversions round to nearest so an 8-bit matte survives any round trip exactly, a float one
within half a step, and 8-bit values map onto 16-bit ones exactly (x * 257).
"""

from __future__ import annotations

import numpy as np


def matte_float(matte: np.ndarray) -> np.ndarray:
    """float32 0..1 from bool, uint8, uint16 or float input."""
    m = np.asarray(matte)
    if m.dtype == np.bool_:
        return m.astype(np.float32)
    if m.dtype == np.uint8:
        return m.astype(np.float32) * np.float32(1 / 255)
    if m.dtype == np.uint16:
        return m.astype(np.float32) * np.float32(1 / 65535)
    if np.issubdtype(m.dtype, np.floating):
        return np.clip(m, 0.0, 1.0).astype(np.float32, copy=False)
    raise TypeError(f"a matte must be bool, uint8, uint16 or float, not {m.dtype}")


def matte_u8(matte: np.ndarray) -> np.ndarray:
    m = np.asarray(matte)
    if m.dtype == np.uint8:
        return m
    if m.dtype == np.bool_:
        return m.astype(np.uint8) * np.uint8(255)
    if m.dtype == np.uint16:
        return ((m.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return (matte_float(m) * 255.0 + 0.5).astype(np.uint8)


def matte_u16(matte: np.ndarray) -> np.ndarray:
    m = np.asarray(matte)
    if m.dtype == np.uint16:
        return m
    if m.dtype == np.uint8:
        return m.astype(np.uint16) * np.uint16(257)
    if m.dtype == np.bool_:
        return m.astype(np.uint16) * np.uint16(65535)
    return (matte_float(m).astype(np.float64) * 65535.0 + 0.5).astype(np.uint16)


def rgba(frame: np.ndarray, matte: np.ndarray, *, bits: int = 8, premultiplied: bool = False) -> np.ndarray:
    """The frame (RGB uint8) with the matte as alpha, 8- or 16-bit, straight or premultiplied."""
    if frame.shape[:2] != np.shape(matte)[:2]:
        raise ValueError(f"frame {frame.shape[:2]} and matte {np.shape(matte)[:2]} differ in size")
    if bits == 8:
        a = matte_u8(matte)
        rgb = frame
        if premultiplied:
            rgb = ((frame.astype(np.uint32) * a[..., None] + 127) // 255).astype(np.uint8)
        return np.dstack([rgb, a])
    a16 = matte_u16(matte)
    rgb16 = frame.astype(np.uint16) * np.uint16(257)
    if premultiplied:
        rgb16 = ((rgb16.astype(np.uint64) * a16[..., None] + 32767) // 65535).astype(np.uint16)
    return np.dstack([rgb16, a16])
