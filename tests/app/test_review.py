"""The live review over a document: verdicts kept until something changes, suspects in
order across objects, next and previous, and tracking results written with their evidence."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from sam2_studio.app.review import Review, evidence_of, record_result
from sam2_studio.project import Document, VideoInfo

W, H, N = 64, 48, 20


def square(x: int, y: int = 10, side: int = 10) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y:y + side, x:x + side] = True
    return m


def tracked_doc(faults: dict[int, dict[int, np.ndarray]], video: VideoInfo | None = None) -> Document:
    """Two objects tracked over the first N frames; ``faults``: object index -> frame -> mask."""
    doc = Document(video or VideoInfo(Path("/clip.mp4"), W, H, N, Fraction(24), 1, "sha256:x"))
    ids = [doc.add_object().id, doc.add_object().id]
    with doc.edit_group("Track"):
        for f in range(N):
            masks = {ids[0]: square(10), ids[1]: square(40, 30)}
            for k, frames in faults.items():
                if f in frames:
                    masks[ids[k]] = frames[f]
            quality = {i: SimpleNamespace(object_score=8.0, iou=0.93, agreement=0.9) for i in ids}
            record_result(doc, f, masks, quality, "Track")
    return doc


def test_suspects_in_order_and_stepping_through_them():
    empty = np.zeros((H, W), bool)
    doc = tracked_doc({0: {4: empty, 12: square(10, side=6)}, 1: {4: square(5, 30)}})
    a, b = (o.id for o in doc.objects)
    review = Review(doc)
    assert [(s.frame, s.object_id) for s in review.suspects()] == [(4, a), (4, b), (12, a)]
    assert review.next(0, a).frame == 4
    assert (review.next(4, a).frame, review.next(4, a).object_id) == (4, b)
    assert review.next(4, b).frame == 12 and review.next(12, a) is None
    assert (review.next(12, a, forward=False).object_id, review.next(4, a, forward=False)) == (b, None)
    assert review.next(4, None).object_id == a  # no active object: the first one here
    assert [s.object_id for s in review.at(4)] == [a, b] and review.counts() == (3, 0)

    changes = []
    review.changed.connect(changes.append)
    doc.set_checked([(b, 4)])
    assert changes == [b] and review.counts() == (2, 1)
    assert [s.frame for s in review.suspects(include_checked=True)] == [4, 4, 12]
    doc.set_review_threshold(0.0)  # nothing is below nothing
    assert changes[-1] is None and review.suspects() == []
    review.close()
    doc.undo()
    assert changes[-1] is None  # closed: no longer listening


def test_results_are_recorded_with_their_evidence_in_one_step():
    doc = tracked_doc({})
    a = doc.objects[0].id
    assert doc.evidence(a, 3).iou == 0.93 and doc.history.undo_label == "Track"
    assert evidence_of(SimpleNamespace(object_score=float("-inf"), iou=None, agreement=float("nan"))) \
        .object_score is None
    doc.undo()
    assert doc.evidence(a, 3) is None and doc.mask(a, 3) is None


def test_info_names_the_memory_and_the_suspect_frames(tmp_path):
    import json

    from sam2_studio.project import save
    from tests.app.test_cli import call
    from tests.project.conftest import make_video_file, video_info

    doc = tracked_doc({0: {7: np.zeros((H, W), bool)}}, video_info(make_video_file(tmp_path / "clip.mp4")))
    doc.set_memory_policy("distractor_aware")
    path = save(doc, tmp_path / "p.s2s")
    code, out, _ = call(["info", str(path), "--json"])
    info = json.loads(out)
    assert code == 0 and info["memory"] == "distractor_aware"
    assert [o["suspect_frames"] for o in info["objects"]] == [[7], []]
    code, out, _ = call(["info", str(path)])
    assert "memory distractor_aware" in out and "1 suspect frame: 7, 0 checked" in out and "0 suspect frames, 0 checked" in out
