"""What the document keeps for review: the model's evidence (bound to the mask it describes),
mask geometry, checked frames, the tracking memory and the confidence threshold; all
undoable, all saved, and old projects still open."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from sam2_studio.project import ProjectError, load, save
from sam2_studio.project.quality import Evidence, GeometryCache, decode_rows, geometry_of
from tests.project.conftest import FRAMES, H, W, disc


def test_geometry_of_a_mask():
    m = disc(20, 10, 5)
    g = geometry_of(m)
    ys, xs = np.nonzero(m)
    assert g.area == xs.size
    assert g.cx == pytest.approx(xs.mean() + 0.5) and g.cy == pytest.approx(ys.mean() + 0.5)
    assert g.box == (xs.min(), ys.min(), xs.max(), ys.max())
    empty = geometry_of(np.zeros((H, W), bool))
    assert empty.empty and math.isnan(empty.cx) and empty.box == (-1, -1, -1, -1)


def test_evidence_describes_one_mask_through_paint_and_undo(doc):
    obj = doc.add_object().id
    with doc.edit_group("Track"):
        doc.set_mask(obj, 3, disc(20, 20, 6))
        doc.set_evidence({(obj, 3): Evidence(7.5, 0.91, 0.8)}, amend=True)
    assert doc.evidence(obj, 3) == Evidence(7.5, 0.91, 0.8, doc.evidence(obj, 3).mask)
    assert doc.mask_geometry(obj, 3).area == disc(20, 20, 6).sum()
    stroke = doc.begin_stroke(obj, 3, 3.0)  # painted over: the model's word no longer applies
    stroke.add_points((40.0, 40.0))
    stroke.finish()
    assert doc.evidence(obj, 3) is None
    assert doc.mask_geometry(obj, 3).area == doc.mask(obj, 3).sum()
    doc.undo()
    assert doc.evidence(obj, 3).iou == pytest.approx(0.91)
    doc.undo()  # the tracking step: masks and evidence go together
    assert doc.evidence(obj, 3) is None and doc.encoded_mask(obj, 3) is None
    doc.redo()
    assert doc.evidence(obj, 3).object_score == pytest.approx(7.5)


def test_a_propagation_group_keeps_one_mask_and_one_evidence_command(doc):
    obj = doc.add_object().id
    with doc.edit_group("Track forward"):
        for f in range(FRAMES):
            doc.set_masks({(obj, f): disc(10 + f, 20, 5)})
            doc.set_evidence({(obj, f): Evidence(5.0, 0.9, None)}, amend=True)
    step = doc.history._undo[-1][1]
    assert len(step.commands) == 2  # each kind merged into one, however many frames
    assert all(doc.evidence(obj, f) is not None for f in range(FRAMES))


def test_checked_frames_toggle_undo_and_follow_their_mask(doc):
    obj = doc.add_object().id
    doc.set_masks({(obj, f): disc(20, 20, 6) for f in range(5)})
    assert doc.set_checked([(obj, 1), (obj, 2), (obj, 9)]) == 2  # frame 9 has no mask
    assert doc.checked_frames(obj) == [1, 2] and doc.history.undo_label == "Mark checked (2 frames)"
    doc.set_checked([(obj, 2)], False)
    assert doc.checked_frames(obj) == [1]
    doc.undo()
    assert doc.checked_frames(obj) == [1, 2]
    doc.set_mask(obj, 1, disc(30, 20, 6))  # a new mask is not what was checked
    assert not doc.is_checked(obj, 1)
    doc.undo()
    assert doc.is_checked(obj, 1)
    doc.update_object(obj, locked=True)  # checking changes no mask: allowed on a locked object
    assert doc.set_checked([(obj, 3)]) == 1


def test_memory_and_threshold_settings(doc):
    assert doc.memory_policy == "sam2" and doc.review_threshold == 0.5
    doc.set_memory_policy("distractor_aware")
    assert doc.memory_policy == "distractor_aware" and doc.history.undo_label == "Choose tracking memory"
    doc.undo()
    assert doc.memory_policy == "sam2"
    with pytest.raises(ProjectError, match="unknown tracking memory"):
        doc.set_memory_policy("sam3")
    for v in (0.55, 0.6, 0.65):  # a slider dragged: one step
        doc.set_review_threshold(v)
    assert doc.review_threshold == 0.65
    doc.undo()
    assert doc.review_threshold == 0.5 and not doc.history.can_undo
    with pytest.raises(ProjectError):
        doc.set_review_threshold(2)


def test_round_trip_keeps_evidence_geometry_checks_memory_and_threshold(doc, tmp_path, monkeypatch):
    a, b = doc.add_object().id, doc.add_object().id
    doc.set_masks({(a, f): disc(10 + f, 20, 6) for f in range(6)})
    doc.set_evidence({(a, f): Evidence(6.0 + f, 0.9, 0.7 if f else None) for f in range(5)})
    doc.set_mask(b, 2, np.zeros((H, W), bool))
    doc.set_checked([(a, 3), (a, 4), (b, 2)])
    doc.set_memory_policy("distractor_aware")
    doc.set_review_threshold(0.62)
    path = save(doc, tmp_path / "p.s2s")
    back = load(path)
    assert back.memory_policy == "distractor_aware" and back.review_threshold == pytest.approx(0.62)
    assert back.checked_frames(a) == [3, 4] and back.checked_frames(b) == [2]
    for f in range(5):
        got = back.evidence(a, f)
        assert (got.object_score, got.iou) == (pytest.approx(6.0 + f), pytest.approx(0.9))
        assert got.agreement == (None if f == 0 else pytest.approx(0.7))
    assert back.evidence(a, 5) is None
    # the geometry comes from the file, not from decoding the masks again
    from sam2_studio.project import EncodedMask

    monkeypatch.setattr(EncodedMask, "decode", lambda self: pytest.fail("decoded a mask"))
    for f in range(6):
        got, want = back.mask_geometry(a, f), doc.mask_geometry(a, f)
        assert (got.area, got.box) == (want.area, want.box)
        assert (got.cx, got.cy) == (pytest.approx(want.cx), pytest.approx(want.cy))
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
        rows = decode_rows(z.read("quality/1.bin"))
    assert [r.frame for r in rows] == list(range(6)) and rows[5].evidence is None
    assert manifest["objects"][0]["checked"] == [[3, 4]]
    assert manifest["memory_policy"] == "distractor_aware"


def test_review_data_follows_masks_kept_in_a_disk_store(doc, tmp_path):
    """With the editor's mask store the document holds handles, not bytes: evidence, checks
    and geometry still recognise their masks (each handle's bytes read once), an undo brings
    them back, and a save writes them."""
    from sam2_studio.project.mask_store import MaskStore, StoredMask

    store = MaskStore(tmp_path / "masks.sqlite")
    try:
        doc.use_store(store)
        obj = doc.add_object().id
        with doc.edit_group("Track"):
            doc.set_masks({(obj, f): disc(10 + f, 20, 6) for f in range(4)})
            doc.set_evidence({(obj, f): Evidence(5.0 + f, 0.9, 0.8) for f in range(4)}, amend=True)
        assert isinstance(doc.encoded_mask(obj, 2), StoredMask)
        doc.set_checked([(obj, 1)])
        reads = []
        real = store.read
        store.read = lambda blob, cache=True: (reads.append(blob), real(blob, cache))[1]  # type: ignore[method-assign]
        for _ in range(3):
            assert [doc.evidence(obj, f).object_score for f in range(4)] == [5.0, 6.0, 7.0, 8.0]
            assert doc.is_checked(obj, 1) and doc.checked_frames(obj) == [1]
            assert doc.mask_geometry(obj, 3).area == disc(13, 20, 6).sum()
        assert len(reads) <= 4, "a handle's bytes were read again for its fingerprint"
        doc.set_mask(obj, 2, disc(30, 20, 6))  # painted over: no evidence for the new mask
        assert doc.evidence(obj, 2) is None
        doc.undo()
        assert doc.evidence(obj, 2).object_score == 7.0
        back = load(save(doc, tmp_path / "stored.s2s"))
        assert back.evidence(obj, 3).object_score == 8.0 and back.checked_frames(obj) == [1]
    finally:
        doc.use_store(None)
        store.close()


def _rewrite(path, change) -> None:  # noqa: ANN001
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(entries["manifest.json"])
    change(manifest, entries)
    entries["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)


def test_old_projects_open_with_defaults_and_damaged_review_data_is_left_out(doc, tmp_path):
    obj = doc.add_object().id
    doc.set_masks({(obj, f): disc(20, 20, 6) for f in range(3)})
    doc.set_evidence({(obj, 1): Evidence(4.0)})
    doc.set_checked([(obj, 1)])
    old = save(doc, tmp_path / "old.s2s")

    def strip(m, entries):  # noqa: ANN001, ANN202 - as written before this feature
        for key in ("memory_policy", "review"):
            m.pop(key)
        for o in m["objects"]:
            o.pop("quality"), o.pop("checked")
        entries.pop("quality/1.bin")

    _rewrite(old, strip)
    back = load(old)
    assert back.memory_policy == "sam2" and back.review_threshold == 0.5
    assert back.evidence(obj, 1) is None and back.checked_frames(obj) == []
    assert back.mask_geometry(obj, 1).area == disc(20, 20, 6).sum()  # computed from the mask

    damaged = save(doc, tmp_path / "damaged.s2s")
    _rewrite(damaged, lambda m, e: e.update({"quality/1.bin": b"\x01\x02\x03"}))
    back = load(damaged)  # the masks are intact: the project opens
    assert back.evidence(obj, 1) is None and back.mask(obj, 1).sum() == disc(20, 20, 6).sum()

    bad = save(doc, tmp_path / "bad.s2s")
    _rewrite(bad, lambda m, e: m.update(memory_policy="sam9"))
    with pytest.raises(ProjectError, match="memory_policy"):
        load(bad)


def test_the_geometry_cache_is_bounded_and_keyed_by_content(doc):
    cache = GeometryCache(capacity=2)
    from sam2_studio.project import EncodedMask

    masks = [EncodedMask.encode(disc(10 + 5 * i, 20, 4)) for i in range(3)]
    for m in masks:
        cache.get(m)
    assert len(cache) == 2
    again = EncodedMask.encode(disc(20, 20, 4))  # equal content, another object
    assert cache.get(again) == geometry_of(disc(20, 20, 4))
