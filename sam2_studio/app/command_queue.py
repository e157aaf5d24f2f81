"""The model worker's queue: first in, first out, with two looks ahead the worker needs.

Between two frames of a propagation the worker takes the commands waiting at the head of the
queue that it can answer there (a click) without reordering anything: it stops at the first
command of another kind. A background command (a prefetch) checks whether anything else is
waiting and gives way to it.
"""

from __future__ import annotations

import queue
from typing import Any


class CommandQueue(queue.Queue):  # type: ignore[type-arg]
    def take_leading(self, kinds: type | tuple[type, ...]) -> list[Any]:
        """Remove and return the commands at the head that are instances of ``kinds``, up to
        the first that is not. Each one taken still needs its ``task_done()``."""
        with self.mutex:
            taken = []
            while self.queue and isinstance(self.queue[0], kinds):
                taken.append(self.queue.popleft())
            if taken:
                self.not_full.notify(len(taken))
            return taken

    def head_is(self, kinds: type | tuple[type, ...]) -> bool:
        """Whether the next command is an instance of ``kinds``."""
        with self.mutex:
            return bool(self.queue) and isinstance(self.queue[0], kinds)

    def waiting(self) -> bool:
        """Whether any command is queued (not counting the one running)."""
        return self.qsize() > 0
