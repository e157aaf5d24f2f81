import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sam2_studio.app.cli import CliContext, run
from sam2_studio.project import save, Document
from tests.project.conftest import make_video_file, video_info

from .conftest import PAYLOAD, fake_checkpoint

ROOT = Path(__file__).resolve().parents[2]


class Editor:
    def __init__(self):
        self.opened = []

    def __call__(self, path):
        self.opened.append(path)
        return 0


def call(argv, manager=None):
    out, err = io.StringIO(), io.StringIO()
    ctx = CliContext(stdout=out, stderr=err, model_manager=lambda: manager)
    code = run(argv, Editor(), context=ctx)
    return code, out.getvalue(), err.getvalue()


def test_no_command_opens_the_editor():
    editor = Editor()
    assert run([], editor) == 0 and run(["clip.mp4"], editor) == 0
    assert editor.opened == [None, "clip.mp4"]


def test_usage_errors_exit_2(capsys):
    assert run(["models"], Editor()) == 2
    assert run(["models", "frobnicate"], Editor()) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert run(["--help"], Editor()) == 0
    assert "models" in capsys.readouterr().out           # the help lists the commands


def test_models_list(manager):
    code, out, _ = call(["models", "list"], manager)
    assert code == 0 and "sam2_hiera_tiny" in out and "not installed" in out
    code, out, _ = call(["models", "list", "--json"], manager)
    assert {m["variant"] for m in json.loads(out)} == {"sam2_hiera_tiny", "sam2.1_hiera_tiny"}


def test_models_download_then_verify(manager, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    code, out, err = call(["models", "download", "sam2_hiera_tiny"], manager)
    assert code == 0 and "installed" in out and "100.0%" in err
    code, out, _ = call(["models", "download", "sam2_hiera_tiny"], manager)
    assert code == 0 and "already installed" in out
    code, out, _ = call(["models", "verify"], manager)
    assert code == 0 and "ok" in out
    (manager.root / "sam2_hiera_tiny.pt").write_bytes(b"x" * len(PAYLOAD))
    code, out, _ = call(["models", "verify", "--json"], manager)
    assert code == 1 and not json.loads(out)[0]["ok"]


def test_models_errors_map_to_exit_codes(manager, server, tmp_path):
    code, _, err = call(["models", "download", "sam9"], manager)
    assert code == 2 and "unknown model 'sam9'" in err
    code, _, err = call(["models", "download", "sam2_hiera_tiny"], manager)   # 404 on the server
    assert code == 1 and "404" in err
    code, _, err = call(["models", "add", str(tmp_path / "missing.pt")], manager)
    assert code == 2 and "no such file" in err
    (tmp_path / "sam2.1_hiera_tiny.pt").write_bytes(fake_checkpoint(b"tuned"))
    code, out, _ = call(["models", "add", str(tmp_path / "sam2.1_hiera_tiny.pt")], manager)
    assert code == 0 and "sam2.1_hiera_tiny registered" in out


def test_ctrl_c_during_a_download_keeps_the_part_and_says_how_to_resume(manager, server):
    server.files["sam2_hiera_tiny.pt"] = PAYLOAD
    real = manager.download

    def interrupted(variant, progress=None, **kw):
        def progress_then_ctrl_c(done, total):
            progress(done, total)
            if done > 50_000:
                raise KeyboardInterrupt
        return real(variant, progress=progress_then_ctrl_c, **kw)

    manager.download = interrupted
    code, _, err = call(["models", "download", "sam2_hiera_tiny"], manager)
    assert code == 1 and "interrupted; run the same command to resume" in err
    assert (manager.root / "sam2_hiera_tiny.pt.part").stat().st_size > 50_000
    assert not (manager.root / "sam2_hiera_tiny.pt").exists()


@pytest.fixture
def project(tmp_path):
    doc = Document(video_info(make_video_file(tmp_path / "clip.mp4")))
    car = doc.add_object("Car")
    doc.add_point(car.id, 3, 10, 10)
    return save(doc, tmp_path / "p.s2s")


def test_info_and_relink(project, tmp_path):
    code, out, _ = call(["info", str(project), "--json"])
    assert code == 0 and json.loads(out)["objects"][0]["prompted_frames"] == [3]
    moved = tmp_path / "moved.mp4"
    (tmp_path / "clip.mp4").rename(moved)
    code, _, err = call(["info", str(project)])
    assert code == 2 and "is missing" in err and "--relink" in err
    code, _, err = call(["info", str(project), "--relink", str(make_video_file(tmp_path / "x.mp4", 3))])
    assert code == 2 and "not the video the project was made on" in err
    code, out, _ = call(["info", str(project), "--relink", str(moved), "--save"])
    assert code == 0 and str(moved) in out
    assert call(["info", str(project)])[0] == 0
    code, _, err = call(["info", str(project), "--save"])
    assert code == 2 and "--save only goes with --relink" in err
    (tmp_path / "bad.s2s").write_text("hello")
    code, _, err = call(["info", str(tmp_path / "bad.s2s")])
    assert code == 2 and "bad.s2s" in err and "not a SAM2 Studio project" in err


def test_the_installed_entry_point_end_to_end(tmp_path, server):
    """The real process: exit codes, stderr, the data directory and mirror from the environment,
    and a headless command that never loads torch or Qt."""
    env = {**os.environ, "SAM2_STUDIO_DATA_DIR": str(tmp_path / "data"),
           "SAM2_STUDIO_MODEL_MIRROR": server.url, "PYTHONPATH": str(ROOT)}
    probe = ("import sys; from sam2_studio.main import main; code = main(sys.argv[1:]); "
             "assert not {'torch', 'PySide6'} & set(sys.modules), 'heavy import'; sys.exit(code)")

    def cli(*args):
        return subprocess.run([sys.executable, "-c", probe, *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    r = cli("models", "list")
    assert r.returncode == 0 and str(tmp_path / "data" / "models") in r.stdout, r.stderr
    r = cli("models", "download", "nope")
    assert r.returncode == 2 and "unknown model" in r.stderr and r.stdout == ""
    r = cli("models", "download", "sam2.1_hiera_large")       # the fake server has no such file
    assert r.returncode == 1 and "404" in r.stderr
