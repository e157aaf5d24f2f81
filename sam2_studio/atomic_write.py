"""Replacing a file in one step, so that a crash, a kill or a full disk never leaves a half file.

The one implementation of "write aside, flush, fsync, rename over the target, fsync the
folder" that every layer uses (media's exports, the project file, the model registry,
autosave). It sits beside ``errors.py``, outside the layers, because it knows nothing of
videos, projects or models, and because importing it must stay cheap: the command line
writes its model registry without loading the media stack.

The new content goes to a hidden file in the target's folder (so the rename stays on one
file system and is atomic: ``os.replace`` on POSIX and Windows); until the rename the old
file is untouched, after it the new one is complete. The temporary name is chosen by the
caller: exports use a random ``partial_path`` (two exports of one name never share it); the
project layer uses a fixed name that the next save overwrites (``project/atomic.py``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def partial_path(final: Path) -> Path:
    """A hidden, clearly unfinished name in the same folder (so the rename is atomic)."""
    return final.with_name(f".{final.stem}.partial-{secrets.token_hex(4)}{final.suffix}")


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` survive a power cut (POSIX; NTFS journals renames)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | Path, *,
                 temp: Callable[[Path], Path] = partial_path) -> Iterator[BinaryIO]:
    """Yield a binary file; on a clean exit it replaces ``path`` (keeping its mode, and a
    symlink at ``path`` stays a link to the new content); on an exception it vanishes and
    the exception goes on. ``temp(path)`` names the file written aside."""
    path = Path(path)
    if path.is_symlink():  # save through the link, keep the link
        path = path.resolve()
    tmp = temp(path)
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
        remove_quietly(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes, *,
                       temp: Callable[[Path], Path] = partial_path) -> None:
    with atomic_write(path, temp=temp) as f:
        f.write(data)
