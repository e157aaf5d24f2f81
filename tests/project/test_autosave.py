import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sam2_studio.project import Autosaver, interrupted_sessions, load, save

from .conftest import disc, state

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_autosaves_after_interval_of_change_and_forgets_after_a_save(doc, tmp_path):
    clock = Clock()
    auto = Autosaver(doc, tmp_path / "auto", interval_s=30, clock=clock)
    try:
        assert not auto.poll()                       # nothing changed
        obj = doc.add_object("Car")
        assert not auto.poll()                       # change noticed at t=0
        clock.now = 29
        doc.set_mask(obj.id, 0, disc(5, 5, 3))
        assert not auto.poll()
        clock.now = 30
        assert auto.poll()
        auto.wait()
        assert auto.saves == 1 and state(load(auto.autosave_path)) == state(doc)
        assert not auto.poll()                       # nothing new
        save(doc, tmp_path / "p.s2s")
        auto.poll()
        assert not auto.autosave_path.exists()       # the project file holds it all
    finally:
        auto.close()
    assert not auto.directory.exists()


def test_live_session_is_not_offered_and_a_clean_exit_leaves_nothing(doc, tmp_path):
    folder = tmp_path / "autosave"
    auto = Autosaver(doc, folder, interval_s=0)
    doc.add_object()
    auto.save_now()
    auto.wait()
    assert interrupted_sessions(folder) == []        # its owner is alive
    auto.close()
    assert interrupted_sessions(folder) == [] and list(folder.iterdir()) == []


_CRASH_SCRIPT = r"""
import sys
from pathlib import Path
from sam2_studio.project import Autosaver, load
doc = load(sys.argv[1])
auto = Autosaver(doc, sys.argv[2], interval_s=0)
doc.update_object(1, name="renamed before the crash")
doc.add_point(1, 4, 9, 9)
auto.poll()
auto.wait()
print("AUTOSAVED", flush=True)
sys.stdin.read()
"""


def _crash_child(project: Path, autosave_dir: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CRASH_SCRIPT, str(project), str(autosave_dir)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "AUTOSAVED"
        assert interrupted_sessions(autosave_dir) == []          # still running
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()


def test_recovery_after_a_crash(doc, tmp_path):
    doc.add_object("Car")
    project = save(doc, tmp_path / "p.s2s")
    autosave_dir = tmp_path / "autosave"
    _crash_child(project, autosave_dir)

    (session,) = interrupted_sessions(autosave_dir)
    assert session.title == "p" and session.project_path == project
    assert session.video_path == doc.video.path and session.autosaved_at is not None
    recovered = session.recover()
    assert recovered.object(1).name == "renamed before the crash"
    assert recovered.prompts(1, 4) and recovered.path == project and recovered.dirty
    assert load(project).object(1).name == "Car"               # the user's file is untouched

    # the recovered document takes the session over; until it closes, a new crash loses nothing
    auto = Autosaver(recovered, autosave_dir, adopt=session)
    assert interrupted_sessions(autosave_dir) == []
    save(recovered)
    auto.close()
    assert interrupted_sessions(autosave_dir) == [] and not session.directory.exists()


def test_discarding_and_stale_sessions(doc, tmp_path):
    doc.add_object("Car")
    project = save(doc, tmp_path / "p.s2s")
    autosave_dir = tmp_path / "autosave"
    _crash_child(project, autosave_dir)
    (session,) = interrupted_sessions(autosave_dir)
    session.discard()
    assert interrupted_sessions(autosave_dir) == []
    stale = autosave_dir / "dead-without-autosave"
    stale.mkdir()
    (stale / "lock").touch()
    assert interrupted_sessions(autosave_dir) == [] and not stale.exists()
    assert interrupted_sessions(tmp_path / "never-made") == []


def test_an_autosave_that_fails_is_reported_not_raised(doc, tmp_path, monkeypatch):
    auto = Autosaver(doc, tmp_path, interval_s=0)
    doc.add_object()
    import sam2_studio.project.autosave as mod

    def broken(*a, **kw):
        raise OSError("disk gone")

    monkeypatch.setattr(mod, "write_snapshot", broken)
    auto.save_now()
    auto.wait()
    assert isinstance(auto.last_error, OSError) and auto.saves == 0
    auto.close()


def test_a_session_folder_in_use_cannot_be_taken_twice(doc, tmp_path):
    auto = Autosaver(doc, tmp_path)
    try:
        from sam2_studio.project.autosave import InterruptedSession
        fake = InterruptedSession(auto.directory, "x", None, None, None)
        with pytest.raises(RuntimeError, match="in use"):
            Autosaver(doc, tmp_path, adopt=fake)
    finally:
        auto.close()
