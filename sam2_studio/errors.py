"""The one base class of errors a user can act on.

Every layer raises a subclass (``CheckpointError``, ``MediaError``, ``ProjectError``...)
whose message names the file and the problem in words; front ends catch this base to show
the message instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class StudioError(Exception):
    """An error with a message meant for the user, optionally about one file."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)
