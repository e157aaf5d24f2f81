"""Safe saving as the project layer does it, and lock files.

Writing aside and renaming is ``sam2_studio.atomic_write`` (one implementation for every
layer). What is the project's own is the temporary name: ``.<name>.saving`` beside the
target, fixed rather than random, as ``docs/project-format.md`` documents, so a file left by
a crash is overwritten by the next save instead of piling up. Autosave's ``session.json``,
the model registry and the settings file are saved the same way.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, BinaryIO

from sam2_studio import atomic_write as _shared
from sam2_studio.atomic_write import fsync_dir

__all__ = ["atomic_write", "atomic_write_bytes", "fsync_dir", "temp_path_for", "try_lock"]


def temp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.saving")


def atomic_write(path: str | Path) -> AbstractContextManager[BinaryIO]:
    """Yield a binary file; on a clean exit it replaces ``path``, on an exception it vanishes."""
    return _shared.atomic_write(path, temp=temp_path_for)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    _shared.atomic_write_bytes(path, data, temp=temp_path_for)


def try_lock(path: Path) -> IO[bytes] | None:
    """An exclusive lock on ``path``, held while the returned file stays open; None when
    another open file holds it. The OS drops flock/LockFileEx locks when their process dies,
    however it dies, which is what makes them good "is anybody still there?" markers."""
    try:
        f = open(path, "a+b")
    except OSError:
        return None
    try:
        if os.name == "nt":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


