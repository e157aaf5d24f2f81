"""``sam2-studio export``: every matte format against the ground truth, the video with its
effects and audio, COCO, relinking, Ctrl+C, bad input."""

from __future__ import annotations

import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from sam2_studio.app.cli import CliContext, run
from sam2_studio.media import open_video, read_masklets, read_matte
from sam2_studio.project import load, save
from tests.ground_truth import GroundTruthSource

from .headless import FPS, cli, write_prompts


@pytest.fixture
def project(tmp_path, car) -> Path:
    """The car tracked by the ground-truth engine from a box on frame 4."""
    prompts = write_prompts(tmp_path / "prompts.json", {
        "objects": [{"id": 1, "name": "car"}],
        "prompts": [{"frame": 4, "object": "car", "box": car.box(4)}]})
    r = cli(["segment", car.video, "--prompts", prompts, "--out", tmp_path / "car.s2s"],
            GroundTruthSource(car.truth))
    assert r.code == 0, r.err
    return tmp_path / "car.s2s"


def decode_alpha(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.average_rate == FPS
        return [f.reformat(format="rgba64le").to_ndarray()[..., 3] for f in c.decode(s)]


def decode_grey16(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "ffv1" and s.average_rate == FPS
        return [f.to_ndarray() for f in c.decode(s)]


# format, start, how a file's values say "object", files for frame f
FORMATS = [
    ("png8", 0, lambda m: m == 255, lambda d, f: d / f"car_matte.{f:04d}.png"),
    ("png16", 1, lambda m: m == 65535, lambda d, f: d / f"car_matte.{f + 1:04d}.png"),
    ("exr", 1001, lambda m: m == 1.0, lambda d, f: d / f"car_matte.{f + 1001:04d}.exr"),
    ("png8_rgba", 1, lambda m: m == 255, lambda d, f: d / f"car_matte.{f + 1:04d}.png"),
]


@pytest.mark.parametrize("fmt, start, is_object, file_of", FORMATS, ids=[f[0] for f in FORMATS])
def test_matte_sequences_equal_the_ground_truth_frame_by_frame(tmp_path, car, project, fmt, start,
                                                               is_object, file_of):
    folder = tmp_path / "mattes"
    r = cli(["export", project, "--mattes", folder, "--format", fmt, "--start", start])
    assert r.code == 0, r.err
    expected = [file_of(folder, f) for f in range(10)]
    assert sorted(folder.iterdir()) == sorted(expected)  # no other file, no partial one
    for f, path in enumerate(expected):
        matte = read_matte(path)
        assert matte.shape == (120, 214)
        assert np.array_equal(is_object(matte), car.mask(f)), (fmt, f)
        assert np.all(is_object(matte) | (matte == 0))  # a hard matte: 0 or full


@pytest.mark.parametrize("fmt", ["prores4444", "ffv1"])
def test_matte_videos_equal_the_ground_truth_frame_by_frame(tmp_path, car, project, fmt):
    folder = tmp_path / "mattes"
    r = cli(["export", project, "--mattes", folder, "--format", fmt])
    assert r.code == 0, r.err
    suffix = ".mov" if fmt == "prores4444" else ".mkv"
    (path,) = folder.iterdir()
    assert path.name == f"car_matte{suffix}"
    mattes = decode_alpha(path) if fmt == "prores4444" else decode_grey16(path)
    assert len(mattes) == 10
    for f, m in enumerate(mattes):
        assert m.shape == (120, 214) and m.dtype == np.uint16
        if fmt == "ffv1":  # lossless
            assert np.array_equal(m == 65535, car.mask(f)) and np.all((m == 0) | (m == 65535))
        else:  # ProRes codes alpha within a step or so of 16 bits
            assert np.array_equal(m > 32767, car.mask(f))
            assert np.all((m < 256) | (m > 65535 - 256))


def test_the_video_keeps_fps_and_audio_and_applies_the_objects_effects(tmp_path, car, project):
    from sam2_studio.app.rendering import registry, stack_fields
    from sam2_studio.effects import ObjectStack

    doc = load(project)
    stack = ObjectStack().added(registry().entry("pixelate", target="object", block=12))
    doc.update_object(1, **stack_fields(stack))
    save(doc)
    out = tmp_path / "out.mp4"
    r = cli(["export", project, "--video", out])
    assert r.code == 0, r.err
    assert "with the source's audio" in r.out
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert c.streams.audio[0].codec_context.name == "aac"
    with open_video(out) as got, open_video(car.video) as src:
        assert len(got) == 10 and got.fps == FPS and got.size == (214, 120)
        for f in (0, 9):
            diff = np.abs(got.read(f).astype(int) - src.read(f).astype(int)).mean(axis=2)
            inside, outside = diff[car.mask(f)].mean(), diff[~car.mask(f)].mean()
            # the car is pixelated; elsewhere only a second H.264 generation's noise
            assert inside > 20 and outside < 5 and inside > 8 * outside, (f, inside, outside)


def test_coco_masklets_hold_the_ground_truth(tmp_path, car, project):
    r = cli(["export", project, "--coco", tmp_path / "car.json", "--objects", "car"])
    assert r.code == 0, r.err
    m = read_masklets(tmp_path / "car.json")
    assert m.object_ids == [1] and m.frame_indices == list(range(10)) and m.fps == FPS
    assert m.object_names == {1: "car"}
    for f in range(10):
        assert np.array_equal(m.mask(f, 1), car.mask(f))


def test_a_moved_video_is_found_with_relink_and_another_video_is_refused(tmp_path, car, project):
    moved = tmp_path / "elsewhere" / "renamed.mp4"
    moved.parent.mkdir()
    original = load(project).video.path
    shutil.copy(original, moved)
    hidden = original.with_name("hidden.mp4")
    original.rename(hidden)
    try:
        r = cli(["export", project, "--mattes", tmp_path / "m", "--format", "png8"])
        assert r.code == 2 and f"{project}: " in r.err and "--relink" in r.err, r.err
        assert not (tmp_path / "m").exists()  # nothing was started
        r = cli(["export", project, "--relink", moved, "--mattes", tmp_path / "m",
                 "--format", "png8"])
        assert r.code == 0, r.err
        assert np.array_equal(read_matte(tmp_path / "m" / "car_matte.0005.png") == 255,
                              car.mask(4))
        other = tmp_path / "other.mp4"
        other.write_bytes(b"\0" * 1000)
        r = cli(["export", project, "--relink", other, "--coco", tmp_path / "c.json"])
        assert r.code == 2 and "not the video the project was made on" in r.err, r.err
    finally:
        hidden.rename(original)


@dataclass
class CtrlCAt(CliContext):
    """Sends this process a SIGINT (a Ctrl+C) when the progress bar of ``label`` (any, if
    None) reaches ``frame``."""

    frame: int = 3
    label: str | None = None

    def progress(self, total, **kw):
        bar = super().progress(total, **kw)
        update = bar.update

        def update_then_interrupt(done, total=None):
            update(done, total)
            if done == self.frame and self.label in (None, kw.get("label")):
                os.kill(os.getpid(), signal.SIGINT)

        bar.update = update_then_interrupt
        return bar


@pytest.mark.parametrize("what", [["--video", "out.mp4"], ["--mattes", "m", "--format", "png16"],
                                  ["--mattes", "m", "--format", "prores4444"]])
def test_ctrl_c_leaves_no_file_that_looks_complete(tmp_path, project, what):
    out = tmp_path / "out"
    out.mkdir()
    args = [str(out / a) if a in ("out.mp4", "m") else a for a in what]
    r = cli(["export", project, *args], context=CtrlCAt())
    assert r.code == 130 and "interrupted" in r.err and "no partial file" in r.err, r.err
    left = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert left == []


def test_outputs_finished_before_a_ctrl_c_stay(tmp_path, project):
    r = cli(["export", project, "--coco", tmp_path / "c.json", "--video", tmp_path / "v.mp4"],
            context=CtrlCAt(frame=5, label="video"))  # the COCO file is written first, then the video
    assert r.code == 130 and f"coco: {tmp_path / 'c.json'}" in r.out, r.err
    assert read_masklets(tmp_path / "c.json").frame_indices == list(range(10))
    assert not (tmp_path / "v.mp4").exists()


@pytest.mark.parametrize("args, message", [
    ([], "nothing to export"),
    (["--video", "out.avi"], "name a .mp4, .mov or .mkv file"),
    (["--video", "out.mp4", "--codec", "prores"], "name the output out.mov"),
    (["--mattes", "m", "--objects", "bus"], "the project has no object 'bus' (objects: 1 'car')"),
    (["--coco", "c.txt"], "names a .json file"),
    (["--video", "no/such/folder/out.mp4"], "does not exist"),
])
def test_bad_usage_exits_2(tmp_path, project, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = cli(["export", project, *args])
    assert r.code == 2 and message in r.err, r.err


def test_a_bad_project_file_exits_2_naming_it(tmp_path):
    bad = tmp_path / "bad.s2s"
    bad.write_text("{}")
    r = cli(["export", bad, "--coco", tmp_path / "c.json"])
    assert r.code == 2 and f"{bad}: this is not a SAM2 Studio project" in r.err, r.err


def test_paths_without_a_command_still_open_the_editor(project, car):
    opened = []
    assert run([str(project)], lambda p: opened.append(p) or 0) == 0
    assert run([str(car.video)], lambda p: opened.append(p) or 0) == 0
    assert opened == [str(project), str(car.video)]
