"""The jobs file of ``sam2-studio batch``: JSON and CSV, defaults, and every mistake named by
shot and field before anything runs."""

from __future__ import annotations

import json

import pytest

from sam2_studio.app.jobs import JobsError, MatteOutput, RenderOutput, read_jobs
from tests.ground_truth import GroundTruthSource

from .batch_support import write_jobs
from .headless import cli, write_prompts


@pytest.fixture
def inputs(tmp_path, car):
    """A video and prompts file beside the jobs file (paths in jobs files are relative)."""
    (tmp_path / "car.mp4").symlink_to(car.video)
    write_prompts(tmp_path / "p.json", [{"frame": 0, "object": "car", "box": car.box(0)}])
    (tmp_path / "blur.json").write_text(json.dumps(
        {"car": [{"effect": "blur", "target": "background", "params": {"strength": 8}}]}))
    return tmp_path


def test_json_and_csv_say_the_same_shots(inputs):
    d = inputs
    shots = [
        {"shot": "sh010", "video": "car.mp4", "prompts": "p.json", "project": "out/sh010.s2s",
         "mattes": "out/sh010", "objects": ["car", 2], "render": "out/sh010.mov",
         "effects": "blur.json"},
        {"video": "car.mp4", "prompts": "p.json", "mattes": "out/car", "format": "png8",
         "start": 0, "premultiplied": True, "render": "out/car.mkv", "crf": 0, "audio": False},
    ]
    js = read_jobs(write_jobs(d / "jobs.json", {"version": 1, "shots": shots,
                                                "defaults": {"format": "exr", "start": 1001}}))
    (d / "jobs.csv").write_text(
        "shot,video,prompts,project,mattes,format,start,premultiplied,objects,render,crf,audio,effects\n"
        "sh010,car.mp4,p.json,out/sh010.s2s,out/sh010,exr,1001,,car;2,out/sh010.mov,,,blur.json\n"
        "\n"  # blank lines are skipped
        ",car.mp4,p.json,,out/car,png8,0,yes,,out/car.mkv,0,no,\n", encoding="utf-8")
    cs = read_jobs(d / "jobs.csv")
    assert [s.name for s in js.shots] == ["sh010", "car"]  # unnamed: the video's name
    for a, b in zip(js.shots, cs.shots):
        assert (a.video, a.prompts, a.project, a.mattes, a.render, a.effects) == \
            (b.video, b.prompts, b.project, b.mattes, b.render, b.effects)
    first, second = js.shots
    assert first.video == d / "car.mp4" and first.project == d / "out" / "sh010.s2s"
    assert first.mattes == MatteOutput(d / "out" / "sh010", "exr", 1001, False, ("car", "2"))
    assert first.render == RenderOutput(d / "out" / "sh010.mov", "prores", 18, True)
    assert "blur" in first.effects.text and first.effects.source == str(d / "blur.json")
    assert second.mattes == MatteOutput(d / "out" / "car", "png8", 0, True, ())
    assert second.render == RenderOutput(d / "out" / "car.mkv", "ffv1", 0, False)
    assert second.effects is None and second.where == "shots[1]" and cs.shots[1].where == "line 4"


def _shot(**changes):
    shot = {"shot": "sh010", "video": "car.mp4", "prompts": "p.json", "project": "a.s2s"}
    shot.update(changes)
    return {k: v for k, v in shot.items() if v is not None}


@pytest.mark.parametrize("shots, message", [
    ([_shot(mattes="m", fromat="exr")],
     "shot 'sh010' (shots[0]): unknown key 'fromat' (did you mean 'format'?)"),
    ([_shot(video="gone.mp4")], "shot 'sh010' (shots[0]).video: {d}/gone.mp4: no such file"),
    ([_shot(prompts="nope.json")], "shot 'sh010' (shots[0]).prompts: {d}/nope.json: no such file"),
    ([_shot(prompts=None)], "shot 'sh010' (shots[0]): 'prompts' is missing"),
    ([_shot(), _shot(shot="sh020", project="./a.s2s")],
     "shot 'sh020' (shots[1]).project: {d}/a.s2s is also the project of shot 'sh010' "
     "(shots[0]): two shots would write the same output"),
    ([_shot(project=None, mattes="m"), _shot(shot="sh020", project=None, mattes="m/")],
     "shot 'sh020' (shots[1]).mattes: {d}/m is also the mattes of shot 'sh010'"),
    ([_shot(project=None, render="car.mp4")],
     "shot 'sh010' (shots[0]).render: {d}/car.mp4 is the video of shot 'sh010' (shots[0]): "
     "an output may not overwrite an input"),
    ([_shot(), _shot(project="b.s2s")], "shot 'sh010' (shots[1]): has the same name as shot "
                                        "'sh010' (shots[0])"),
    ([_shot(project=None)], "shot 'sh010' (shots[0]): nothing would be kept"),
    ([_shot(project="a.prj")], "shot 'sh010' (shots[0]).project: names a project file ending in .s2s"),
    ([_shot(mattes="m", format="tiff")], "shot 'sh010' (shots[0]).format: 'tiff' is not one of png8"),
    ([_shot(start=1001)], "shot 'sh010' (shots[0]).start: only goes with 'mattes'"),
    ([_shot(mattes="m", start=-1)], "shot 'sh010' (shots[0]).start: expected a whole number ≥ 0"),
    ([_shot(render="out.avi")], "shot 'sh010' (shots[0]).render: {d}/out.avi: name a .mp4"),
    ([_shot(render="out.mp4", codec="prores")], "shot 'sh010' (shots[0]).render: {d}/out.mp4: "
                                                "the codec prores writes .mov files"),
    ([_shot(render="o.mp4", crf=60)], "shot 'sh010' (shots[0]).crf: expected a whole number from 0 to 51"),
    ([_shot(effects={"car": [{"effect": "blurr"}]})],
     "shot 'sh010' (shots[0]).effects: ['car'].effects[0].effect: no effect 'blurr' (effects: "),
    ([_shot(effects={"car": [{"effect": "blur", "params": {"strenght": 3}}]})],
     "shot 'sh010' (shots[0]).effects: ['car'].effects[0].params: unknown key 'strenght' "
     "(did you mean 'strength'?)"),
    ([_shot(effects={"car": [{"effect": "cutout", "target": "object"}]})],
     "['car'].effects[0].target: cutout acts on background, not 'object'"),
    ([_shot(effects="missing.json")], "shot 'sh010' (shots[0]).effects: {d}/missing.json: no such file"),
    ({"shots": [_shot()], "defaults": {"project": "x.s2s"}},
     "defaults: unknown key 'project'"),
    ({"version": 2, "shots": [_shot()]}, "version: this SAM2 Studio reads jobs files of version 1"),
    ({"shots": []}, "there are no shots in it"),
])
def test_mistakes_are_named_by_shot_and_field_and_nothing_runs(inputs, shots, message):
    d = inputs
    jobs = write_jobs(d / "jobs.json", shots)
    source = GroundTruthSource(None)
    r = cli(["batch", jobs], source)
    assert r.code == 2, r.err
    assert f"sam2-studio batch: {jobs}: " in r.err and message.format(d=d) in r.err, r.err
    assert r.out == "" and not source.sessions and not (d / "jobs.json.done").exists()


def test_csv_mistakes_name_the_line(inputs):
    d = inputs
    (d / "jobs.csv").write_text("shot,video,prompts,project\nsh010,car.mp4,p.json,a.s2s\n"
                                "sh020,car.mp4,gone.json,b.s2s\n", encoding="utf-8")
    with pytest.raises(JobsError, match=r"shot 'sh020' \(line 3\)\.prompts: .*gone.json: no such file"):
        read_jobs(d / "jobs.csv")
    (d / "jobs.csv").write_text("shot,vidoe,prompts\n", encoding="utf-8")
    with pytest.raises(JobsError, match=r"line 1: unknown column 'vidoe' \(did you mean 'video'\?\)"):
        read_jobs(d / "jobs.csv")
