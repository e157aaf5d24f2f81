"""Undo and redo: every edit is a command, kept in a history bounded in steps and bytes.

Commands hold what they need to go both ways (masks as ``EncodedMask``, so a step that
replaced a thousand masks costs about a thousand compressed masks, not gigabytes; with the
document's mask store, ``StoredMask`` handles: references, not copies, ~100 bytes each). Edits that
belong together (the dabs of one brush stroke, the frames of one propagation run) are grouped
into one step; inside a group a command merges into an earlier one of its kind, so a stroke of
two hundred dabs holds one mask before and one after.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_MAX_STEPS = 500
DEFAULT_MAX_BYTES = 256 << 20


class Command(ABC):
    """One reversible change of a target (the document). ``apply`` must not fail: the
    document validates an edit before it builds the command."""

    label: str = ""

    @abstractmethod
    def apply(self, target: Any) -> None: ...

    @abstractmethod
    def revert(self, target: Any) -> None: ...

    @property
    @abstractmethod
    def nbytes(self) -> int:
        """Memory held by the command, for the history's budget."""

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (applied just after this one) if the two can be one; say so."""
        return False

    def commutes_with(self, other: Command) -> bool:
        """Whether the two change disjoint state, so ``other`` may merge past this one."""
        return False


class Compound(Command):
    """Several commands as one step, applied in order and reverted in reverse."""

    def __init__(self, label: str, commands: list[Command] | None = None) -> None:
        self.label = label
        self.commands: list[Command] = list(commands or [])

    def apply(self, target: Any) -> None:
        for command in self.commands:
            command.apply(target)

    def revert(self, target: Any) -> None:
        for command in reversed(self.commands):
            command.revert(target)

    @property
    def nbytes(self) -> int:
        return 64 + sum(c.nbytes for c in self.commands)

    def merge(self, other: Command) -> bool:
        for child in reversed(self.commands):
            if child.merge(other):
                return True
            if not child.commutes_with(other):
                break
        self.commands.append(other)
        return True


class History:
    """The undo and redo stacks of one target.

    Bounds: at most ``max_steps`` steps and ``max_bytes`` bytes; the oldest steps go first.
    The newest step is always kept, even alone over the byte budget, so the last action can
    always be undone.

    Dirty tracking: every step has a serial number; the state of the target is named by the
    serial of the step on top of the undo stack. Saving records that name.
    """

    def __init__(self, target: Any, *, max_steps: int = DEFAULT_MAX_STEPS,
                 max_bytes: int = DEFAULT_MAX_BYTES,
                 on_change: Callable[[], None] | None = None) -> None:
        if max_steps < 1 or max_bytes < 0:
            raise ValueError("a history keeps at least one step")
        self._target = target
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._on_change = on_change or (lambda: None)
        self._undo: deque[tuple[int, Command]] = deque()
        self._redo: list[tuple[int, Command]] = []
        self._serial = 0
        self._base = 0          # the state when the undo stack is empty
        self._saved: int | None = 0
        self._nbytes = 0
        self._group: Compound | None = None
        self._depth = 0

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self) -> int:
        return self._undo[-1][0] if self._undo else self._base

    @property
    def dirty(self) -> bool:
        return self._group is not None or self.state != self._saved

    def mark_saved(self) -> None:
        if self._saved != self.state:
            self._saved = self.state
            self._on_change()

    def mark_unsaved(self) -> None:
        """No state of this history is on disk (a recovered autosave, say)."""
        self._saved = None
        self._on_change()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and self._group is None

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and self._group is None

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1][1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1][1].label if self._redo else None

    @property
    def steps(self) -> int:
        return len(self._undo) + len(self._redo)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    @property
    def in_group(self) -> bool:
        return self._group is not None

    # -- recording ------------------------------------------------------------------------
    def execute(self, command: Command, *, amend: bool = False) -> None:
        """Apply ``command`` and record it: into the open group, into the step on top when
        ``amend`` (a model's answer joining the click that asked for it), or as a new step."""
        command.apply(self._target)
        if self._group is not None:
            self._group.merge(command)
            return
        if amend and self._undo:
            serial, top = self._undo.pop()
            self._nbytes -= top.nbytes
            if not isinstance(top, Compound):
                top = Compound(top.label, [top])
            top.merge(command)
            self._push(top)
            return
        self._push(command)

    def begin_group(self, label: str) -> None:
        """Open a step that later edits join until ``end_group``; groups nest (the outer
        label wins)."""
        if self._group is None:
            self._group = Compound(label)
        self._depth += 1

    def end_group(self) -> None:
        if self._group is None:
            raise RuntimeError("end_group without begin_group")
        self._depth -= 1
        if self._depth:
            return
        group, self._group = self._group, None
        if len(group.commands) == 1:
            group.commands[0].label = group.label
            self._push(group.commands[0])
        elif group.commands:
            self._push(group)
        else:
            self._on_change()

    def cancel_group(self) -> None:
        """Revert and forget everything done in the open group (all nesting levels)."""
        if self._group is None:
            raise RuntimeError("cancel_group without begin_group")
        group, self._group, self._depth = self._group, None, 0
        group.revert(self._target)
        self._on_change()

    @contextmanager
    def group(self, label: str) -> Iterator[None]:
        """One step for everything done inside; an exception reverts it all."""
        self.begin_group(label)
        try:
            yield
        except BaseException:
            if self._group is not None:
                self.cancel_group()
            raise
        else:
            self.end_group()

    def _push(self, command: Command) -> None:
        self._serial += 1
        self._undo.append((self._serial, command))
        self._nbytes += command.nbytes
        for _, dropped in self._redo:
            self._nbytes -= dropped.nbytes
        self._redo.clear()
        while len(self._undo) > 1 and (len(self._undo) > self.max_steps
                                       or self._nbytes > self.max_bytes):
            serial, oldest = self._undo.popleft()
            self._nbytes -= oldest.nbytes
            self._base = serial
        self._on_change()

    # -- moving ---------------------------------------------------------------------------
    def undo(self) -> str | None:
        """Revert the last step; returns its label, or None when there is nothing to undo."""
        self._check_no_group("undo")
        if not self._undo:
            return None
        serial, command = self._undo.pop()
        command.revert(self._target)
        self._redo.append((serial, command))
        self._on_change()
        return command.label

    def redo(self) -> str | None:
        self._check_no_group("redo")
        if not self._redo:
            return None
        serial, command = self._redo.pop()
        command.apply(self._target)
        self._undo.append((serial, command))
        self._on_change()
        return command.label

    def clear(self) -> None:
        """Forget every step (the target stays as it is)."""
        self._check_no_group("clear the history")
        self._base = self.state
        self._undo.clear()
        self._redo.clear()
        self._nbytes = 0
        self._on_change()

    def _check_no_group(self, what: str) -> None:
        if self._group is not None:
            raise RuntimeError(f"cannot {what} while an edit is in progress")
