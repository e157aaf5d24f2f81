"""COCO RLE matches pycocotools byte for byte; the SA-V style JSON reads back."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.media import MaskletWriter, MediaError, RleMask, read_masklets
from sam2_studio.media.coco import counts_to_string, rle_counts, string_to_counts


def _masks() -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[:40, :60]
    out = {"circle": (yy - 20) ** 2 + (xx - 30) ** 2 < 15**2}
    yy, xx = np.mgrid[:10, :13]
    out["stripes"] = xx % 7 < 3
    out["ones"] = np.ones((5, 7), bool)
    out["zeros"] = np.zeros((5, 7), bool)
    yy, xx = np.mgrid[:9, :11]
    out["corner"] = (xx + yy) % 5 == 0
    yy, xx = np.mgrid[:120, :200]
    out["blobs"] = ((yy - 40) ** 2 + (xx - 50) ** 2 < 30**2) | ((yy - 80) ** 2 / 4 + (xx - 150) ** 2 < 25**2) | ((xx * yy) % 97 == 0)
    return out


# Produced by pycocotools 2.0.11 ``mask.encode`` for the masks above.
PYCOCOTOOLS = {
    'circle': '_d0;k04M2M4M2O0O2N2O0O2O00000000000000000001N101N2N101N3L3N3L[b0',
    'stripes': '0n0X10F',
    'ones': '0S1',
    'zeros': 'S1',
    'corner': '01403000M0N020N020N0203000M0N020N020N020O',
    'blobs': '0i3P3XLfM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0:>a0BUO07d0a0\\OXO04j0a0VO[O03l0a0TO\\O01P1a0PO^O00R1a0nN_O0NV1a0jNA0MX1a0hNB0LZ1a0fNC0K\\1a0dND0J^1a0bNE0J^1a0bNE0I`1a0`NF0Hb1a0^NG0Hb1a0^NG0Gd1a0\\NH0Ff1a0ZNI0Ff1a0ZNI0Ff1a0ZNI0Eh1a0XNJ0Eh1a0XNJ0Eh1a0XNJ0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Dj1a0VNK0Eh1a0XNJ0Eh1a0XNJ0Eh1a0XNJ0Ff1a0ZNI0Ff1a0ZNI0Ff1a0ZNI0Gd1a0\\NH0Hb1a0^NG0Hb1a0^NG0I`1a0`NF0J^1a0bNE0J^1a0bNE0K\\1a0dND0LZ1a0fNC0MX1a0hNB0NV1a0jNA00R1a0nN_O01P1a0PO^O03l0a0TO\\O04j0a0VO[O07d0a0\\OXO0:>a0BUO0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fMh3Z2XLfM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0\\1j0QNVOc00V1V1hNjNT1^1hNbNT1f1hNZNV1j1hNVNU1P2hNPNV1T2hNlMV1X2hNhMV1\\2hNdMW1_2N2O1O1O1O1O1O100O100O100000000000000001O001O001O1O1O1O1O1O2N1MhNdMZ1X2hNhMZ1T2hNlMZ1P2hNPN[1j1hNVNZ1f1hNZN\\1^1hNbN\\1V1hNjN^1j0QNVOc00Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fM0Z20fMh3Z2XLfM0Z20fM0Z20fM0Z20fM0Z20fM',
}


@pytest.mark.parametrize("name", sorted(PYCOCOTOOLS))
def test_same_strings_as_pycocotools(name: str) -> None:
    mask = _masks()[name]
    rle = RleMask.encode(mask)
    assert rle.counts == PYCOCOTOOLS[name]
    assert rle.size == mask.shape
    assert np.array_equal(RleMask(mask.shape, PYCOCOTOOLS[name]).decode(), mask)
    assert rle.area == int(mask.sum())


def test_against_pycocotools_when_installed() -> None:
    mu = pytest.importorskip("pycocotools.mask")  # a test dependency; skipped only outside dev.sh
    rng = np.random.default_rng(7)
    for shape, p in [((31, 17), 0.5), ((240, 320), 0.01), ((64, 64), 0.97)]:
        m = rng.random(shape) < p
        ref = mu.encode(np.asfortranarray(m.astype(np.uint8)))
        assert RleMask.encode(m).counts == ref["counts"].decode()


def test_round_trips_and_uncompressed_counts() -> None:
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (1, 50), (50, 1), (97, 131), (480, 854)]:
        for p in (0.0, 0.001, 0.5, 0.999, 1.0):
            m = rng.random(shape) < p
            rle = RleMask.encode(m)
            assert np.array_equal(rle.decode(), m)
            runs = rle_counts(m)
            assert runs.sum() == m.size and np.array_equal(string_to_counts(counts_to_string(runs)), runs)
            unc = RleMask.from_json({"size": list(shape), "counts": runs.tolist()})
            assert unc == rle
    # column-major order, zeros first
    m = np.array([[1, 0], [1, 1]], bool)
    assert rle_counts(m).tolist() == [0, 2, 1, 1]


def test_bad_rle_strings() -> None:
    with pytest.raises(ValueError):
        RleMask((2, 2), "~~~").decode()
    with pytest.raises(ValueError, match="covers"):
        RleMask((3, 3), counts_to_string(np.array([4]))).decode()


def test_masklet_json_round_trip(tmp_path: Path) -> None:
    masks = _masks()
    circle = masks["circle"]
    other = np.roll(circle, 10, axis=1)
    path = tmp_path / "masks.json"
    with MaskletWriter(path, (60, 40), fps=Fraction(30000, 1001), frame_count=10, object_names={1: "judo", 2: "car"}) as w:
        w.add(0, {1: circle})
        w.add(3, {1: circle, 2: other})  # object 2 appears on frame 3
        w.add(2, {2: RleMask.encode(other)})
    data = json.loads(path.read_text())
    assert data["masklet_id"] == [1, 2] and data["masklet_frame_index"] == [0, 2, 3]
    assert data["video_fps"] == "30000/1001" and data["masklet_name"] == ["judo", "car"]
    assert data["masklet"][0][0] == {"size": [40, 60], "counts": PYCOCOTOOLS["circle"]}
    m = read_masklets(path)
    assert (m.width, m.height, m.fps, m.frame_count) == (60, 40, Fraction(30000, 1001), 10)
    assert np.array_equal(m.mask(3, 2), other) and np.array_equal(m.mask(0, 1), circle)
    assert not m.mask(0, 2).any() and not m.mask(2, 1).any()  # absent: empty
    assert m.object_names == {1: "judo", 2: "car"}
    assert [p.name for p in tmp_path.iterdir()] == ["masks.json"]


def test_reads_sa_v_annotations(tmp_path: Path) -> None:
    """SA-V files carry no frame indices or names: frames count from 0, ids from the file."""
    circle = _masks()["circle"]
    sav = {"video_id": "sav_000001", "video_height": 40, "video_width": 60, "masklet_id": [0], "masklet_num": 1,
           "masklet": [[RleMask.encode(circle).to_json()], [RleMask.empty(40, 60).to_json()]]}
    p = tmp_path / "sav_000001_manual.json"
    p.write_text(json.dumps(sav))
    m = read_masklets(p)
    assert m.frame_indices == [0, 1] and m.object_ids == [0]
    assert np.array_equal(m.mask(0, 0), circle)


def test_not_a_mask_file(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"hello": 1}')
    with pytest.raises(MediaError, match="SA-V/COCO"):
        read_masklets(p)
    with pytest.raises(ValueError, match="40"):
        MaskletWriter(tmp_path / "y.json", (60, 40)).add(0, {1: np.zeros((10, 10), bool)})
