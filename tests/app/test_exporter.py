"""The exporter (app/export.py) the editor and the command line share: every matte format,
effects, cancel leaving nothing behind."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sam2_studio.app.clip import open_clip
from sam2_studio.app.export import ExportError, ExportKind, ExportSettings, per_object_path, run_export
from sam2_studio.app.rendering import stack_fields
from sam2_studio.effects import ObjectStack, RefineParams
from sam2_studio.media import open_media, read_masklets
from sam2_studio.project import Document

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "car-shadow.mp4"


@pytest.fixture(scope="module")
def clip():
    c = open_clip(SAMPLE)
    yield c
    c.close()


def box_mask(f: int, x0: int = 100) -> np.ndarray:
    m = np.zeros((480, 854), bool)
    m[100 + f:200 + f, x0 + 3 * f:x0 + 120 + 3 * f] = True
    return m


@pytest.fixture
def doc(clip):
    d = Document(clip.video_info())
    a = d.add_object("Car")
    b = d.add_object("Sign")
    d.set_masks({(a.id, f): box_mask(f) for f in range(10)})
    d.set_masks({(b.id, f): box_mask(f, 500) for f in range(0, 10, 2)})
    return d


@pytest.fixture
def reader(clip):
    r = clip.open_reader()
    yield r
    r.close()


def test_png8_sequence_numbered_from_the_start_number(doc, reader, tmp_path):
    s = ExportSettings(ExportKind.MATTES, tmp_path / "m" / "car.%04d.png", 3, 6, objects=(1,),
                       matte_format="png8", start_number=1001)
    (tmp_path / "m").mkdir()
    result = run_export(doc, reader, s, fps=doc.video.fps)
    assert result.frames == 4 and not result.cancelled
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["car.1001.png", "car.1002.png", "car.1003.png", "car.1004.png"]
    matte = cv2.imread(str(tmp_path / "m" / "car.1001.png"), cv2.IMREAD_UNCHANGED)
    assert matte.dtype == np.uint8 and np.array_equal(matte == 255, box_mask(3))


@pytest.mark.parametrize("fmt, suffix, check", [
    ("png16", ".png", lambda a, m: a.dtype == np.uint16 and np.array_equal(a == 65535, m)),
    ("png8_rgba", ".png", lambda a, m: a.shape[2] == 4 and np.array_equal(a[..., 3] == 255, m)),
    ("exr", ".exr", lambda a, m: np.allclose((a if a.ndim == 2 else a[..., 0]) > 0.5, m)),
])
def test_matte_sequences(doc, reader, tmp_path, fmt, suffix, check):
    s = ExportSettings(ExportKind.MATTES, tmp_path / f"x.%04d{suffix}", 0, 1, objects=(1,), matte_format=fmt,
                       start_number=0)
    result = run_export(doc, reader, s, fps=doc.video.fps)
    first = sorted(tmp_path.glob(f"x.*{suffix}"))[0]
    assert first.name == f"x.0000{suffix}" and result.frames == 2
    if suffix == ".exr":
        from sam2_studio.media import read_matte

        arr = read_matte(first)
    else:
        arr = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
    assert check(arr, box_mask(0))


@pytest.mark.parametrize("fmt, suffix", [("prores4444", ".mov"), ("ffv1", ".mkv")])
def test_matte_videos(doc, reader, tmp_path, fmt, suffix):
    s = ExportSettings(ExportKind.MATTES, tmp_path / "matte", 0, 2, objects=(1, 2), matte_format=fmt)
    result = run_export(doc, reader, s, fps=doc.video.fps)
    assert result.paths == [tmp_path / f"matte{suffix}"]
    with open_media(result.paths[0]) as video:
        assert len(video) == 3 and video.size == (854, 480)


def test_one_matte_per_object(doc, reader, tmp_path):
    s = ExportSettings(ExportKind.MATTES, tmp_path / "shot.%04d.png", 0, 1, matte_format="png8", separate=True)
    result = run_export(doc, reader, s, fps=doc.video.fps)
    assert [p.name for p in result.paths] == ["Car_shot.%04d.png", "Sign_shot.%04d.png"]
    sign0 = cv2.imread(str(tmp_path / "Sign_shot.0001.png"), cv2.IMREAD_UNCHANGED)
    sign1 = cv2.imread(str(tmp_path / "Sign_shot.0002.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(sign0 == 255, box_mask(0, 500)) and not sign1.any()  # no mask on frame 1
    assert per_object_path(tmp_path / "a.png", "My car!").name == "My_car_a.png"


def test_refinement_reaches_matte_exports(doc, reader, tmp_path):
    doc.update_object(1, **stack_fields(ObjectStack(refine=RefineParams(feather=6.0))))
    s = ExportSettings(ExportKind.MATTES, tmp_path / "f.%04d.png", 0, 0, objects=(1,), matte_format="png8")
    run_export(doc, reader, s, fps=doc.video.fps)
    soft = cv2.imread(str(tmp_path / "f.0001.png"), cv2.IMREAD_UNCHANGED)
    assert ((soft > 0) & (soft < 255)).sum() > 200  # a soft edge
    raw = ExportSettings(ExportKind.MATTES, tmp_path / "r.%04d.png", 0, 0, objects=(1,), matte_format="png8",
                         refined=False)
    run_export(doc, reader, raw, fps=doc.video.fps)
    hard = cv2.imread(str(tmp_path / "r.0001.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(hard)) <= {0, 255}


def test_masklets_keep_source_frame_numbers(doc, reader, tmp_path):
    s = ExportSettings(ExportKind.MASKLETS, tmp_path / "masks", 2, 5)
    result = run_export(doc, reader, s, fps=doc.video.fps)
    m = read_masklets(result.paths[0])
    assert result.paths[0].suffix == ".json"
    assert m.frame_indices == [2, 3, 4, 5] and m.object_ids == [1, 2]
    assert np.array_equal(m.mask(4, 1), box_mask(4)) and np.array_equal(m.mask(4, 2), box_mask(4, 500))
    assert m.object_names == {1: "Car", 2: "Sign"}


def test_a_cancelled_export_leaves_nothing(doc, reader, tmp_path):
    calls = []
    s = ExportSettings(ExportKind.VIDEO, tmp_path / "v.mp4", 0, 9)
    result = run_export(doc, reader, s, fps=doc.video.fps, progress=lambda d, t: calls.append(d),
                        cancelled=lambda: len(calls) >= 3)
    assert result.cancelled and result.frames == 3 and result.paths == []
    assert list(tmp_path.iterdir()) == []
    s = ExportSettings(ExportKind.MATTES, tmp_path / "m.%04d.png", 0, 9, matte_format="png8")
    calls.clear()
    run_export(doc, reader, s, fps=doc.video.fps, progress=lambda d, t: calls.append(d), cancelled=lambda: len(calls) >= 2)
    assert list(tmp_path.iterdir()) == []


def test_a_range_outside_the_clip_is_refused(doc, reader, tmp_path):
    with pytest.raises(ExportError, match="outside the clip"):
        run_export(doc, reader, ExportSettings(ExportKind.VIDEO, tmp_path / "v.mp4", 30, 45), fps=doc.video.fps)
