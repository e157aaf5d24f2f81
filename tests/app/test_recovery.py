from sam2_studio.app.recovery import pending_recoveries, recovered_copy_path, start_autosave
from sam2_studio.project import Document, load, save
from tests.project.conftest import make_video_file, video_info

from .test_cli import call


def _crashed_session(tmp_path, monkeypatch):
    """An editor that autosaved, then died (its lock released without a clean close)."""
    monkeypatch.setenv("SAM2_STUDIO_DATA_DIR", str(tmp_path / "data"))
    doc = Document(video_info(make_video_file(tmp_path / "clip.mp4")))
    doc.add_object("Car")
    project = save(doc, tmp_path / "p.s2s")
    auto = start_autosave(doc, interval_s=0)
    doc.update_object(1, name="unsaved rename")
    auto.poll()
    auto.wait()
    auto._lock.close()          # what the OS does when the process dies
    return project


def test_recover_from_the_command_line(tmp_path, monkeypatch):
    project = _crashed_session(tmp_path, monkeypatch)
    code, out, _ = call(["recover"])
    assert code == 0 and out.startswith("1  p  autosaved") and str(project) in out
    code, _, err = call(["recover", "2"])
    assert code == 2 and "no session 2" in err
    code, out, _ = call(["recover", "1"])
    target = tmp_path / "p (recovered).s2s"
    assert code == 0 and str(target) in out
    assert load(target).object(1).name == "unsaved rename"
    assert load(project).object(1).name == "Car"             # the user's own file is untouched
    assert pending_recoveries() == [] and call(["recover"])[1] == "nothing to recover\n"


def test_discard_and_names_that_do_not_overwrite(tmp_path, monkeypatch):
    _crashed_session(tmp_path, monkeypatch)
    (session,) = pending_recoveries()
    (tmp_path / "p (recovered).s2s").touch()
    assert recovered_copy_path(session).name == "p (recovered) 2.s2s"
    code, out, _ = call(["recover", "1", "--discard"])
    assert code == 0 and "discarded" in out and pending_recoveries() == []
