"""Change notifications without Qt: a tiny typed signal, and the events a document emits.

Listeners run synchronously on the thread that made the change, after the document is
consistent again, so a listener may read anything. Bound methods are held weakly (a closed
widget does not stay alive through the document); plain functions and lambdas strongly.
One failing listener is logged and does not stop the others, nor undo the edit.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Signal(Generic[T]):
    """A list of callbacks taking one value."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._slots: list[Callable[[], Callable[[T], object] | None]] = []
        self._blocked = 0

    def connect(self, callback: Callable[[T], object]) -> Callable[[], None]:
        """Add ``callback``; returns a function that disconnects it."""
        if hasattr(callback, "__self__") and hasattr(callback, "__func__"):
            ref: Callable[[], Callable[[T], object] | None] = weakref.WeakMethod(callback)  # type: ignore[arg-type]
        else:
            ref = lambda cb=callback: cb  # noqa: E731
        self._slots.append(ref)
        return lambda: self._remove(ref)

    def disconnect(self, callback: Callable[[T], object]) -> None:
        for ref in list(self._slots):
            if ref() == callback:
                self._remove(ref)

    def _remove(self, ref: Callable[[], object]) -> None:
        if ref in self._slots:
            self._slots.remove(ref)

    def __len__(self) -> int:
        return sum(1 for ref in self._slots if ref() is not None)

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """Silence this signal for the duration (listeners are told nothing afterwards)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1

    def emit(self, value: T) -> None:
        if self._blocked:
            return
        dead = False
        for ref in list(self._slots):
            callback = ref()
            if callback is None:
                dead = True
                continue
            try:
                callback(value)
            except Exception:  # a listener's bug must not corrupt the edit that is under way
                log.exception("listener %r of %s failed", callback, self.name or "a signal")
        if dead:
            self._slots = [ref for ref in self._slots if ref() is not None]


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """An object was added, removed, or changed (name, colour, visibility, lock, effects)."""

    object_id: int
    kind: Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class PromptsEvent:
    """The prompts of one object on one frame changed."""

    object_id: int
    frame: int


@dataclass(frozen=True, slots=True)
class MasksEvent:
    """Masks of one object changed on these frames (sorted); a propagation sends one per
    frame while it runs, an undo of it one for all frames."""

    object_id: int
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReviewEvent:
    """The model's evidence, or the checked marks, of one object changed on these frames."""

    object_id: int
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """What Undo and Redo menu items should show."""

    can_undo: bool
    can_redo: bool
    undo_label: str | None
    redo_label: str | None
    dirty: bool


class DocumentEvents:
    """The signals of a document, one per kind of change."""

    def __init__(self) -> None:
        self.objects: Signal[ObjectEvent] = Signal("objects")
        self.prompts: Signal[PromptsEvent] = Signal("prompts")
        self.masks: Signal[MasksEvent] = Signal("masks")
        # "frame_range", "model_variant", "memory_policy", "review_threshold" or "video"
        self.settings: Signal[str] = Signal("settings")
        self.review: Signal[ReviewEvent] = Signal("review")
        self.history: Signal[HistoryEvent] = Signal("history")
        # the disk store of masks refused a write (a full disk): what to tell the user
        self.storage: Signal[str] = Signal("storage")
