"""Where the engine keeps the compressed masks of tracked frames: a temporary file, not RAM.

Every tracked frame's final mask stays with the engine (``session.mask``, ``session.result``,
and re-encoding a memory whose logits were evicted read it), compressed, ~1–30 kB each at
1080p. Over a long clip that is the engine's only per-frame growth in RAM (~30 MB per 1000
frames of a noisy object), and the editor already keeps its own copy of every mask. So the
tracked masks go to an unlinked temporary file, appended once and read back with a
positional read (the page cache, not the process, holds the hot ones).

A write that fails (a full or read-only temporary disk) keeps that mask and all later ones
in RAM, with one warning: a mask is never lost, only its memory saving.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import IO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchivedMask:
    """A compressed mask in a :class:`MaskArchive`'s file: where it is and how long."""

    archive: MaskArchive
    offset: int
    length: int

    def read(self) -> bytes:
        return self.archive.read(self.offset, self.length)


class MaskArchive:
    """Append-only store of compressed masks in an unlinked temporary file (gone with the
    process, even after a crash). Safe to use from the results threads and the model thread."""

    def __init__(self, directory: str | None = None) -> None:
        self._directory = directory
        self._file: IO[bytes] | None = None
        self._end = 0
        self._lock = threading.Lock()
        self.failed: str | None = None  # why masks stay in RAM, after a failed write

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._end

    def keep(self, data: bytes) -> bytes | ArchivedMask:
        """Store ``data``; returns where it now lives (``data`` itself when the archive cannot
        write: the caller keeps it in RAM)."""
        if self.failed is not None or not data:
            return data
        with self._lock:
            try:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="sam2-studio-masks-", dir=self._directory)
                offset = self._end
                self._file.seek(offset)
                self._file.write(data)
                self._file.flush()
                self._end = offset + len(data)
            except OSError as exc:
                self.failed = f"{type(exc).__name__}: {exc}"
                log.warning("tracked masks stay in memory: the temporary mask file cannot be written (%s)", self.failed)
                return data
        return ArchivedMask(self, offset, len(data))

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            assert self._file is not None
            if hasattr(os, "pread"):
                data = os.pread(self._file.fileno(), length, offset)
            else:  # Windows
                self._file.seek(offset)
                data = self._file.read(length)
        if len(data) != length:
            raise OSError(f"the temporary mask file lost data at {offset} ({len(data)} of {length} bytes read)")
        return data
