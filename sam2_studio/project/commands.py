"""The document's commands: each knows how to do and undo one kind of edit exactly.

They act through the document's private ``_put_*`` methods, which change state and emit
events; they never validate (the document did that before building them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sam2_studio.project.history import Command
from sam2_studio.project.mask_store import AnyMask
from sam2_studio.project.objects import TrackedObject
from sam2_studio.project.prompts import Prompt, prompt_nbytes

if TYPE_CHECKING:
    from sam2_studio.project.document import Document

MaskKey = tuple[int, int]  # (object id, frame)


@dataclass
class AddObject(Command):
    obj: TrackedObject
    label: str = "Add object"

    def apply(self, doc: Document) -> None:
        doc._put_object(self.obj)

    def revert(self, doc: Document) -> None:
        doc._take_object(self.obj.id)

    @property
    def nbytes(self) -> int:
        return self.obj.nbytes


@dataclass
class RemoveObject(Command):
    """Keeps everything the object had (prompts, masks, place in the list) to put it back."""

    obj: TrackedObject
    index: int
    prompts: dict[int, tuple[Prompt, ...]]
    masks: dict[int, AnyMask]
    label: str = "Delete object"

    def apply(self, doc: Document) -> None:
        doc._take_object(self.obj.id)

    def revert(self, doc: Document) -> None:
        doc._put_object(self.obj, self.index, self.prompts, self.masks)

    @property
    def nbytes(self) -> int:
        return (self.obj.nbytes + sum(m.nbytes for m in self.masks.values())
                + sum(prompt_nbytes(p) for ps in self.prompts.values() for p in ps))


@dataclass
class ChangeObject(Command):
    """Rename, recolour, show/hide, lock, or change effects or refinement settings."""

    before: TrackedObject
    after: TrackedObject
    label: str = "Change object"

    def apply(self, doc: Document) -> None:
        doc._replace_object(self.after)

    def revert(self, doc: Document) -> None:
        doc._replace_object(self.before)

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes

    def merge(self, other: Command) -> bool:
        if isinstance(other, ChangeObject) and other.before.id == self.before.id:
            self.after = other.after
            return True
        return False


@dataclass
class SetPrompts(Command):
    object_id: int
    frame: int
    before: tuple[Prompt, ...]
    after: tuple[Prompt, ...]
    label: str = "Edit prompts"

    def apply(self, doc: Document) -> None:
        doc._put_prompts(self.object_id, self.frame, self.after)

    def revert(self, doc: Document) -> None:
        doc._put_prompts(self.object_id, self.frame, self.before)

    @property
    def nbytes(self) -> int:
        return 64 + sum(prompt_nbytes(p) for p in self.before + self.after)

    def merge(self, other: Command) -> bool:
        if (isinstance(other, SetPrompts) and other.object_id == self.object_id
                and other.frame == self.frame):
            self.after = other.after
            return True
        return False

    def commutes_with(self, other: Command) -> bool:
        return isinstance(other, SetMasks) or (
            isinstance(other, SetPrompts)
            and (other.object_id, other.frame) != (self.object_id, self.frame))


@dataclass
class SetMasks(Command):
    """Masks replaced on any number of (object, frame) pairs: a correction, a brush stroke,
    a whole propagation run. ``None`` is "no mask"."""

    changes: dict[MaskKey, tuple[AnyMask | None, AnyMask | None]] = field(default_factory=dict)
    label: str = "Edit masks"
    _nbytes: int = -1

    def apply(self, doc: Document) -> None:
        doc._put_masks({key: after for key, (_, after) in self.changes.items()})

    def revert(self, doc: Document) -> None:
        doc._put_masks({key: before for key, (before, _) in self.changes.items()})

    @property
    def nbytes(self) -> int:
        if self._nbytes < 0:
            self._nbytes = 64 + sum(
                80 + (b.nbytes if b else 0) + (a.nbytes if a else 0)
                for b, a in self.changes.values())
        return self._nbytes

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetMasks):
            return False
        for key, (before, after) in other.changes.items():
            if key in self.changes:
                before = self.changes[key][0]
            self.changes[key] = (before, after)
        self._nbytes = -1
        return True

    def commutes_with(self, other: Command) -> bool:
        return isinstance(other, SetPrompts)


@dataclass
class SetReview(Command):
    """Review data replaced on (object, frame) pairs: the model's evidence about masks
    (``store="evidence"``) or frames a person marked checked (``store="checked"``). ``None``
    deletes. Rides in the same step as the masks it describes."""

    store: str
    changes: dict[MaskKey, tuple[Any, Any]] = field(default_factory=dict)
    label: str = "Review"

    def apply(self, doc: Document) -> None:
        doc._put_review(self.store, {key: after for key, (_, after) in self.changes.items()})

    def revert(self, doc: Document) -> None:
        doc._put_review(self.store, {key: before for key, (before, _) in self.changes.items()})

    @property
    def nbytes(self) -> int:
        return 64 + 160 * len(self.changes)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetReview) or other.store != self.store:
            return False
        for key, (before, after) in other.changes.items():
            if key in self.changes:
                before = self.changes[key][0]
            self.changes[key] = (before, after)
        return True

    def commutes_with(self, other: Command) -> bool:
        return isinstance(other, SetMasks | SetPrompts) or (
            isinstance(other, SetReview) and other.store != self.store)


@dataclass
class SetSetting(Command):
    """A document-wide value: in/out points, model variant, memory, review threshold, the
    video's location."""

    name: str
    before: Any
    after: Any
    label: str = "Change setting"

    def apply(self, doc: Document) -> None:
        doc._put_setting(self.name, self.after)

    def revert(self, doc: Document) -> None:
        doc._put_setting(self.name, self.before)

    @property
    def nbytes(self) -> int:
        return 200

    def merge(self, other: Command) -> bool:
        if isinstance(other, SetSetting) and other.name == self.name:
            self.after = other.after
            return True
        return False
