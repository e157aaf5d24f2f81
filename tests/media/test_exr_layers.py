"""Multi-layer EXR and Cryptomatte sequences, read back with OpenEXR itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

OpenEXR = pytest.importorskip("OpenEXR")

from sam2_studio.media import ExrCompression, LayeredExr, LayeredExrWriter, MediaError, layer_name  # noqa: E402
from sam2_studio.media import cryptomatte as cm  # noqa: E402
from sam2_studio.media.images import srgb_decode  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
W, H = 37, 21  # odd on purpose


def read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    with OpenEXR.File(str(path), separate_channels=True) as f:
        return dict(f.header()), {k: np.array(v.pixels) for k, v in f.channels().items()}


def mattes(i: int) -> list[np.ndarray]:
    a = np.zeros((H, W), np.float32)
    a[2:15, 3 + i:20 + i] = 1.0
    a[2:15, 20 + i] = 0.25  # a soft edge
    b = np.zeros((H, W), bool)
    b[8:20, 15:30] = True  # overlaps a
    return [a, b]


def frame(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


NAMES = ["my car #1", "3d-logo"]


@pytest.mark.parametrize("compression", list(ExrCompression))
@pytest.mark.parametrize("half", [True, False])
def test_a_layer_per_object_with_colour(tmp_path, compression, half):
    settings = LayeredExr(compression, half=half, rgb=True, start_number=1001)
    with LayeredExrWriter(tmp_path / "shot.%04d.exr", settings, (W, H), NAMES) as w:
        for i in range(3):
            w.write(mattes(i), frame(i))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.1001.exr", "shot.1002.exr", "shot.1003.exr"]
    header, ch = read(tmp_path / "shot.1002.exr")
    assert sorted(ch) == ["B", "G", "R", "_3d_logo.A", "my_car_1.A"]
    assert json.loads(header["sam2studio/layers"]) == {"my_car_1": "my car #1", "_3d_logo": "3d-logo"}
    assert header["compression"] == getattr(OpenEXR, f"{compression.name}_COMPRESSION")
    dtype = np.float16 if half else np.float32
    assert all(v.dtype == dtype for v in ch.values())
    a, b = mattes(1)
    np.testing.assert_array_equal(ch["my_car_1.A"], a.astype(dtype))  # mattes exact, DWAA too
    np.testing.assert_array_equal(ch["_3d_logo.A"], b.astype(dtype))
    linear = srgb_decode(frame(1).astype(np.float32) / 255)
    tol = 0.02 if compression is ExrCompression.DWAA else (1e-3 if half else 1e-6)
    np.testing.assert_allclose(ch["R"], linear[..., 0], atol=tol, rtol=tol)


def test_layer_names_are_sanitised_and_unique():
    assert layer_name("Car") == "Car" and layer_name("my car #1") == "my_car_1"
    assert layer_name("3d") == "_3d" and layer_name("равнина") == "object" and layer_name("a.b") == "a_b"
    from sam2_studio.media.exr_layers import layer_names

    assert layer_names(["car", "car!", "Car", "R"], reserved=("R", "G", "B")) == ["car", "car_2", "Car_3", "R_2"]


@pytest.mark.parametrize("start", [0, 1, 1001])
def test_cryptomatte_sequence(tmp_path, start):
    names = ["car", "равнина", "car"]  # a duplicate name is one ID
    settings = LayeredExr(ExrCompression.PIZ, half=True, cryptomatte=True, start_number=start)
    third = np.zeros((H, W), np.float32)
    third[0:3, 0:3] = 1
    with LayeredExrWriter(tmp_path / "crypto", settings, (W, H), names) as w:
        for i in range(2):
            w.write([*mattes(i), third])
    files = sorted(tmp_path.iterdir())
    assert [p.name for p in files] == [f"crypto.{start + i:04d}.exr" for i in range(2)]
    header, ch = read(files[0])
    key = cm.type_key("CryptoObject")
    assert header[f"cryptomatte/{key}/name"] == "CryptoObject"
    assert header[f"cryptomatte/{key}/hash"] == "MurmurHash3_32"
    assert header[f"cryptomatte/{key}/conversion"] == "uint32_to_float32"
    manifest = json.loads(header[f"cryptomatte/{key}/manifest"])
    assert manifest == {"car": cm.id_hex("car"), "равнина": cm.id_hex("равнина")}  # real names
    assert sorted(ch) == ["CryptoObject00.A", "CryptoObject00.B", "CryptoObject00.G", "CryptoObject00.R"]
    assert all(v.dtype == np.float32 for v in ch.values())  # IDs need every bit
    a, b = mattes(0)
    union = np.maximum(np.maximum(a, b.astype(np.float32)), third)
    np.testing.assert_allclose(ch["CryptoObject00.G"] + ch["CryptoObject00.A"], union, atol=1e-6)
    ids = {f"{v:08x}" for v in np.concatenate([ch["CryptoObject00.R"], ch["CryptoObject00.B"]]).view(np.uint32).ravel()}
    assert ids == {"00000000", *manifest.values()}
    overlap = (a > 0) & b
    assert overlap.any()
    got = np.where(ch["CryptoObject00.R"] == cm.name_id("равнина"), ch["CryptoObject00.G"], 0) + \
        np.where(ch["CryptoObject00.B"] == cm.name_id("равнина"), ch["CryptoObject00.A"], 0)
    np.testing.assert_allclose(got[overlap], (b / np.maximum(a + b, 1e-9))[overlap], rtol=1e-6)


def test_cryptomatte_refuses_a_lossy_compression(tmp_path):
    with pytest.raises(MediaError, match="DWAA"):
        LayeredExrWriter(tmp_path / "c.%04d.exr", LayeredExr(ExrCompression.DWAA, cryptomatte=True), (W, H), ["a"])
    assert list(tmp_path.iterdir()) == []


def test_full_disk_mid_sequence_leaves_no_frame_and_names_the_one_that_failed(tmp_path):
    """A file-size limit makes writes fail like a full disk."""
    code = f"""
        import resource, signal
        import numpy as np
        from sam2_studio.media import MediaError, LayeredExr, LayeredExrWriter
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))
        rng = np.random.default_rng(0)
        try:
            with LayeredExrWriter({str(tmp_path / "m.%04d.exr")!r}, LayeredExr(half=False, start_number=1001),
                                  (320, 240), ["car", "sign"]) as w:
                for i in range(6):  # frame 3 is noise: over the limit as a file
                    m = rng.random((240, 320)).astype(np.float32) if i == 3 else np.zeros((240, 320), np.float32)
                    w.write([m, m])
        except MediaError as e:
            print("ERROR:", e)
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert "ERROR:" in res.stdout, res.stdout + res.stderr
    assert "m.1004.exr" in res.stdout and ("disk is full" in res.stdout or "larger than this disk" in res.stdout), res.stdout
    assert list(tmp_path.iterdir()) == []  # no partial frame, no finished one either
