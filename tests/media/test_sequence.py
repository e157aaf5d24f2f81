"""Image sequences: folders, patterns, single frames, numbering, gaps, sizes, EXR, 16-bit."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2_studio.media import MediaError, open_image_sequence, open_media, read_image
from sam2_studio.media.images import encode_exr, srgb_decode

from .clips import psnr


def test_folder_of_jpegs(data_dir: Path) -> None:
    folder = data_dir / "davis16_car-shadow" / "JPEGImages"
    with open_media(folder) as r:
        assert r.info.kind == "image_sequence"
        assert len(r) == 40 and r.size == (854, 480) and r.fps == Fraction(24)
        assert not r.has_audio
        ref = cv2.cvtColor(cv2.imread(str(folder / "00017.jpg")), cv2.COLOR_BGR2RGB)
        assert np.array_equal(r.read(17), ref)
        assert r.frame_numbers[:3] == [0, 1, 2] and r.missing_numbers == []


def test_pattern_hashes_and_single_frame(tmp_path: Path, data_dir: Path) -> None:
    src = sorted((data_dir / "cutie_judo" / "JPEGImages").glob("*.jpg"))[:6]
    for n, f in enumerate(src, start=1001):
        shutil.copy(f, tmp_path / f"shot.{n}.jpg")
    (tmp_path / "other_01.png").write_bytes(b"")  # another, smaller sequence is ignored
    for source in [tmp_path / "shot.%04d.jpg", tmp_path / "shot.####.jpg", tmp_path / "shot.1003.jpg", tmp_path]:
        with open_image_sequence(source, fps=25) as r:
            assert len(r) == 6 and r.fps == 25
            assert r.frame_numbers[0] == 1001 and r.info.first_frame_number == 1001
            assert psnr(r.read(2), read_image(src[2])) == 99.0


def test_gaps_are_reported_and_sizes_unified(data_dir: Path) -> None:
    with open_image_sequence(data_dir / "cutie_judo" / "Annotations") as r:
        assert r.frame_numbers == [0, 5, 8, 13]
        assert r.missing_numbers == [1, 2, 3, 4, 6, 7, 9, 10, 11, 12]
        assert r.read(1).shape == (480, 854, 3)  # frame 5 is 853 px wide on disk
        assert r.resized_frames == {1}


def test_sixteen_bit_png_and_tiff(tmp_path: Path) -> None:
    img16 = np.zeros((20, 30, 3), np.uint16)
    img16[..., 0] = 65535
    img16[..., 2] = 257 * 100
    for ext in ("png", "tif"):
        cv2.imwrite(str(tmp_path / f"deep_{ext}.0001.{ext}"), img16[..., ::-1])
        cv2.imwrite(str(tmp_path / f"deep_{ext}.0002.{ext}"), img16[..., ::-1])
        with open_image_sequence(tmp_path / f"deep_{ext}.%04d.{ext}") as r:
            out = r.read(0)
            assert out.dtype == np.uint8
            assert tuple(out[5, 5]) == (255, 0, 100)


def test_exr_sequence_is_shown_through_the_srgb_curve(tmp_path: Path) -> None:
    encoded = np.linspace(0, 1, 30, dtype=np.float32)[None, :].repeat(20, axis=0)
    linear = srgb_decode(encoded).astype(np.float32)
    rgba = np.dstack([linear, linear, linear, np.ones_like(linear)])
    for n in (1, 2):
        (tmp_path / f"plate.{n:04d}.exr").write_bytes(encode_exr(rgba, half=False))
    with open_image_sequence(tmp_path) as r:
        out = r.read(1)
        assert out.shape == (20, 30, 3)
        assert np.abs(out[..., 0].astype(int) - np.round(encoded * 255).astype(int)).max() <= 1


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    from PIL import Image

    a = np.zeros((20, 40, 3), np.uint8)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    im.save(tmp_path / "phone.jpg", exif=exif)
    with open_media(tmp_path / "phone.jpg") as r:
        assert len(r) == 1 and r.size == (20, 40)


def test_bad_frame_in_a_sequence(tmp_path: Path, data_dir: Path) -> None:
    shutil.copy(data_dir / "cutie_judo" / "JPEGImages" / "00000.jpg", tmp_path / "f.0001.jpg")
    (tmp_path / "f.0002.jpg").write_text("not a jpeg")
    with open_image_sequence(tmp_path) as r:
        with pytest.raises(MediaError) as info:
            r.read(1)
        assert "f.0002.jpg" in str(info.value) and "cannot be decoded" in info.value.reason


def test_scaled_read_uses_reduced_decoding(data_dir: Path) -> None:
    with open_image_sequence(data_dir / "davis16_car-shadow" / "JPEGImages") as r:
        small = r.read(3, (107, 60))
        full = cv2.resize(r.read(3), (107, 60), interpolation=cv2.INTER_AREA)
        assert small.shape == (60, 107, 3) and psnr(small, full) > 30
