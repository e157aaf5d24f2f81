from dataclasses import dataclass

import pytest

from sam2_studio.project.history import Command, History


class Target:
    def __init__(self):
        self.values: dict[str, int] = {}


@dataclass
class Set(Command):
    key: str
    before: int | None
    after: int
    size: int = 100
    label: str = "set"

    def apply(self, t):
        t.values[self.key] = self.after

    def revert(self, t):
        if self.before is None:
            t.values.pop(self.key, None)
        else:
            t.values[self.key] = self.before

    @property
    def nbytes(self):
        return self.size

    def merge(self, other):
        if isinstance(other, Set) and other.key == self.key:
            self.after = other.after
            return True
        return False


def setter(h, t, key, value, size=100, **kw):
    h.execute(Set(key, t.values.get(key), value, size), **kw)


def test_undo_redo_and_new_edit_drops_redo():
    t = Target()
    h = History(t)
    setter(h, t, "a", 1)
    setter(h, t, "a", 2)
    assert h.undo() == "set" and t.values == {"a": 1}
    assert h.redo() and t.values == {"a": 2}
    h.undo()
    setter(h, t, "b", 5)
    assert not h.can_redo and h.redo() is None
    h.undo(), h.undo()
    assert t.values == {} and h.undo() is None


def test_bounded_by_steps_and_bytes_keeping_the_newest():
    t = Target()
    h = History(t, max_steps=3, max_bytes=10_000)
    for i in range(10):
        setter(h, t, f"k{i}", i)
    assert h.steps == 3 and h.nbytes == 300
    h = History(t, max_steps=100, max_bytes=1000)
    for i in range(30):
        setter(h, t, f"k{i}", i, size=300)
    assert h.nbytes <= 1000 and h.steps == 3
    setter(h, t, "huge", 1, size=50_000)   # alone over budget: still undoable
    assert h.steps == 1 and h.undo_label == "set"
    h.undo()
    assert "huge" not in t.values


def test_dirty_follows_undo_redo_and_saves():
    t = Target()
    h = History(t, max_steps=2)
    assert not h.dirty
    setter(h, t, "a", 1)
    assert h.dirty
    h.undo()
    assert not h.dirty
    h.redo()
    h.mark_saved()
    assert not h.dirty
    setter(h, t, "a", 2)
    setter(h, t, "a", 3)   # the saved step falls off the bottom
    assert h.dirty
    h.undo()
    assert h.dirty          # state "a=2" was never saved
    h.mark_unsaved()
    h.undo()
    assert h.dirty and h.undo() is None


def test_groups_merge_into_one_step_and_nest():
    t = Target()
    h = History(t)
    with h.group("stroke"):
        for i in range(50):
            setter(h, t, "m", i)
        with h.group("inner"):
            setter(h, t, "n", 1)
        assert h.in_group and h.dirty and not h.can_undo
        with pytest.raises(RuntimeError):
            h.undo()
    assert h.steps == 1 and h.undo_label == "stroke"
    assert h.nbytes < 400     # 50 merged setters hold one before/after
    h.undo()
    assert t.values == {}
    h.redo()
    assert t.values == {"m": 49, "n": 1}


def test_an_exception_in_a_group_reverts_it():
    t = Target()
    h = History(t)
    setter(h, t, "a", 1)
    with pytest.raises(KeyError):
        with h.group("bad"):
            setter(h, t, "a", 2)
            setter(h, t, "b", 2)
            raise KeyError("boom")
    assert t.values == {"a": 1} and h.steps == 1 and not h.in_group


def test_cancel_and_empty_groups():
    t = Target()
    h = History(t)
    h.begin_group("x")
    setter(h, t, "a", 1)
    h.cancel_group()
    assert t.values == {} and h.steps == 0
    with h.group("empty"):
        pass
    assert h.steps == 0 and not h.dirty


def test_amend_joins_the_step_on_top():
    t = Target()
    h = History(t)
    setter(h, t, "click", 1)
    setter(h, t, "mask", 7, amend=True)
    assert h.steps == 1
    h.undo()
    assert t.values == {}
