"""Small test clips made on the fly (nothing is committed): frames stamped with their number."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 8
BLOCK = 8


def stamp(img: np.ndarray, n: int) -> np.ndarray:
    """Write ``n`` as 8 black/white blocks along the top-left edge (survives lossy coding)."""
    out = img.copy()
    for b in range(BITS):
        out[:BLOCK, b * BLOCK : (b + 1) * BLOCK] = 255 if (n >> b) & 1 else 0
    return out


def read_stamp(img: np.ndarray) -> int:
    n = 0
    for b in range(BITS):
        if img[1 : BLOCK - 1, b * BLOCK + 1 : (b + 1) * BLOCK - 1].mean() > 127:
            n |= 1 << b
    return n


def source_frames(data_dir: Path, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``count`` frames of the DAVIS car clip (ping-pong), resized and stamped with their index."""
    import cv2

    files = sorted((data_dir / "davis16_car-shadow" / "JPEGImages").glob("*.jpg"))
    base = [cv2.resize(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB), size, interpolation=cv2.INTER_AREA) for f in files]
    order = base + base[-2:0:-1]
    return [stamp(order[i % len(order)], i) for i in range(count)]


def encode(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    codec: str = "libx264",
    rate: Fraction | int = 24,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation: float | None = None,
    display_matrix: list[int] | None = None,
    sample_aspect: Fraction | None = None,
    fmt: str | None = None,
    audio: str | None = None,
    audio_seconds: float = 0.0,
    colorspace: int | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames; ``pts``/``time_base`` make variable frame rates and offsets."""
    out = av.open(str(path), "w", format=fmt, options=container_options or {})
    s = out.add_stream(codec, rate=rate)
    h, w = frames[0].shape[:2]
    s.width, s.height, s.pix_fmt = w, h, pix_fmt
    if options:
        s.options = options
    if time_base is not None:
        s.codec_context.time_base = time_base
    if sample_aspect is not None:
        s.codec_context.sample_aspect_ratio = sample_aspect
    if colorspace is not None:
        s.codec_context.colorspace = colorspace
    if rotation is not None:
        s.set_display_rotation(rotation)
    if display_matrix is not None:
        s.set_display_matrix(display_matrix)
    a = None
    if audio:
        a = out.add_stream(audio, rate=48000, layout="stereo")
    for i, img in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
        if colorspace is not None:
            vf = vf.reformat(format=pix_fmt, dst_colorspace={1: "ITU709", 6: "ITU601", 5: "ITU601"}[colorspace], dst_color_range="MPEG")
        if pts is not None:
            vf.pts = pts[i]
            vf.time_base = time_base
        out.mux(s.encode(vf))
    out.mux(s.encode(None))
    if a is not None:
        n = 1024
        total = int(audio_seconds * 48000)
        for k in range(0, total, n):
            t = (np.arange(n) + k) / 48000
            x = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([x, x]), format="fltp", layout="stereo")
            af.sample_rate = 48000
            af.pts = k
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    out.close()
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)
