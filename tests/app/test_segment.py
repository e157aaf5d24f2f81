"""``sam2-studio segment``: prompts → tracking → project and mattes, Ctrl+C, bad input."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2_studio.media import read_matte
from sam2_studio.project import load
from tests.ground_truth import GroundTruthSession, GroundTruthSource

from .headless import cli, write_prompts

ROOT = Path(__file__).resolve().parents[2]


def box_prompts(tmp_path: Path, car, frame: int = 4) -> Path:
    return write_prompts(tmp_path / "prompts.json", {
        "objects": [{"id": 1, "name": "car", "color": "#ff7f0e"}],
        "prompts": [{"frame": frame, "object": "car", "box": car.box(frame)}],
    })


def test_segment_saves_the_project_and_mattes_equal_to_the_ground_truth(tmp_path, car):
    prompts = box_prompts(tmp_path, car)
    source = GroundTruthSource(car.truth)
    r = cli(["segment", car.video, "--prompts", prompts, "--out", tmp_path / "car.s2s",
             "--mattes", tmp_path / "mattes", "--format", "png8", "--start", "1001"], source)
    assert r.code == 0, r.err
    assert "tracked 1 object(s) on 10 of 10 frames" in r.out and "frames/s" in r.out
    assert "WARNING: TEST ENGINE" in r.err  # labelled as not a real model

    # the project: one object, the prompt, a mask per frame equal to the ground truth
    doc = load(tmp_path / "car.s2s")
    (obj,) = doc.objects
    assert (obj.id, obj.name, obj.color) == (1, "car", (255, 127, 14))
    assert doc.prompt_frames(1) == [4] and doc.mask_frames(1) == list(range(10))
    (box,) = doc.prompts(1, 4)
    assert [box.x0, box.y0, box.x1, box.y1] == car.box(4)
    for f in range(10):
        assert np.array_equal(doc.mask(1, f), car.mask(f)), f
    assert doc.model_variant is None  # a test engine is no model variant to record
    session = source.sessions[-1]
    assert session.calls == ["box 1@4", "propagate both from None"]

    # the mattes: numbered from 1001 for frame 0, 8-bit, exactly the ground truth
    names = sorted(p.name for p in (tmp_path / "mattes").iterdir())
    assert names == [f"car_matte.{1001 + f}.png" for f in range(10)]
    for f in range(10):
        matte = read_matte(tmp_path / "mattes" / f"car_matte.{1001 + f}.png")
        assert matte.dtype == np.uint8 and matte.shape == (120, 214)
        assert set(np.unique(matte)) <= {0, 255}
        assert np.array_equal(matte == 255, car.mask(f)), f


def test_the_whole_run_is_one_undo_step(tmp_path, car, monkeypatch):
    from sam2_studio.project import open_project

    prompts = write_prompts(tmp_path / "p.json", [
        {"frame": 2, "object": 1, "points": [[5.5, 5.5], [150, 80]], "labels": [0, 1]},
        {"frame": 6, "object": "shadow", "box": car.box(6)},
    ])
    r = cli(["segment", car.video, "--prompts", prompts, "--out", tmp_path / "p.s2s"],
            GroundTruthSource(car.truth))
    assert r.code == 0, r.err
    doc = open_project(tmp_path / "p.s2s")
    assert [(o.id, o.name) for o in doc.objects] == [(1, "Object 1"), (2, "shadow")]
    assert [p.positive for p in doc.prompts(1, 2)] == [False, True]
    # the saved file holds the step's result; the steps themselves live in the editor, so
    # replay the command's document: it undoes in one step
    from sam2_studio.app.segment_command import SegmentCommand

    seen = {}
    original = SegmentCommand._track

    def spy(self, doc, *a, **kw):
        seen["doc"] = doc
        return original(self, doc, *a, **kw)

    monkeypatch.setattr(SegmentCommand, "_track", spy)
    assert cli(["segment", car.video, "--prompts", prompts, "--out", tmp_path / "q.s2s"],
               GroundTruthSource(car.truth)).code == 0
    replay = seen["doc"]
    assert replay.history.undo_label == "Segment with p.json" and replay.mask_frames(2)
    replay.undo()
    assert replay.objects == () and not replay.history.can_undo


class Hooked(GroundTruthSession):
    """Runs ``hook(n)`` before yielding the n-th propagated frame (n from 1)."""

    hook = staticmethod(lambda n: None)

    def propagate(self, *args, **kw):
        for n, result in enumerate(super().propagate(*args, **kw), 1):
            type(self).hook(n)
            yield result


def hooked_source(truth, hook):
    session_type = type("Session", (Hooked,), {"hook": staticmethod(hook)})
    source = GroundTruthSource(truth)
    load = source.load

    def load_hooked():
        loaded = load()
        loaded.session_factory = lambda model, frames: session_type(truth)
        return loaded

    object.__setattr__(source, "load", load_hooked)
    return source


def ctrl_c_at(frame):
    def hook(n):
        if n == frame:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl+C sends
    return hook


def test_ctrl_c_with_only_mattes_keeps_the_frames_in_a_project_beside_them(tmp_path, car):
    prompts = box_prompts(tmp_path, car, frame=0)
    r = cli(["segment", car.video, "--prompts", prompts, "--mattes", tmp_path / "m"],
            hooked_source(car.truth, ctrl_c_at(3)))
    assert r.code == 130, r.err
    saved = tmp_path / "m" / "car.s2s"
    assert f"the work is saved in {saved}" in r.err and "No mattes were written" in r.err
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["car.s2s"]
    doc = load(saved)
    assert doc.mask_frames(1) == [0, 1, 2]  # the frames done, no more
    assert all(np.array_equal(doc.mask(1, f), car.mask(f)) for f in range(3))


_CHILD = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from sam2_studio.app.cli import CliContext, run
from tests.ground_truth import GroundTruthSource, load_clip
truth = load_clip(Path(sys.argv[2]) / "davis16_car-shadow", count=10, scale=0.25)
ctx = CliContext(model_source=lambda args: GroundTruthSource(truth, delay_s=0.4))
raise SystemExit(run(sys.argv[3:], lambda path: 1, context=ctx))
"""


def test_ctrl_c_in_a_real_process_saves_the_frames_done_and_exits_130(tmp_path, car, data_dir):
    prompts = box_prompts(tmp_path, car, frame=0)
    out = tmp_path / "car.s2s"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ROOT), str(data_dir), "segment", str(car.video),
         "--prompts", str(prompts), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        for line in child.stderr:  # tracking starts right after the model line
            if line.startswith("model:"):
                break
        time.sleep(1.0)  # a couple of frames at 0.4 s each
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, stderr
    assert "stopping after this frame" in stderr and f"the work is saved in {out}" in stderr
    done = load(out).mask_frames(1)
    assert 1 <= len(done) < 10 and done == list(range(len(done)))
    assert f"on {len(done)} of 10 frames" in stdout


def test_random_weights_checkpoint_written_by_the_test_end_to_end(tmp_path, car):
    """The real model path: a checkpoint file (random weights) → segment → export."""
    from sam2_studio.model import build_model
    from tests.media.clips import encode

    torch.manual_seed(0)
    ckpt = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": build_model("sam2.1_hiera_tiny", 256, device="cpu").state_dict()}, ckpt)
    video = encode(tmp_path / "short.mp4", car.truth.frames[:3], rate=25)
    prompts = write_prompts(tmp_path / "p.json", [{"frame": 1, "object": 1, "box": car.box(1)}])
    r = cli(["segment", video, "--prompts", prompts, "--checkpoint", ckpt, "--image-size", "256",
             "--device", "cpu", "--out", tmp_path / "short.s2s", "--mattes", tmp_path / "m",
             "--format", "png16", "--start", "0"])
    assert r.code == 0, r.err
    assert "RANDOM" not in r.err and "tracked 1 object(s) on 3 of 3 frames" in r.out
    # on a CPU with OpenVINO installed the engine is OpenVINO, its first use converted and said so
    if importlib.util.find_spec("openvino"):
        assert "(fp32) · OpenVINO" in r.err and "first use: converted for OpenVINO in" in r.err, r.err
    doc = load(tmp_path / "short.s2s")
    assert doc.model_variant == "sam2.1_hiera_tiny" and doc.mask_frames(1) == [0, 1, 2]
    assert doc.working_resolution == "full"  # 256 is no preset: the project keeps its default
    assert doc.object(1).tracked_at.as_dict() == {"full": {0, 2}}
    # the engine's evidence (FrameQuality) came with every mask, on whichever CPU engine ran
    for f in range(3):
        ev = doc.evidence(1, f)
        assert ev is not None and ev.object_score is not None and ev.iou is not None, f
    assert doc.evidence(1, 0).agreement is not None and doc.evidence(1, 2).agreement is not None
    files = sorted((tmp_path / "m").iterdir())
    assert [p.name for p in files] == ["Object_1_matte.0000.png", "Object_1_matte.0001.png",
                                       "Object_1_matte.0002.png"]
    for f, path in enumerate(files):
        matte = read_matte(path)
        assert matte.dtype == np.uint16 and matte.shape == (120, 214)
        assert set(np.unique(matte)) <= {0, 65535}
        assert np.array_equal(matte == 65535, doc.mask(1, f))


def test_resolution_and_cpu_engine_options(tmp_path, car):
    """--resolution sets the model's input size and is stored in the project; --cpu-engine torch
    is honoured (and named)."""
    from tests.media.clips import encode

    video = encode(tmp_path / "one.mp4", car.truth.frames[:2], rate=25)
    prompts = write_prompts(tmp_path / "p.json", [{"frame": 0, "object": 1, "points": [[100, 60]]}])
    r = cli(["segment", video, "--prompts", prompts, "--random-weights", "--resolution", "draft",
             "--cpu-engine", "torch", "--device", "cpu", "--out", tmp_path / "one.s2s"])
    assert r.code == 0, r.err
    assert "@ 512px" in r.err and "(fp32) · torch" in r.err
    doc = load(tmp_path / "one.s2s")
    assert doc.working_resolution == "draft" and doc.object(1).tracked_at.as_dict() == {"draft": {1}}


def test_random_weights_say_so(tmp_path, car):
    from tests.media.clips import encode

    video = encode(tmp_path / "one.mp4", car.truth.frames[:1], rate=25)
    prompts = write_prompts(tmp_path / "p.json", [{"frame": 0, "object": 1, "points": [[100, 60]]}])
    r = cli(["segment", video, "--prompts", prompts, "--random-weights", "--image-size", "256",
             "--device", "cpu", "--out", tmp_path / "one.s2s"])
    assert r.code == 0, r.err
    assert "RANDOM WEIGHTS" in r.err and "MEANINGLESS" in r.err
    assert "threads (fp32)" in r.err  # the precision is always named
    assert load(tmp_path / "one.s2s").model_variant is None
    r = cli(["segment", video, "--prompts", prompts, "--random-weights", "--image-size", "128",
             "--device", "cpu", "--precision", "bf16", "--out", tmp_path / "two.s2s"])
    assert r.code == 0, r.err
    # bf16 where this CPU has bf16 units, else fp32 and a note saying why
    assert "threads (bf16)" in r.err or ("threads (fp32)" in r.err and "no native bf16" in r.err), r.err


@pytest.mark.parametrize("content, message", [
    ('{"prompts": [}', "not valid JSON: Expecting value at line 1"),
    ('[{"frame": 0, "object": 1, "points": [[500, 10]]}]',
     "prompts[0].points[0]: (500, 10) is outside the 214×120 frame"),
    ('[{"frame": 99, "object": 1, "box": [1, 1, 9, 9]}]', "prompts[0].frame: frame 99 is outside"),
    ('[{"frame": 0, "object": 1, "point": [[5, 5]]}]', "unknown key 'point' (did you mean 'points'?)"),
])
def test_bad_prompts_exit_2_naming_the_file_and_entry(tmp_path, car, content, message):
    prompts = tmp_path / "bad.json"
    prompts.write_text(content)
    source = GroundTruthSource(car.truth)
    r = cli(["segment", car.video, "--prompts", prompts, "--out", tmp_path / "x.s2s"], source)
    assert r.code == 2 and f"{prompts}: " in r.err and message in r.err, r.err
    assert not source.sessions and not (tmp_path / "x.s2s").exists()  # no model was loaded


def test_a_missing_video_exits_2_naming_it(tmp_path, car):
    prompts = box_prompts(tmp_path, car)
    r = cli(["segment", tmp_path / "gone.mp4", "--prompts", prompts, "--out", tmp_path / "x.s2s"])
    assert r.code == 2 and f"{tmp_path / 'gone.mp4'}: file not found" in r.err


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a checkpoint at all"])
def test_a_wrong_checkpoint_exits_2_naming_it(tmp_path, car, content):
    prompts = box_prompts(tmp_path, car)
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(content)
    r = cli(["segment", car.video, "--prompts", prompts, "--checkpoint", ckpt,
             "--out", tmp_path / "x.s2s"])
    assert r.code == 2 and f"sam2-studio segment: {ckpt}: " in r.err, r.err
    assert not (tmp_path / "x.s2s").exists()


@pytest.mark.parametrize("extra, message", [
    ([], "nothing would be kept"),
    (["--out", "x.txt"], "--out names a project file ending in .s2s"),
    (["--out", "x.s2s", "--random-weights", "--checkpoint", "m.pt"], "exclude each other"),
    (["--out", "x.s2s", "--random-weights", "--model", "sam3"], "unknown model 'sam3'"),
    (["--out", "x.s2s", "--image-size", "100"], "multiple of 32"),
    (["--out", "x.s2s", "--image-size", "512", "--resolution", "draft"], "exclude each other"),
    (["--out", "nowhere/x.s2s"], "does not exist"),
    (["--mattes", "m", "--start", "-1"], "--start is a file number"),
])
def test_usage_errors_exit_2(tmp_path, car, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    r = cli(["segment", car.video, "--prompts", box_prompts(tmp_path, car), *extra])
    assert r.code == 2 and message in r.err, r.err


def test_an_engine_error_part_way_keeps_the_frames_done(tmp_path, car):
    def out_of_memory(n):
        if n == 5:
            raise RuntimeError("out of memory")

    r = cli(["segment", car.video, "--prompts", box_prompts(tmp_path, car, frame=0),
             "--out", tmp_path / "x.s2s", "--mattes", tmp_path / "m"],
            hooked_source(car.truth, out_of_memory))
    assert r.code == 1 and "out of memory" in r.err and "frames done are saved" in r.err, r.err
    assert load(tmp_path / "x.s2s").mask_frames(1) == [0, 1, 2, 3]
    assert list((tmp_path / "m").iterdir()) == []  # no mattes for an unfinished clip
