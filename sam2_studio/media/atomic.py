"""Write to a temporary name beside the target, rename at the end; remove it otherwise.

A cancelled or failed export never leaves a half-written file under the name the user
chose (nor one that looks complete beside it). The temporary names and the atomic
replacement are ``sam2_studio.atomic_write``'s, shared with the other layers; what is the
media layer's own is the life of a streamed export (:class:`Export`) and its errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from sam2_studio.atomic_write import partial_path, remove_quietly

from .errors import MediaError, os_reason

__all__ = ["Export", "check_writable_folder", "finalise", "partial_path", "remove_quietly",
           "write_failure"]


def check_writable_folder(folder: Path, target: Path) -> None:
    """Fail early and in words when the export cannot even start."""
    if not folder.exists():
        raise MediaError("cannot write here: the folder does not exist", target)
    if not folder.is_dir():
        raise MediaError("cannot write here: a part of the path is not a folder", target)


def write_failure(target: Path, exc: BaseException) -> MediaError:
    reason = os_reason(exc)
    if reason is None:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return MediaError(f"cannot be written: {reason}", target)


def finalise(partial: Path, final: Path) -> None:
    try:
        os.replace(partial, final)
    except OSError as exc:
        remove_quietly(partial)
        raise write_failure(final, exc) from exc


class Export:
    """What every writer shares: ``close()`` finishes, ``abort()`` removes the partial output,
    and ``with`` does the one or the other depending on how the block ends."""

    def close(self) -> None:  # pragma: no cover - every writer overrides
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - every writer overrides
        raise NotImplementedError

    def __enter__(self):  # noqa: ANN204 - returns the concrete writer
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
