import numpy as np
import pytest

from sam2_studio.project import (BoxPrompt, BrushStroke, Document, EncodedMask, MasksEvent,
                                 ObjectEvent, PointPrompt, ProjectError, PromptsEvent)

from .conftest import FRAMES, H, W, disc, state


def test_objects_add_rename_recolour_hide_lock_delete_and_undo(doc):
    events = []
    doc.events.objects.connect(events.append)
    car = doc.add_object("Car")
    dog = doc.add_object()
    assert (car.id, dog.id, dog.name) == (1, 2, "Object 2") and car.color != dog.color
    doc.update_object(car.id, name="  Red car ", color="#ff0000")
    assert doc.object(car.id).name == "Red car" and doc.object(car.id).color == (255, 0, 0)
    doc.update_object(car.id, visible=False)
    assert doc.history.undo_label == "Hide Red car"
    doc.update_object(car.id, effects=[{"kind": "blur", "radius": 4}], refinement={"feather": 2})
    assert doc.object(car.id).effects.value == [{"kind": "blur", "radius": 4}]
    doc.object(car.id).effects.value.append("tamper")          # a copy: the doc is unchanged
    assert len(doc.object(car.id).effects.value) == 1
    doc.add_point(car.id, 3, 10, 10)
    doc.set_mask(car.id, 3, disc(10, 10, 5))
    before_delete = state(doc)
    doc.remove_object(car.id)
    assert [o.id for o in doc.objects] == [dog.id] and doc.mask(car.id, 3) is None
    doc.undo()
    assert state(doc) == before_delete and [o.id for o in doc.objects] == [car.id, dog.id]
    assert ObjectEvent(car.id, "removed") in events and events[-1] == ObjectEvent(car.id, "added")
    while doc.undo():
        pass
    assert doc.objects == () and not doc.dirty
    third = doc.add_object()
    assert third.id == 3                      # ids are never reused


def test_bad_object_edits_are_refused(doc):
    obj = doc.add_object()
    for kw in ({"name": " "}, {"color": "red"}, {"color": (1, 2, 300)}, {"effects": {1, 2}},
               {"refinement": float("nan")}):
        with pytest.raises(ProjectError):
            doc.update_object(obj.id, **kw)
    with pytest.raises(ProjectError, match="no object 99"):
        doc.update_object(99, name="x")
    assert doc.history.steps == 1


def test_an_object_can_keep_an_id_from_elsewhere_but_never_reuse_one(doc):
    car = doc.add_object("Car", object_id=7)
    assert car.id == 7 and car.name == "Car" and doc.add_object().id == 8
    doc.undo()
    doc.undo()
    for taken in (7, 8, 3, 0, True, "9"):                 # used before, or not an id
        with pytest.raises(ProjectError):
            doc.add_object(object_id=taken)
    assert doc.add_object(object_id=9).id == 9 and doc.next_ids[0] == 10


def test_prompts_add_move_remove_with_undo(doc):
    seen = []
    doc.events.prompts.connect(seen.append)
    obj = doc.add_object()
    p = doc.add_point(obj.id, 5, 10.5, 20.25)
    n = doc.add_point(obj.id, 5, 30, 20, positive=False)
    b = doc.add_box(obj.id, 5, 40, 30, 2, 4)
    assert b == BoxPrompt(b.id, 2, 4, 40, 30)
    b2 = doc.add_box(obj.id, 5, 1, 1, 9, 9)               # one box per frame: replaces
    assert doc.prompts(obj.id, 5) == (p, n, b2)
    moved = doc.move_prompt(obj.id, 5, p.id, 1, -1)
    assert moved == PointPrompt(p.id, 11.5, 19.25, True)
    doc.remove_prompt(obj.id, 5, n.id)
    assert doc.prompts(obj.id, 5) == (moved, b2) and doc.prompt_frames(obj.id) == [5]
    doc.clear_prompts(obj.id, 5)
    assert doc.prompt_frames(obj.id) == []
    doc.undo()
    assert doc.prompts(obj.id, 5) == (moved, b2)
    doc.undo()
    assert doc.prompts(obj.id, 5) == (moved, n, b2)
    doc.undo()
    assert doc.prompts(obj.id, 5) == (p, n, b2)
    assert seen[-1] == PromptsEvent(obj.id, 5)


def test_bad_prompts_are_refused(doc):
    obj = doc.add_object()
    with pytest.raises(ProjectError, match="outside the 64×48 frame"):
        doc.add_point(obj.id, 0, W + 1, 0)
    with pytest.raises(ProjectError, match="frame 30 is outside"):
        doc.add_point(obj.id, FRAMES, 1, 1)
    with pytest.raises(ProjectError, match="finite"):
        doc.add_point(obj.id, 0, float("nan"), 1)
    with pytest.raises(ProjectError, match="width and a height"):
        doc.add_box(obj.id, 0, 5, 5, 5, 9)
    with pytest.raises(ProjectError, match="no prompt 42"):
        doc.remove_prompt(obj.id, 0, 42)
    assert doc.history.steps == 1


def test_locked_objects_keep_their_prompts_and_masks(doc):
    obj = doc.add_object("Car")
    doc.update_object(obj.id, locked=True)
    for edit in (lambda: doc.add_point(obj.id, 0, 1, 1),
                 lambda: doc.set_mask(obj.id, 0, disc(5, 5, 2)),
                 lambda: doc.begin_stroke(obj.id, 0, 3),
                 lambda: doc.remove_object(obj.id)):
        with pytest.raises(ProjectError, match="Car is locked"):
            edit()
    doc.update_object(obj.id, name="Still renamable")


def test_masks_are_exact_through_undo_and_redo(doc):
    obj = doc.add_object()
    first = disc(20, 20, 8)
    doc.set_mask(obj.id, 0, first)
    doc.set_mask(obj.id, 0, disc(30, 20, 8))
    doc.set_mask(obj.id, 0, None, label="Clear mask")
    assert doc.mask(obj.id, 0) is None
    doc.undo()
    doc.undo()
    assert np.array_equal(doc.mask(obj.id, 0), first)
    with pytest.raises(ProjectError, match="does not fit"):
        doc.set_mask(obj.id, 0, np.zeros((H, W + 1), bool))


def test_a_propagation_run_is_one_step_and_undo_restores_the_masks_before(doc):
    obj = doc.add_object()
    other = doc.add_object()
    for f in (3, 4):
        doc.set_mask(obj.id, f, disc(10 + f, 10, 4))       # earlier work
    before = state(doc)
    events = []
    doc.events.masks.connect(events.append)
    with doc.edit_group("Propagate"):
        for f in range(FRAMES):
            doc.set_masks({(obj.id, f): disc(30, 20 + f % 5, 10), (other.id, f): disc(5, 5, 3)})
    assert len(events) == 2 * FRAMES                      # shown frame by frame
    assert doc.history.steps == 5 and doc.history.undo_label == "Propagate"
    after = state(doc)
    events.clear()
    doc.undo()
    assert state(doc) == before
    assert sorted(events, key=lambda e: e.object_id) == [
        MasksEvent(obj.id, tuple(range(FRAMES))), MasksEvent(other.id, tuple(range(FRAMES)))]
    doc.redo()
    assert state(doc) == after


def test_a_model_answer_can_amend_the_click(doc):
    obj = doc.add_object()
    doc.add_point(obj.id, 2, 10, 10)
    doc.set_mask(obj.id, 2, disc(10, 10, 4), amend=True)
    assert doc.history.steps == 2
    doc.undo()
    assert doc.prompts(obj.id, 2) == () and doc.mask(obj.id, 2) is None


def test_brush_stroke_is_one_step(doc):
    obj = doc.add_object()
    doc.set_mask(obj.id, 0, disc(10, 10, 3))
    before = state(doc)
    stroke = doc.begin_stroke(obj.id, 0, radius=2)
    for x in range(10, 50, 2):
        stroke.add_points((x, 30))
    stroke.finish()
    mask = doc.mask(obj.id, 0)
    assert mask[30, 10:49].all() and mask[10, 10] and not mask[40, 40]
    (painted,) = doc.prompts(obj.id, 0)
    assert isinstance(painted, BrushStroke) and len(painted.points) == 20
    assert doc.history.undo_label == "Brush stroke"
    nbytes_one_stroke = doc.history.nbytes
    doc.undo()
    assert state(doc) == before
    doc.redo()
    eraser = doc.begin_stroke(obj.id, 0, radius=3, erase=True)
    eraser.add_points((10, 10))
    eraser.finish()
    assert not doc.mask(obj.id, 0)[10, 10] and doc.history.undo_label == "Erase"
    assert nbytes_one_stroke < 5000                       # 20 dabs, one mask before and after
    cancelled = doc.begin_stroke(obj.id, 1, radius=3)
    cancelled.add_points((5, 5), (6, 6))
    cancelled.cancel()
    assert doc.mask(obj.id, 1) is None and doc.prompts(obj.id, 1) == ()


def test_random_edit_sequences_undo_and_redo_exactly(doc):
    """Property test: after any sequence of edits, undoing k steps gives the state seen k
    steps ago, and redoing them gives each later state again."""
    rng = np.random.default_rng(7)
    states = [state(doc)]
    objects = [doc.add_object().id]
    states.append(state(doc))
    for _ in range(60):
        op = rng.integers(0, 7)
        oid = int(rng.choice(objects)) if objects else None
        f = int(rng.integers(0, FRAMES))
        if op == 0 or oid is None:
            objects.append(doc.add_object().id)
        elif op == 1:
            doc.add_point(oid, f, float(rng.uniform(0, W)), float(rng.uniform(0, H)))
        elif op == 2:
            doc.set_mask(oid, f, rng.random((H, W)) > 0.7)
        elif op == 3:
            with doc.edit_group("Propagate"):
                for g in range(f, min(f + 5, FRAMES)):
                    doc.set_mask(oid, g, disc(rng.uniform(0, W), rng.uniform(0, H), 6))
        elif op == 4 and len(objects) > 1:
            doc.remove_object(oid)
            objects.remove(oid)
        elif op == 5:
            s = doc.begin_stroke(oid, f, radius=float(rng.uniform(1, 5)), erase=bool(rng.integers(2)))
            s.add_points(*[(float(x), float(y)) for x, y in rng.uniform(0, 40, (4, 2))])
            s.finish()
        else:
            doc.update_object(oid, name=f"n{rng.integers(100)}", color=tuple(int(c) for c in rng.integers(0, 256, 3)))
        states.append(state(doc))
    steps = doc.history.steps
    for k in range(1, steps + 1):
        doc.undo()
        assert state(doc) == states[-1 - k]
    for k in range(steps, 0, -1):
        doc.redo()
        assert state(doc) == states[-k]


def test_settings_and_relink_guard(doc, tmp_path):
    doc.set_frame_range(5, 20)
    assert (doc.frame_range.first, doc.frame_range.last) == (5, 20)
    with pytest.raises(ProjectError, match="after the out point"):
        doc.set_frame_range(20, 5)
    doc.set_model_variant("sam2.1_hiera_tiny")
    doc.undo()
    assert doc.model_variant is None
    doc.undo()
    assert not doc.has_frame_range and doc.frame_range.last == FRAMES - 1


def test_history_events_drive_undo_menu_items(doc):
    seen = []
    doc.events.history.connect(seen.append)
    obj = doc.add_object("Car")
    assert seen[-1].can_undo and seen[-1].undo_label == "Add Car" and seen[-1].dirty
    doc.undo()
    assert seen[-1].redo_label == "Add Car" and not seen[-1].dirty
    assert doc.title() == "clip"


def test_encoded_masks_can_be_passed_through(doc):
    obj = doc.add_object()
    enc = EncodedMask.encode(disc(5, 5, 3))
    doc.set_mask(obj.id, 1, enc)
    assert doc.encoded_mask(obj.id, 1) is enc


def test_history_memory_is_bounded_and_holds_compressed_masks(video):
    doc = Document(video, max_history_bytes=60_000, max_history_steps=1000)
    obj = doc.add_object()
    rng = np.random.default_rng(3)
    for run in range(40):
        with doc.edit_group("Propagate"):
            for f in range(FRAMES):
                doc.set_mask(obj.id, f, disc(rng.uniform(10, 50), rng.uniform(10, 40), 8))
        assert doc.history.nbytes <= 60_000
    raw_per_run = 2 * FRAMES * W * H        # a bool array before and after, per frame
    assert 2 <= doc.history.steps < 40
    assert doc.history.nbytes < doc.history.steps * raw_per_run / 10
    while doc.undo():
        pass
    assert doc.mask_frames(obj.id) == list(range(FRAMES))   # the oldest runs were let go
