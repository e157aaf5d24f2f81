"""The disk store of masks: the document and its history hold handles, bytes come back on
demand through a bounded cache, saving streams from it, a full disk loses nothing, and a
store left by a crash is recovered with the autosave."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sam2_studio.project import Autosaver, interrupted_sessions, load, save
from sam2_studio.project.mask_store import MaskStore, StoredMask

from .conftest import FRAMES, H, W, disc, state

ROOT = Path(__file__).resolve().parents[2]


def noisy(seed: int) -> np.ndarray:
    """A mask that compresses poorly (a few hundred bytes at 64x48)."""
    return np.random.default_rng(seed).random((H, W)) > 0.5


def blob_count(store: MaskStore) -> int:
    return store._conn().execute("SELECT COUNT(*) FROM blobs").fetchone()[0]


@pytest.fixture
def store(tmp_path):
    s = MaskStore(tmp_path / "masks.sqlite", ram_budget=4096)
    yield s
    s.close()


def test_the_document_holds_handles_and_reads_masks_back(doc, store):
    obj = doc.add_object("Car")
    doc.set_mask(obj.id, 0, noisy(0))  # before the store: moved there when it is attached
    doc.use_store(store)
    assert isinstance(doc.encoded_mask(obj.id, 0), StoredMask)
    masks = {f: noisy(f) for f in range(FRAMES)}
    before = doc.history.nbytes
    doc.set_masks({(obj.id, f): m for f, m in masks.items()}, label="Track forward")
    for f, m in masks.items():
        assert isinstance(doc.encoded_mask(obj.id, f), StoredMask)
        assert np.array_equal(doc.mask(obj.id, f), m)
    assert store.cached_bytes <= 4096  # reading them all kept the cache in its budget
    # undo keeps references, not copies: the whole run costs a few kB of history
    step = doc.history.nbytes - before
    assert step < 250 * FRAMES < sum(len(doc.encoded_mask(obj.id, f).data) for f in masks)
    doc.undo()
    assert np.array_equal(doc.mask(obj.id, 0), noisy(0)) and doc.mask(obj.id, 5) is None
    doc.redo()
    assert np.array_equal(doc.mask(obj.id, 5), masks[5])
    # the store mirrors what the document holds, frame by frame
    current = store.current()
    assert sorted(current[obj.id]) == list(range(FRAMES))
    assert all(current[obj.id][f] is doc.encoded_mask(obj.id, f) for f in range(FRAMES))
    assert store.objects() == {obj.id: {"name": "Car", "color": list(obj.color)}}
    doc.remove_object(obj.id)
    assert store.current() == {} and store.objects() == {}
    doc.undo()
    assert np.array_equal(doc.mask(obj.id, 7), masks[7]) and sorted(store.current()[obj.id]) == list(range(FRAMES))


def test_bytes_nothing_refers_to_are_deleted(doc, store, video):
    from sam2_studio.project import Document

    doc = Document(video, max_history_steps=3)
    doc.use_store(store)
    obj = doc.add_object()
    for k in range(200):  # 200 steps, of which the history keeps 3
        doc.set_mask(obj.id, 0, noisy(k))
    store.collect()
    assert blob_count(store) <= 8
    assert np.array_equal(doc.mask(obj.id, 0), noisy(199))
    doc.undo()
    assert np.array_equal(doc.mask(obj.id, 0), noisy(198))


def test_saving_copies_from_the_store_without_decoding(doc, store, tmp_path, monkeypatch):
    doc.use_store(store)
    obj = doc.add_object()
    doc.set_masks({(obj.id, f): noisy(f) for f in range(FRAMES)})
    expected = state(doc)

    def refuse(self):  # noqa: ANN001, ANN202
        raise AssertionError("saving decoded a mask")

    monkeypatch.setattr(StoredMask, "decode", refuse)
    save(doc, tmp_path / "p.s2s")
    monkeypatch.undo()
    assert state(load(tmp_path / "p.s2s")) == expected


def test_a_full_disk_is_reported_and_loses_nothing(doc, tmp_path):
    store = MaskStore(tmp_path / "masks.sqlite", retry_s=0.0)
    problems = []
    doc.events.storage.connect(problems.append)
    doc.use_store(store)
    obj = doc.add_object()
    doc.set_mask(obj.id, 0, noisy(0))
    pages = store._conn().execute("PRAGMA page_count").fetchone()[0]
    store._conn().execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLITE_FULL: the disk is full
    masks = {f: noisy(100 + f) for f in range(1, FRAMES)}
    for f, m in masks.items():  # a run writing frame after frame
        doc.set_mask(obj.id, f, m, label="Track forward")
    assert len(problems) == 1 and "full" in problems[0] and "memory" in problems[0]
    assert store.problem == problems[0]
    for f, m in masks.items():
        assert np.array_equal(doc.mask(obj.id, f), m), f"frame {f} was lost"
    # space again: new masks go back to the disk
    store._conn().execute("PRAGMA max_page_count = 1073741823")
    doc.set_mask(obj.id, 3, noisy(3))
    assert isinstance(doc.encoded_mask(obj.id, 3), StoredMask) and store.problem is None
    save(doc, tmp_path / "p.s2s")
    assert np.array_equal(load(tmp_path / "p.s2s").mask(obj.id, 9), masks[9])
    store.close()


def test_closing_the_autosave_gives_the_masks_back_to_a_document_that_goes_on(doc, tmp_path):
    auto = Autosaver(doc, tmp_path / "auto")
    obj = doc.add_object()
    doc.set_mask(obj.id, 0, disc(10, 10, 5))
    doc.set_mask(obj.id, 0, disc(20, 20, 5))
    assert isinstance(doc.encoded_mask(obj.id, 0), StoredMask)
    auto.close()
    assert not auto.directory.exists() and doc.mask_store is None
    assert np.array_equal(doc.mask(obj.id, 0), disc(20, 20, 5))
    doc.undo()
    assert np.array_equal(doc.mask(obj.id, 0), disc(10, 10, 5))


_CRASH = r"""
import sys
import numpy as np
from sam2_studio.project import Autosaver, load
doc = load(sys.argv[1])
auto = Autosaver(doc, sys.argv[2], interval_s=float(sys.argv[3]))
doc.add_point(1, 4, 9, 9)
if auto.poll():
    auto.wait()
rng = np.random.default_rng(0)
for f in range(30):  # tracked after the autosave: only the store has these
    doc.set_mask(1, f, rng.random((48, 64)) > 0.5, label="Track forward")
new = doc.add_object("Added after the autosave")
doc.set_mask(new.id, 2, rng.random((48, 64)) > 0.5)
print("TRACKED", flush=True)
sys.stdin.read()
"""


def _killed(project: Path, folder: Path, interval: float) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CRASH, str(project), str(folder), str(interval)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "TRACKED"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()


@pytest.mark.parametrize("autosaved", [True, False], ids=["after-an-autosave", "saved-project-only"])
def test_masks_tracked_before_a_crash_are_recovered(doc, tmp_path, autosaved):
    doc.add_object("Car")
    project = save(doc, tmp_path / "p.s2s")
    folder = tmp_path / "autosave"
    _killed(project, folder, 0.0 if autosaved else 3600.0)

    (session,) = interrupted_sessions(folder)
    recovered = session.recover()
    rng = np.random.default_rng(0)
    expected = {f: rng.random((48, 64)) > 0.5 for f in range(30)}
    assert recovered.mask_frames(1) == list(range(30))
    for f, m in expected.items():
        assert np.array_equal(recovered.mask(1, f), m)
    added = [o for o in recovered.objects if o.name == "Added after the autosave"]
    assert len(added) == 1 and np.array_equal(recovered.mask(added[0].id, 2), rng.random((48, 64)) > 0.5)
    assert bool(recovered.prompts(1, 4)) == autosaved  # prompts come from the autosave
    assert recovered.dirty and recovered.path == project
    assert load(project).mask_frames(1) == []  # the user's file is untouched

    # the recovered document keeps its masks in the same store and takes the session over
    auto = Autosaver(recovered, folder, adopt=session)
    assert auto.store is recovered.mask_store and auto.store.path == session.store_path
    recovered.set_mask(1, 0, disc(5, 5, 3))
    save(recovered, tmp_path / "r.s2s")
    auto.close()
    assert np.array_equal(load(tmp_path / "r.s2s").mask(1, 29), expected[29])
    assert interrupted_sessions(folder) == []


def test_an_abandoned_store_without_a_project_is_not_offered(tmp_path):
    folder = tmp_path / "autosave" / "dead"
    folder.mkdir(parents=True)
    (folder / "lock").touch()
    MaskStore(folder / "masks.sqlite").close()
    assert interrupted_sessions(tmp_path / "autosave") == [] and not folder.exists()


def test_a_damaged_store_leaves_the_autosave_recoverable(doc, tmp_path):
    doc.add_object("Car")
    project = save(doc, tmp_path / "p.s2s")
    folder = tmp_path / "autosave"
    _killed(project, folder, 0.0)
    (session,) = interrupted_sessions(folder)
    for suffix in ("-wal", "-shm"):
        Path(str(session.store_path) + suffix).unlink(missing_ok=True)
    session.store_path.write_bytes(b"not a database" * 100)
    recovered = session.recover()
    assert recovered.prompts(1, 4) and recovered.object(1).name == "Car"
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(str(session.store_path)).execute("SELECT * FROM blobs").fetchall()
