"""Ctrl+C during long command-line work: stop at the next frame and keep what was done.

Inside ``with StopRequest() as stop:`` the first SIGINT only sets ``stop.requested``; the work
loop looks at it between frames (``stop()`` is the ``cancelled`` callback the exporters
take), finishes the frame in hand and saves. A second Ctrl+C raises ``KeyboardInterrupt`` at
once, for when saving is not wanted. Outside the block Ctrl+C behaves as usual.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any


class StopRequest:
    def __init__(self, notice: str = "stopping after this frame; what is done is kept "
                                      "(Ctrl+C again to quit at once)") -> None:
        self.notice = notice
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self) -> StopRequest:
        # Signal handlers can only be set from the main thread; elsewhere (a test runner's
        # worker thread, say) Ctrl+C keeps its usual meaning.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_signal)
            self._installed = True
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        # Straight to the file descriptor: the handler may run in the middle of a write to
        # sys.stderr (the progress bar), and a buffered stream refuses a reentrant call.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.write(sys.stderr.fileno(), f"\n{self.notice}\n".encode())

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
