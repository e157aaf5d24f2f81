"""Single still images in and out: JPEG, PNG, TIFF through OpenCV, EXR through FFmpeg.

Colour images come back as RGB uint8 (EXR's scene-linear light is shown through the sRGB
curve); mattes are written exactly at 8 or 16 bits, or as half/float EXR.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np

from .errors import MediaError, os_reason

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".exr", ".bmp", ".webp")

_HALF_TO_FLOAT = {"grayf16le": "grayf32le", "gbrpf16le": "gbrpf32le", "gbrapf16le": "gbrapf32le"}


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Scene-linear light to sRGB-encoded values, both 0..1 floats."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded 0..1 values to scene-linear light."""
    x = np.clip(encoded, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


def _io_failure(path: Path, exc: OSError, doing: str) -> MediaError:
    return MediaError(f"cannot {doing}: {os_reason(exc) or exc.strerror or exc}", path)


def read_exr(path: Path) -> np.ndarray:
    """EXR pixels as float32: (H, W) grey, or (H, W, 3|4) RGB(A), values as stored."""
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration) as exc:
        raise MediaError("this EXR file cannot be decoded (damaged or an unsupported variant)", path) from exc
    except OSError as exc:
        raise _io_failure(path, exc, "read the file") from exc
    name = frame.format.name
    if name in _HALF_TO_FLOAT:
        frame = frame.reformat(format=_HALF_TO_FLOAT[name])
        name = frame.format.name
    if name == "grayf32le":
        return frame.to_ndarray()
    if name not in ("gbrpf32le", "gbrapf32le"):
        frame = frame.reformat(format="gbrpf32le")
    return frame.to_ndarray(channel_last=True)


def read_image(path: str | Path, *, reduce: int = 1) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3), upright (EXIF orientation applied).

    ``reduce`` (1, 2, 4 or 8) decodes JPEGs at a fraction of their size, for thumbnails.
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":
        data = read_exr(path)
        rgb = np.repeat(data[..., None], 3, axis=2) if data.ndim == 2 else data[..., :3]
        img = (srgb_encode(rgb) * 255.0 + 0.5).astype(np.uint8)
        if reduce > 1:
            img = img[::reduce, ::reduce]
        return img
    try:
        buf = np.fromfile(path, dtype=np.uint8)  # unlike imread, fine with any file name
    except OSError as exc:
        raise _io_failure(path, exc, "read the file") from exc
    if buf.size == 0:
        raise MediaError("the image file is empty (0 bytes)", path)
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    img = cv2.imdecode(buf, flag)
    if img is None:
        raise MediaError("this image cannot be decoded (not an image, damaged, or an unsupported variant)", path)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_matte(path: str | Path) -> np.ndarray:
    """A matte image as written: uint8/uint16 grey from PNG/TIFF, float32 from EXR.

    Colour files give their alpha channel if they have one, else their first channel.
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":
        data = read_exr(path)
        return data if data.ndim == 2 else data[..., 3] if data.shape[2] == 4 else data[..., 0]
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise _io_failure(path, exc, "read the file") from exc
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise MediaError("this matte image cannot be decoded", path)
    if img.ndim == 3:
        return img[..., 3] if img.shape[2] == 4 else img[..., 0]
    return img


def encode_png(image: np.ndarray, *, compression: int = 1) -> bytes:
    """PNG bytes of grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4), uint8 or uint16.

    Mattes (grey, mostly flat) skip PNG's row filters and use run-length deflate: 4x faster
    and smaller than the adaptive default. Colour keeps the cheap "sub" filter.
    """
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
    else:
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, buf = cv2.imencode(".png", image, params)
    if not ok:  # pragma: no cover - OpenCV only fails on bad input
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def encode_tiff(image: np.ndarray) -> bytes:
    """Deflate-compressed TIFF bytes, same inputs as :func:`encode_png`."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".tif", image, [cv2.IMWRITE_TIFF_COMPRESSION, 8])
    if not ok:  # pragma: no cover
        raise ValueError("TIFF encoding failed")
    return buf.tobytes()


def encode_exr(image: np.ndarray, *, half: bool = True, compression: str = "zip16") -> bytes:
    """EXR bytes of float data: (H, W) as channel Y, (H, W, 4) as R, G, B, A."""
    if image.ndim == 2:
        fmt = "grayf32le"
    elif image.shape[2] == 4:
        fmt = "gbrapf32le"
    else:
        fmt = "gbrpf32le"
    data = np.ascontiguousarray(image, dtype=np.float32)
    cc = av.CodecContext.create("exr", "w")
    cc.width, cc.height = data.shape[1], data.shape[0]
    cc.pix_fmt = fmt
    cc.time_base = Fraction(1, 1)
    cc.options = {"compression": compression, "format": "half" if half else "float"}
    frame = av.VideoFrame.from_ndarray(data, format=fmt, channel_last=True) if data.ndim == 3 else av.VideoFrame.from_ndarray(data, format=fmt)
    frame.pts = 0
    packets = cc.encode(frame) + cc.encode(None)
    return b"".join(bytes(p) for p in packets)
