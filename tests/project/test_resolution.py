"""The working resolution: per project, undoable, saved; which resolution made each tracked frame."""

from __future__ import annotations

import json
import zipfile

import pytest

from sam2_studio.project import ProjectError, load, save
from sam2_studio.project.resolution import (RESOLUTIONS, TrackedAt, check_resolution, describe,
                                            describe_size, to_ranges)


def test_the_presets_and_their_words():
    assert RESOLUTIONS == {"full": 1024, "balanced": 768, "draft": 512}
    assert describe("draft") == "Draft 512" and describe_size(768) == "Balanced 768"
    assert describe_size(256) == "256 px"
    with pytest.raises(ValueError, match="unknown working resolution"):
        check_resolution("ultra")


def test_tracked_frames_move_between_resolutions():
    t = TrackedAt().with_frames("full", range(0, 10))
    assert t.ranges == (("full", ((0, 9),)),) and not t.mixed
    t = t.with_frames("draft", [4, 5, 6])
    assert t.as_dict() == {"full": {0, 1, 2, 3, 7, 8, 9}, "draft": {4, 5, 6}}
    assert t.mixed and t.count("full") == 7 and t.count() == 10
    assert t.other_than("draft") == ((0, 3), (7, 9))
    assert t.without_frames(range(10)) == TrackedAt()
    assert to_ranges([5, 1, 2, 3]) == ((1, 3), (5, 5))
    assert TrackedAt.from_json(t.to_json(), 10) == t
    with pytest.raises(ValueError, match="not a frame range"):
        TrackedAt.from_json({"full": [[3, 20]]}, 10)


def test_changing_the_resolution_marks_tracked_frames_stale_and_undoes(doc):
    obj = doc.add_object("Car")
    doc.update_object(obj.id, tracked_at=TrackedAt().with_frames("full", range(5, 12)))
    assert doc.working_resolution == "full" and doc.resolution_stale() == {}
    doc.set_working_resolution("draft")
    assert doc.working_resolution == "draft"
    assert doc.resolution_stale() == {obj.id: ((5, 11),)}
    assert doc.history.undo_label == "Working resolution: Draft"
    doc.undo()
    assert doc.working_resolution == "full" and doc.resolution_stale() == {}
    with pytest.raises(ProjectError, match="unknown working resolution"):
        doc.set_working_resolution("huge")


def test_saved_and_read_back_and_old_projects_open_at_full(doc, tmp_path):
    obj = doc.add_object("Car")
    doc.update_object(obj.id, tracked_at=TrackedAt().with_frames("balanced", [1, 2, 3]).with_frames("full", [9]))
    doc.set_working_resolution("balanced")
    path = save(doc, tmp_path / "p.s2s")
    back = load(path)
    assert back.working_resolution == "balanced"
    assert back.object(obj.id).tracked_at == doc.object(obj.id).tracked_at
    assert back.resolution_stale() == {obj.id: ((9, 9),)}
    # A project written before the working resolution existed: no keys at all.
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(entries["manifest.json"])
    del manifest["working_resolution"]
    for o in manifest["objects"]:
        del o["tracked_at"]
    old = tmp_path / "old.s2s"
    with zipfile.ZipFile(old, "w") as z:
        for name, data in entries.items():
            z.writestr(name, json.dumps(manifest) if name == "manifest.json" else data)
    legacy = load(old)
    assert legacy.working_resolution == "full" and legacy.object(obj.id).tracked_at == TrackedAt()
    manifest["working_resolution"] = "tiny"
    bad = tmp_path / "bad.s2s"
    with zipfile.ZipFile(bad, "w") as z:
        for name, data in entries.items():
            z.writestr(name, json.dumps(manifest) if name == "manifest.json" else data)
    with pytest.raises(ProjectError, match="working_resolution"):
        load(bad)
