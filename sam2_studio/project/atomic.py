"""Writing a file so that a crash, a kill or a full disk leaves the previous version intact.

The new content goes to a hidden file beside the target, is flushed and fsync'ed, and then
renamed over the target in one step (``os.replace`` is atomic on POSIX and Windows); the
folder is fsync'ed so the rename itself survives a power cut. Until the rename, the old
file is untouched; after it, the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO


def temp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.saving")


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary file; on a clean exit it replaces ``path``, on an exception it vanishes."""
    path = Path(path)
    if path.is_symlink():  # save through the link, keep the link
        path = path.resolve()
    tmp = temp_path_for(path)
    f = open(tmp, "wb")
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        if path.exists():
            with contextlib.suppress(OSError):
                shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        f.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path) as f:
        f.write(data)


def fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # Windows cannot open a folder; NTFS journals the rename
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
