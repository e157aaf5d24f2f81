"""``sam2-studio batch`` on this machine: the shots' outputs, the summary, retries, resume
(also after a kill), worker processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.app.clip import open_clip
from sam2_studio.media import read_matte
from sam2_studio.project import load
from tests.ground_truth import GroundTruthSource

from .batch_support import FailOnceSource, write_jobs
from .headless import cli, write_prompts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shots(tmp_path, car):
    """Two shots of the car clip: a project, mattes and a render with effects; mattes only."""
    d = tmp_path
    write_prompts(d / "p.json", {"objects": [{"id": 1, "name": "car"}],
                                 "prompts": [{"frame": 4, "object": "car", "box": car.box(4)}]})
    return write_jobs(d / "jobs.json", {
        "defaults": {"format": "png8", "start": 1001},
        "shots": [
            {"shot": "sh010", "video": str(car.video), "prompts": "p.json",
             "project": "out/sh010.s2s", "mattes": "out/sh010", "render": "out/sh010.mp4",
             "effects": {"car": [{"effect": "pixelate", "params": {"block": 12}}]}},
            {"shot": "sh020", "video": str(car.video), "prompts": "p.json",
             "mattes": "out/sh020", "format": "exr", "start": 0},
        ]})


def _frames(path):
    clip = open_clip(path)
    try:
        reader = clip.open_reader()
        try:
            return [reader.get(i).copy() for i in range(clip.info.frame_count)]
        finally:
            reader.close()
    finally:
        clip.close()


def test_each_shot_does_what_segment_and_export_do(shots, car):
    d = shots.parent
    source = GroundTruthSource(car.truth)
    r = cli(["batch", shots], source)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["SHOT", "FRAMES", "TIME", "RESULT"]
    assert lines[1].split()[::3] == ["sh010", "done"] and lines[1].split()[1] == "10"
    assert lines[2].split()[::3] == ["sh020", "done"]
    assert lines[3].startswith("2 shots: 2 done in ") and "shots/hour" in lines[3]
    assert "sh010: started on this machine" in r.err and "sh020: done, 10 frames" in r.err
    assert "WARNING: TEST ENGINE" in r.err and len(source.sessions) == 2

    # the project: masks as segment makes them, and the shot's effects on the object
    doc = load(d / "out" / "sh010.s2s")
    assert [o.name for o in doc.objects] == ["car"] and doc.mask_frames(1) == list(range(10))
    assert all(np.array_equal(doc.mask(1, f), car.mask(f)) for f in range(10))
    (entry,) = doc.object(1).effects.value
    assert entry["effect"] == "pixelate" and entry["params"]["block"] == 12
    # the mattes, numbered and typed as each shot says
    assert sorted(p.name for p in (d / "out" / "sh010").iterdir()) == \
        [f"car_matte.{1001 + f}.png" for f in range(10)]
    assert sorted(p.name for p in (d / "out" / "sh020").iterdir()) == \
        [f"car_matte.{f:04d}.exr" for f in range(10)]
    for f in (0, 4, 9):
        png = read_matte(d / "out" / "sh010" / f"car_matte.{1001 + f}.png")
        exr = read_matte(d / "out" / "sh020" / f"car_matte.{f:04d}.exr")
        assert png.dtype == np.uint8 and np.array_equal(png == 255, car.mask(f))
        assert np.array_equal(exr > 0.5, car.mask(f))
    # the render: every frame, pixelated on the car only
    source_frames, rendered = _frames(car.video), _frames(d / "out" / "sh010.mp4")
    assert len(rendered) == 10
    diff = np.abs(rendered[4].astype(int) - source_frames[4].astype(int)).mean(axis=2)
    assert diff[car.mask(4)].mean() > 4 * diff[~car.mask(4)].mean() + 1
    # completion records, one a shot
    record = json.loads((d / "jobs.json.done" / "sh010.json").read_text())
    assert record["frames"] == 10 and {o["kind"] for o in record["outputs"]} == \
        {"project", "matte", "render"}


def test_a_rerun_skips_complete_shots_and_redoes_what_changed_or_broke(shots, car):
    d = shots.parent
    source = GroundTruthSource(car.truth)
    assert cli(["batch", shots], source).code == 0
    r = cli(["batch", shots], source)
    assert r.code == 0 and len(source.sessions) == 2, r.err  # nothing ran again
    assert "sh010: skipped, complete" in r.err and "skipped (complete)" in r.out
    assert "loading" not in r.err  # no model loaded for nothing

    (d / "out" / "sh010" / "car_matte.1005.png").unlink()  # a matte lost
    r = cli(["batch", shots], source)
    assert r.code == 0 and len(source.sessions) == 3
    assert f"sh010: runs again: {d / 'out' / 'sh010' / 'car_matte.1005.png'} is missing" in r.err
    assert "sh010: started" in r.err and "sh020: skipped" in r.err
    assert (d / "out" / "sh010" / "car_matte.1005.png").is_file()

    with open(d / "out" / "sh010.mp4", "r+b") as f:  # a render cut short
        f.truncate(2000)
    r = cli(["batch", shots, "--check"], source)
    assert r.code == 0 and f"would run ({d / 'out' / 'sh010.mp4'} changed size (2000 bytes" in r.out
    assert "sh020: 214×120, 10 frames, 1 object(s): skipped (complete)" in r.out
    prompts = (d / "p.json").read_text()
    (d / "p.json").write_text(prompts.replace('"car"', '"auto"'))
    r = cli(["batch", shots, "--check"], source)  # checks every shot, runs nothing
    assert r.code == 2 and len(source.sessions) == 3
    assert "sh010: PROBLEM: " + str(d / "p.json") + ": effects (inline): the shot has no " \
           "object 'car' (objects: 1 'auto')" in r.out
    assert "sh020: 214×120, 10 frames, 1 object(s): would run (its inputs, outputs or model " \
           "changed since it was done)" in r.out
    assert r.out.endswith("2 shots: 2 would run, 0 done, 1 with a problem\n")

    write_prompts(d / "p.json", {"objects": [{"id": 1, "name": "car"}],
                                 "prompts": [{"frame": 5, "object": "car", "box": car.box(5)}]})
    r = cli(["batch", shots, "--check"], source)
    assert r.code == 0 and "2 shots: 2 would run, 0 done" in r.out
    assert "sh010: 214×120, 10 frames, 1 object(s): would run (its inputs" in r.out
    r = cli(["batch", shots], source)
    assert r.code == 0 and len(source.sessions) == 5, r.err  # the prompts changed: both again
    assert source.sessions[-1].calls[0] == "box 1@5"
    assert len(_frames(d / "out" / "sh010.mp4")) == 10

    r = cli(["batch", shots, "--force"], source)
    assert r.code == 0 and len(source.sessions) == 7


def test_a_failed_shot_is_retried_once_and_the_others_go_on(tmp_path, car):
    d = tmp_path
    (d / "corrupt.mp4").write_bytes(car.video.read_bytes()[:1500])  # cut short
    write_prompts(d / "p.json", [{"frame": 0, "object": "car", "box": car.box(0)}])
    write_prompts(d / "late.json", [{"frame": 50, "object": "car", "box": car.box(0)}])
    jobs = write_jobs(d / "jobs.json", [
        {"shot": "bad", "video": "corrupt.mp4", "prompts": "p.json", "project": "bad.s2s"},
        {"shot": "oom", "video": str(car.video), "prompts": "p.json", "project": "oom.s2s"},
        {"shot": "late", "video": str(car.video), "prompts": "late.json", "project": "late.s2s"},
        {"shot": "ok", "video": str(car.video), "prompts": "p.json", "mattes": "m"},
    ])
    source = FailOnceSource(car.truth, marker=d / "failed-once")
    r = cli(["batch", jobs], source)
    assert r.code == 1, r.err  # shots failed
    assert f"bad: attempt 1 failed: {d / 'corrupt.mp4'}" in r.err
    assert f"late: FAILED after 2 attempts: {d / 'late.json'}: prompts[0].frame: frame 50 is " \
           "outside the video" in r.err  # checked against the video before any tracking
    assert "oom: attempt 1 failed: tracking stopped on an error after 2 of 10 frames: " \
           "RuntimeError: CUDA out of memory" in r.err
    rows = {line.split()[0]: line for line in r.out.splitlines()[1:-1]}
    assert "FAILED after 2 attempts: " + str(d / "corrupt.mp4") in rows["bad"]
    assert rows["oom"].endswith("done (attempt 2)") and rows["ok"].endswith("done")
    assert r.out.splitlines()[-1].startswith("4 shots: 2 done, 2 failed")
    assert not (d / "bad.s2s").exists() and not (d / "late.s2s").exists()
    assert len(source.sessions) == 3  # oom twice, ok once: no model work for the bad inputs
    assert load(d / "oom.s2s").mask_frames(1) == list(range(10))

    r = cli(["batch", jobs, "--retries", "0"], source)  # the rerun: only the failed one
    assert r.code == 1 and "bad: FAILED: " in r.err and "attempt 1 failed" not in r.err
    assert "oom: skipped" in r.err and "ok: skipped" in r.err


def test_ray_missing_says_how_to_install_it(shots, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    r = cli(["batch", shots, "--ray", "auto"], GroundTruthSource(None))
    assert r.code == 2 and "pip install 'sam2-studio[cluster]'" in r.err, r.err


@pytest.mark.parametrize("extra, message", [
    (["--workers", "0"], "--workers is 1 or more"),
    (["--retries", "-1"], "--retries is 0 or more"),
    (["--workers", "2", "--ray", "auto"], "--workers is for this machine"),
    (["--random-weights", "--checkpoint", "m.pt"], "exclude each other"),
])
def test_bad_options_exit_2(shots, extra, message):
    r = cli(["batch", shots, *extra], GroundTruthSource(None))
    assert r.code == 2 and message in r.err, r.err


_CHILD = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from sam2_studio.app.cli import CliContext, run
from tests.ground_truth import GroundTruthSource, load_clip
truth = load_clip(Path(sys.argv[2]) / "davis16_car-shadow", count=10, scale=0.25)
ctx = CliContext(model_source=lambda args: GroundTruthSource(truth, delay_s=0.15))
raise SystemExit(run(sys.argv[3:], lambda path: 1, context=ctx))
"""


@pytest.mark.slow
def test_random_weights_through_the_real_engine(tmp_path, car):
    from tests.media.clips import encode

    d = tmp_path
    encode(d / "short.mp4", car.truth.frames[:3], rate=25)
    write_prompts(d / "p.json", [{"frame": 1, "object": 1, "box": car.box(1)}])
    jobs = write_jobs(d / "jobs.json", [{"video": "short.mp4", "prompts": "p.json",
                                         "project": "short.s2s", "mattes": "m"}])
    r = cli(["batch", jobs, "--random-weights", "--image-size", "64", "--device", "cpu"])
    assert r.code == 0, r.err
    assert "RANDOM WEIGHTS" in r.err and "MEANINGLESS" in r.err
    row = r.out.splitlines()[1].split()
    assert (row[0], row[1], row[-1]) == ("short", "3", "done")
    doc = load(d / "short.s2s")
    assert doc.model_variant is None and doc.mask_frames(1) == [0, 1, 2]
    assert sorted(p.name for p in (d / "m").iterdir()) == \
        [f"Object_1_matte.{f:04d}.png" for f in (1, 2, 3)]
    assert (d / "jobs.json.done" / "short.json").is_file()


@pytest.mark.slow
def test_resume_after_the_batch_is_killed_mid_shot(tmp_path, car, data_dir):
    d = tmp_path
    write_prompts(d / "p.json", [{"frame": 0, "object": "car", "box": car.box(0)}])
    jobs = write_jobs(d / "jobs.json", [
        {"shot": s, "video": str(car.video), "prompts": "p.json", "project": f"{s}.s2s",
         "mattes": f"{s}_mattes"} for s in ("a", "b", "c")])
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(ROOT), str(data_dir), "batch",
                              str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=d)
    try:
        for line in child.stderr:
            if line.startswith("b: started"):
                break
        time.sleep(0.5)  # a few frames into shot b
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert (d / "jobs.json.done" / "a.json").is_file()
    assert not (d / "jobs.json.done" / "b.json").exists() and not (d / "b.s2s").exists()

    source = GroundTruthSource(car.truth)
    r = cli(["batch", jobs], source)
    assert r.code == 0, r.err
    assert "a: skipped, complete" in r.err and len(source.sessions) == 2  # b and c
    for s in "abc":
        assert load(d / f"{s}.s2s").mask_frames(1) == list(range(10))
        names = sorted(p.name for p in (d / f"{s}_mattes").iterdir())
        assert names == [f"car_matte.{f:04d}.png" for f in range(1, 11)]  # nothing half-written


@pytest.mark.slow
def test_two_worker_processes_share_the_shots_and_survive_a_dead_worker(tmp_path, car):
    d = tmp_path
    write_prompts(d / "p.json", [{"frame": 0, "object": "car", "box": car.box(0)}])
    jobs = write_jobs(d / "jobs.json", [
        {"shot": s, "video": str(car.video), "prompts": "p.json", "mattes": f"{s}_mattes",
         "format": "png8"} for s in ("a", "b", "c")])
    source = FailOnceSource(car.truth, marker=d / "killed-once", mode="kill")
    r = cli(["batch", jobs, "--workers", "2"], source)
    assert r.code == 0, r.err
    assert "starting 2 workers" in r.err and "on worker 1 (cpu)" in r.err and \
        "on worker 2 (cpu)" in r.err
    assert "attempt 1 failed: the worker process died (exit code -9: killed, out of memory?)" \
        in r.err
    assert "done (attempt 2)" in r.out and r.out.splitlines()[-1].startswith("3 shots: 3 done")
    for s in "abc":
        for f in (0, 9):
            assert np.array_equal(read_matte(d / f"{s}_mattes" / f"car_matte.{f + 1:04d}.png")
                                  == 255, car.mask(f))
