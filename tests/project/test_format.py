import errno
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.project import Document, ProjectError, load, save
from sam2_studio.project.atomic import temp_path_for
from sam2_studio.project.format import FORMAT_VERSION, MIMETYPE

from .conftest import disc, state

ROOT = Path(__file__).resolve().parents[2]


def rich_document(doc: Document) -> Document:
    car = doc.add_object("Voiture rouge ✓", "#c81e1e")
    dog = doc.add_object("Dog")
    doc.update_object(dog.id, visible=False, locked=False,
                      effects=[{"kind": "pixelate", "block": 12}], refinement={"feather": 1.5})
    doc.add_point(car.id, 0, 10.25, 12.5)
    doc.add_point(car.id, 0, 40, 12, positive=False)
    doc.add_box(car.id, 7, 3, 4, 30, 40)
    stroke = doc.begin_stroke(dog.id, 9, radius=2.5)
    stroke.add_points((5, 5), (20, 9.5))
    stroke.finish()
    with doc.edit_group("Propagate"):
        for f in range(0, 30):
            doc.set_mask(car.id, f, disc(10 + f, 20, 6))
    doc.set_mask(car.id, 12, np.zeros((48, 64), bool))   # object absent: an empty mask
    doc.update_object(car.id, locked=True)
    doc.set_frame_range(2, 25)
    doc.set_model_variant("sam2.1_hiera_small")
    return doc


def test_round_trip_keeps_everything(doc, tmp_path):
    rich_document(doc)
    path = tmp_path / "p.s2s"
    seen = []
    doc.events.settings.connect(seen.append)
    assert save(doc, path) == path
    assert not doc.dirty and doc.path == path and "path" in seen
    back = load(path)
    assert state(back) == state(doc)
    assert back.next_ids == doc.next_ids and back.path == path and not back.dirty
    assert back.encoded_mask(1, 12).area == 0
    with zipfile.ZipFile(path) as z:
        assert z.namelist()[0] == "mimetype" and z.read("mimetype").decode() == MIMETYPE
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["version"] == FORMAT_VERSION and manifest["video"]["relative_path"] == "clip.mp4"


def test_an_empty_project_and_save_without_a_path(doc, tmp_path):
    with pytest.raises(ProjectError, match="choose where"):
        save(doc)
    save(doc, tmp_path / "e.s2s")
    assert state(load(tmp_path / "e.s2s")) == state(doc)


def _rewrite(src: Path, dst: Path, manifest=None, drop=(), replace=None) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = zin.read(info.filename)
            if info.filename == "manifest.json" and manifest is not None:
                m = json.loads(data)
                manifest(m)
                data = json.dumps(m).encode()
            if replace and info.filename in replace:
                data = replace[info.filename]
            zout.writestr(info, data)
    return dst


@pytest.fixture
def saved(doc, tmp_path) -> Path:
    rich_document(doc)
    return save(doc, tmp_path / "good.s2s")


def _bad_cases(saved: Path, tmp: Path):
    raw = saved.read_bytes()
    blob = b"".join(m.data for m in (load(saved).encoded_mask(1, f) for f in range(30)))
    flipped = bytearray(raw)
    at = raw.index(blob) + len(blob) // 2
    flipped[at] ^= 0xFF

    def write(name, data):
        (tmp / name).write_bytes(data)
        return tmp / name

    def foreign_zip():
        with zipfile.ZipFile(tmp / "foreign.s2s", "w") as z:
            z.writestr("word/document.xml", "<x/>")
        return tmp / "foreign.s2s"

    def set_(key, value):
        return lambda m: m.__setitem__(key, value)

    return [
        (lambda: write("empty.s2s", b""), "empty"),
        (lambda: write("noise.s2s", os.urandom(500)), "not a SAM2 Studio project .*not a zip"),
        (lambda: write("brace.s2s", b"{" + os.urandom(499)), "not a SAM2 Studio project .*not a zip"),
        (lambda: write("j.s2s", b'{"objects": []}'), "JSON file"),
        (foreign_zip, "zip archive, not a SAM2 Studio project"),
        (lambda: write("half.s2s", raw[: len(raw) // 2]), "damaged"),
        (lambda: write("crc.s2s", bytes(flipped)), "damaged: .*masks/1.bin is corrupt"),
        (lambda: _rewrite(saved, tmp / "nomani.s2s", drop={"manifest.json"}), "manifest.json is missing"),
        (lambda: _rewrite(saved, tmp / "badjson.s2s", replace={"manifest.json": b"{nope"}),
         "manifest.json is not valid JSON"),
        (lambda: _rewrite(saved, tmp / "other.s2s", manifest=set_("format", "other-app")), "another kind"),
        (lambda: _rewrite(saved, tmp / "newer.s2s", manifest=set_("version", FORMAT_VERSION + 1)),
         f"newer SAM2 Studio .*format version {FORMAT_VERSION + 1}.*Update"),
        (lambda: _rewrite(saved, tmp / "v0.s2s", manifest=set_("version", "1")), "bad format version"),
        (lambda: _rewrite(saved, tmp / "noobj.s2s", manifest=lambda m: m.pop("objects")), "objects: missing"),
        (lambda: _rewrite(saved, tmp / "color.s2s",
                          manifest=lambda m: m["objects"][0].__setitem__("color", "blue")),
         r"objects\[0\]: not a colour"),
        (lambda: _rewrite(saved, tmp / "frame.s2s",
                          manifest=lambda m: m["objects"][0]["prompts"][0].__setitem__("frame", 999)),
         "frame 999 is outside"),
        (lambda: _rewrite(saved, tmp / "idx.s2s",
                          manifest=lambda m: m["objects"][0]["masks"]["frames"][3].__setitem__(1, 10**9)),
         "points outside masks/1.bin"),
        (lambda: _rewrite(saved, tmp / "noblob.s2s", drop={"masks/1.bin"}), "masks/1.bin is missing"),
        (lambda: _rewrite(saved, tmp / "codec.s2s", manifest=set_("mask_codec", "png")), "unknown mask codec"),
        (lambda: _rewrite(saved, tmp / "ptype.s2s",
                          manifest=lambda m: m["objects"][0]["prompts"][0]["items"][0].__setitem__("type", "lasso")),
         "unknown prompt type"),
        (lambda: _rewrite(saved, tmp / "dup.s2s",
                          manifest=lambda m: m["objects"][1].__setitem__("id", 1)), "repeated object id"),
        (lambda: tmp / "missing.s2s", "no such project file"),
        (lambda: tmp, "a folder"),
    ]


def test_each_bad_file_names_the_file_and_the_problem(saved, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for make, message in _bad_cases(saved, bad):
        path = make()
        with pytest.raises(ProjectError, match=message) as info:
            load(path)
        assert info.value.path == path.absolute(), message
        assert str(path.name) in str(info.value)


def test_a_failed_save_leaves_the_previous_file_intact(doc, tmp_path, monkeypatch):
    path = tmp_path / "p.s2s"
    obj = doc.add_object()
    save(doc, path)
    before = path.read_bytes()
    doc.set_mask(obj.id, 0, disc(5, 5, 3))
    real = zipfile.ZipFile.open

    def full_disk(self, info, mode="r", *a, **kw):  # masks are streamed into their entries
        if mode == "w" and str(getattr(info, "filename", info)).startswith("masks/"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, info, mode, *a, **kw)

    monkeypatch.setattr(zipfile.ZipFile, "open", full_disk)
    with pytest.raises(ProjectError, match="No space left.*previous version of the file is unchanged"):
        save(doc, path)
    assert path.read_bytes() == before and doc.dirty
    assert not temp_path_for(path).exists()


_KILL_SCRIPT = r"""
import sys, time
from sam2_studio.project import load, save
doc = load(sys.argv[1])
obj = doc.add_object("added in the child")
for f in range(30):
    doc.set_mask(obj.id, f, doc.mask(1, f))
def progress(done, total):
    print("MID-SAVE", done, total, flush=True)
    time.sleep(60)
save(doc, sys.argv[1], progress=progress)
"""


def test_kill_during_save_keeps_the_previous_version(saved):
    expected = state(load(saved))
    child = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(saved)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = child.stdout.readline()
        assert line.startswith("MID-SAVE"), line
        assert temp_path_for(saved).stat().st_size > 0          # half a new file is on disk
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert state(load(saved)) == expected
    doc = load(saved)                                             # and saving again works
    doc.update_object(2, name="after the crash")
    save(doc)
    assert load(saved).object(2).name == "after the crash" and not temp_path_for(saved).exists()


_LOOP_SCRIPT = r"""
import sys
from sam2_studio.project import load, save
doc = load(sys.argv[1])
n = 0
while True:
    doc.update_object(2, name=f"version {n}")
    save(doc)
    print(n, flush=True)
    n += 1
"""


def test_kill_at_an_arbitrary_moment_of_repeated_saves(saved):
    child = subprocess.Popen([sys.executable, "-c", _LOOP_SCRIPT, str(saved)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for _ in range(5):
            child.stdout.readline()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert load(saved).object(2).name.startswith("version ")


def test_saving_keeps_the_file_mode_and_a_symlink(doc, tmp_path):
    path = tmp_path / "real.s2s"
    save(doc, path)
    path.chmod(0o640)
    link = tmp_path / "link.s2s"
    link.symlink_to(path)
    doc.add_object()
    save(doc, link)
    assert link.is_symlink() and (path.stat().st_mode & 0o777) == 0o640
    assert len(load(path).objects) == 1
