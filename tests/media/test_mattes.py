"""Alpha round trips for every matte format, numbering, straight vs premultiplied alpha."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from sam2_studio.media import MatteExport, MatteFormat, MatteWriter, matte_u8, matte_u16, open_video, read_matte, rgba
from sam2_studio.media.images import srgb_decode

W, H = 96, 54


@pytest.fixture(scope="module")
def mattes() -> list[np.ndarray]:
    """Soft float mattes with edges, and the 8-bit values they should become."""
    yy, xx = np.mgrid[:H, :W]
    out = []
    for i in range(4):
        d = np.hypot(xx - 30 - 8 * i, yy - 27) / 20.0
        out.append(np.clip(1.5 - d, 0, 1).astype(np.float32))
    return out


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(4)]


def _write(path: Path, export: MatteExport, mattes: list[np.ndarray], frames: list[np.ndarray]) -> Path:
    with MatteWriter(path, export, (W, H), 24) as w:
        for m, f in zip(mattes, frames, strict=True):
            w.write(m, f)
    return w.path


def test_conversions_are_exact() -> None:
    v8 = np.arange(256, dtype=np.uint8)
    assert np.array_equal(matte_u8(matte_u16(v8)), v8)
    assert np.array_equal(matte_u16(v8), v8.astype(np.uint16) * 257)
    assert np.array_equal(matte_u8(v8.astype(np.float32) / 255), v8)
    assert matte_u16(np.array([True, False])).tolist() == [65535, 0]
    f = np.random.default_rng(0).random(1000).astype(np.float32)
    assert np.abs(matte_u16(f) / 65535 - f).max() <= 0.5 / 65535 + 1e-7


@pytest.mark.parametrize(("fmt", "bits"), [(MatteFormat.PNG8, 8), (MatteFormat.PNG16, 16)])
@pytest.mark.parametrize("start", [0, 1, 1001])
def test_png_grey_sequences(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray], fmt: MatteFormat, bits: int, start: int) -> None:
    pattern = _write(tmp_path / "matte.png", MatteExport(fmt, start_number=start, padding=4), mattes, frames)
    assert pattern.name == "matte.%04d.png"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"matte.{n:04d}.png" for n in range(start, start + 4)]
    for i, m in enumerate(mattes):
        got = read_matte(tmp_path / names[i])
        if bits == 8:
            assert got.dtype == np.uint8 and np.array_equal(got, matte_u8(m))
            assert np.abs(got.astype(int) - m * 255).max() <= 0.5 + 1e-4
        else:
            assert got.dtype == np.uint16 and np.array_equal(got, matte_u16(m))  # exact


def test_padding_and_pattern_name(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray]) -> None:
    _write(tmp_path / "shot_v2_####.png", MatteExport(MatteFormat.PNG8, start_number=1001), mattes, frames)
    assert sorted(p.name for p in tmp_path.iterdir())[0] == "shot_v2_1001.png"
    _write(tmp_path / "short.png", MatteExport(MatteFormat.PNG8, padding=6, start_number=0), mattes, frames)
    assert (tmp_path / "short.000003.png").exists()


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("premultiplied", [False, True])
def test_png_rgba(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray], bits: int, premultiplied: bool) -> None:
    fmt = MatteFormat.PNG8_RGBA if bits == 8 else MatteFormat.PNG16_RGBA
    _write(tmp_path / "cut.%04d.png", MatteExport(fmt, premultiplied=premultiplied), mattes, frames)
    got = cv2.imread(str(tmp_path / "cut.0002.png"), cv2.IMREAD_UNCHANGED)
    got = cv2.cvtColor(got, cv2.COLOR_BGRA2RGBA)
    assert got.dtype == (np.uint8 if bits == 8 else np.uint16)
    expected = rgba(frames[1], mattes[1], bits=bits, premultiplied=premultiplied)
    assert np.array_equal(got, expected)
    top = 255 if bits == 8 else 65535
    alpha = got[..., 3].astype(np.float64) / top
    colour = got[..., :3].astype(np.float64) / top
    src = frames[1].astype(np.float64) / 255
    if premultiplied:
        assert np.abs(colour - src * alpha[..., None]).max() <= 1 / top
    else:
        assert np.array_equal(got[..., :3] // (257 if bits == 16 else 1), frames[1])  # straight: colour untouched
    assert np.abs(alpha - mattes[1]).max() <= 0.5 / top + 1e-6


def test_exr_grey(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray]) -> None:
    _write(tmp_path / "a.exr", MatteExport(MatteFormat.EXR), mattes, frames)
    got = read_matte(tmp_path / "a.0001.exr")
    assert got.dtype == np.float32
    assert np.abs(got - mattes[0]).max() < 1e-3  # half float
    assert np.abs(got * 255 - matte_u8(mattes[0])).max() <= 1


def _read_exr_independently(path: Path) -> dict[str, np.ndarray]:
    """A minimal OpenEXR scanline reader (none/ZIP/ZIPS, half/float), written from the spec."""
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:4] == b"\x76\x2f\x31\x01"
    pos, attrs = 8, {}
    while data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        attrs[data[pos:name_end].decode()] = data[type_end + 5 : type_end + 5 + size]
        pos = type_end + 5 + size
    pos += 1
    channels, cpos, chl = [], 0, attrs["channels"]
    while chl[cpos] != 0:
        end = chl.index(b"\0", cpos)
        (ptype,) = struct.unpack_from("<i", chl, end + 1)
        channels.append((chl[cpos:end].decode(), ptype))
        cpos = end + 17
    x0, y0, x1, y1 = struct.unpack("<4i", attrs["dataWindow"])
    w, h = x1 - x0 + 1, y1 - y0 + 1
    lines = {0: 1, 2: 1, 3: 16}[attrs["compression"][0]]
    blocks = -(-h // lines)
    offsets = struct.unpack_from(f"<{blocks}Q", data, pos)
    dtypes = {1: np.float16, 2: np.float32}
    out = {name: np.zeros((h, w), np.float32) for name, _ in channels}
    for off in offsets:
        y, size = struct.unpack_from("<ii", data, off)
        raw = data[off + 8 : off + 8 + size]
        n_lines = min(lines, y1 + 1 - y)
        full = n_lines * w * sum(np.dtype(dtypes[t]).itemsize for _, t in channels)
        if size < full:
            d = np.frombuffer(zlib.decompress(raw), np.uint8).astype(np.int64)
            t = (np.cumsum(np.concatenate([d[:1], d[1:] - 128])) % 256).astype(np.uint8)  # undo the predictor
            half = (t.size + 1) // 2
            raw_arr = np.empty(t.size, np.uint8)
            raw_arr[0::2], raw_arr[1::2] = t[:half], t[half:]
            raw = raw_arr.tobytes()
        p = 0
        for row in range(n_lines):
            for name, ptype in channels:
                dt = np.dtype(dtypes[ptype]).newbyteorder("<")
                out[name][y - y0 + row] = np.frombuffer(raw, dt, count=w, offset=p)
                p += w * dt.itemsize
    return out


def test_exr_rgba_is_linear_and_premultiplied(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray]) -> None:
    _write(tmp_path / "c.exr", MatteExport(MatteFormat.EXR_RGBA), mattes, frames)
    chans = _read_exr_independently(tmp_path / "c.0003.exr")
    assert sorted(chans) == ["A", "B", "G", "R"]
    alpha = chans["A"]
    assert np.abs(alpha - mattes[2]).max() < 1e-3
    linear = srgb_decode(frames[2].astype(np.float32) / 255)
    for k, name in enumerate("RGB"):
        assert np.abs(chans[name] - linear[..., k] * alpha).max() < 4e-3
    grey = _write(tmp_path / "g.exr", MatteExport(MatteFormat.EXR), mattes, frames)
    y = _read_exr_independently(grey.with_name("g.0001.exr"))
    assert sorted(y) == ["Y"] and np.abs(y["Y"] - mattes[0]).max() < 1e-3


def test_prores_4444_alpha(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray]) -> None:
    path = _write(tmp_path / "edit", MatteExport(MatteFormat.PRORES_4444), mattes, frames)
    assert path.name == "edit.mov"
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "prores" and s.codec_context.pix_fmt.startswith("yuva444p")
        decoded = [f.reformat(format="rgba64le").to_ndarray() for f in c.decode(s)]
    assert len(decoded) == 4
    for got, m, f in zip(decoded, mattes, frames, strict=True):
        a8 = got[..., 3].astype(np.float64) / 65535 * 255
        assert np.abs(a8 - matte_u8(m)).max() <= 1.0  # within ±1 of 8-bit
        rgb8 = got[..., :3].astype(np.float64) / 257
        assert np.abs(rgb8 - f).mean() < 3  # straight colour (random noise: 4:4:4 keeps it)
    with open_video(path) as r:
        assert r.size == (W, H) and len(r) == 4


def test_ffv1_is_lossless_16_bit(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray]) -> None:
    path = _write(tmp_path / "mask.mkv", MatteExport(MatteFormat.FFV1), mattes, frames)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "ffv1"
        decoded = [f.to_ndarray() for f in c.decode(s)]
    assert [d.dtype for d in decoded] == [np.uint16] * 4
    for got, m in zip(decoded, mattes, strict=True):
        assert np.array_equal(got, matte_u16(m))


def test_rgba_formats_need_the_frame(tmp_path: Path, mattes: list[np.ndarray]) -> None:
    with MatteWriter(tmp_path / "x.png", MatteExport(MatteFormat.PNG8_RGBA), (W, H), 24) as w:
        with pytest.raises(ValueError, match="need the source frame"):
            w.write(mattes[0])
        w.write(mattes[0], np.zeros((H, W, 3), np.uint8))


def test_cancelled_sequence_leaves_the_old_one(tmp_path: Path, mattes: list[np.ndarray], frames: list[np.ndarray]) -> None:
    _write(tmp_path / "m.%04d.png", MatteExport(MatteFormat.PNG8), mattes, frames)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(KeyboardInterrupt), MatteWriter(tmp_path / "m.%04d.png", MatteExport(MatteFormat.PNG8), (W, H), 24) as w:
        w.write(np.zeros((H, W), np.float32))
        w.write(np.zeros((H, W), np.float32))
        raise KeyboardInterrupt
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_raw_tiff_sequence(tmp_path: Path) -> None:
    from sam2_studio.media import ImageSequenceWriter, SequenceNaming

    img = (np.arange(W * H * 3, dtype=np.uint32).reshape(H, W, 3) * 37 % 65536).astype(np.uint16)
    with ImageSequenceWriter(SequenceNaming.parse(tmp_path / "plate.%05d.tif"), start=0) as w:
        w.write(img)
        w.write(img[..., 0])
    colour = cv2.imread(str(tmp_path / "plate.00000.tif"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(colour[..., ::-1], img)
    assert np.array_equal(read_matte(tmp_path / "plate.00001.tif"), img[..., 0])


def test_prores_4444_alpha_is_exact_across_conversion_slices(tmp_path: Path) -> None:
    """A hard matte stays hard in every row: a threaded pixel-format conversion once put
    mid-grey alpha into 8 pixels at its slice borders (row 40 of 120)."""
    w, h = 214, 120
    yy, xx = np.mgrid[:h, :w]
    mattes = [(xx - 100) ** 2 + (yy - 50 - 3 * k) ** 2 < 45**2 for k in range(6)]
    colour = [np.full((h, w, 3), 90 + 20 * k, np.uint8) for k in range(6)]
    with MatteWriter(tmp_path / "hard", MatteExport(MatteFormat.PRORES_4444), (w, h), 24) as writer:
        for m, f in zip(mattes, colour, strict=True):
            writer.write(m, f)
    with av.open(str(writer.path)) as c:
        alphas = [f.reformat(format="rgba64le").to_ndarray()[..., 3] for f in c.decode(video=0)]
    for got, m in zip(alphas, mattes, strict=True):
        assert np.array_equal(got > 32767, m) and np.all((got < 256) | (got > 65535 - 256))
