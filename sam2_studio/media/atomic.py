"""Write to a temporary name beside the target, rename at the end; remove it otherwise.

A cancelled or failed export never leaves a half-written file under the name the user
chose (nor one that looks complete beside it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from .errors import MediaError, os_reason


def partial_path(final: Path) -> Path:
    """A hidden, clearly unfinished name in the same folder (so the rename is atomic)."""
    return final.with_name(f".{final.stem}.partial-{secrets.token_hex(4)}{final.suffix}")


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


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


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
