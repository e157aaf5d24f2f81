"""Where the engine keeps the compressed masks of tracked frames: a temporary file, not RAM.

Every tracked frame's final mask stays with the engine (``session.mask``, ``session.result``,
and re-encoding a memory whose logits were evicted read it), compressed, ~1–30 kB each at
1080p. Over a long clip that is the engine's only per-frame growth in RAM (~30 MB per 1000
frames of a noisy object), and the editor already keeps its own copy of every mask. So the
tracked masks go to an unlinked temporary file, appended once and read back with a
positional read (the page cache, not the process, holds the hot ones).

Re-tracking replaces masks, and the replaced ones become garbage in the file. Once the file
holds more garbage than live masks (and at least ``COMPACT_SLACK`` of it), the live masks are
copied to a fresh file and the old one is dropped: the disk used stays within about twice
the live masks, amortised over the writes that made the garbage.

A write that fails (a full or read-only temporary disk) keeps that mask and all later ones
in RAM, with one warning: a mask is never lost, only its memory saving.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import weakref
from typing import IO

log = logging.getLogger(__name__)

COMPACT_SLACK = 64 << 20  # bytes of garbage tolerated in the file before a compaction is considered


class ArchivedMask:
    """A compressed mask in a :class:`MaskArchive`'s file: where it is and how long (a
    compaction moves it; the archive's lock guards the offset)."""

    __slots__ = ("__weakref__", "archive", "length", "offset")

    def __init__(self, archive: MaskArchive, offset: int, length: int) -> None:
        self.archive = archive
        self.offset = offset
        self.length = length

    def read(self) -> bytes:
        return self.archive.read(self)


class MaskArchive:
    """Append-only store of compressed masks in an unlinked temporary file (gone with the
    process, even after a crash). Safe to use from the results threads and the model thread."""

    def __init__(self, directory: str | None = None) -> None:
        self._directory = directory
        self._file: IO[bytes] | None = None
        self._end = 0
        self._refs: list[weakref.ref[ArchivedMask]] = []  # every mask written since the last compaction
        self._live = 0  # live bytes found by the last compaction check
        self._lock = threading.Lock()
        self.failed: str | None = None  # why masks stay in RAM, after a failed write
        self.compactions = 0

    @property
    def size(self) -> int:
        """Bytes in the file (live masks and garbage)."""
        return self._end

    def keep(self, data: bytes) -> bytes | ArchivedMask:
        """Store ``data``; returns where it now lives (``data`` itself when the archive cannot
        write: the caller keeps it in RAM)."""
        if self.failed is not None or not data:
            return data
        with self._lock:
            try:
                if self._file is None:
                    self._file = self._new_file()
                offset = self._append(self._file, self._end, data)
            except OSError as exc:
                self.failed = f"{type(exc).__name__}: {exc}"
                log.warning("tracked masks stay in memory: the temporary mask file cannot be written (%s)", self.failed)
                return data
            self._end = offset + len(data)
            mask = ArchivedMask(self, offset, len(data))
            self._refs.append(weakref.ref(mask))
            if self._end > 2 * self._live + COMPACT_SLACK:
                self._compact()
        return mask

    def read(self, mask: ArchivedMask) -> bytes:
        with self._lock:
            assert self._file is not None
            data = self._read(self._file, mask.offset, mask.length)
        if len(data) != mask.length:
            raise OSError(f"the temporary mask file lost data at {mask.offset} ({len(data)} of {mask.length} bytes read)")
        return data

    # -- under the lock --------------------------------------------------------------------
    def _new_file(self) -> IO[bytes]:
        return tempfile.TemporaryFile(prefix="sam2-studio-masks-", dir=self._directory)

    @staticmethod
    def _append(file: IO[bytes], end: int, data: bytes) -> int:
        file.seek(end)
        file.write(data)
        file.flush()
        return end

    @staticmethod
    def _read(file: IO[bytes], offset: int, length: int) -> bytes:
        if hasattr(os, "pread"):
            return os.pread(file.fileno(), length, offset)
        file.seek(offset)  # Windows
        return file.read(length)

    def _compact(self) -> None:
        """Copy the live masks to a fresh file when garbage outweighs them; else only note
        the live size, so the next check waits for the file to grow again."""
        live = [m for m in (r() for r in self._refs) if m is not None]
        self._refs = [weakref.ref(m) for m in live]
        self._live = sum(m.length for m in live)
        if self._end - self._live <= max(self._live, COMPACT_SLACK):
            return
        assert self._file is not None
        fresh, end, moved = self._new_file(), 0, []
        try:
            for m in live:
                data = self._read(self._file, m.offset, m.length)
                moved.append(self._append(fresh, end, data))
                end += len(data)
        except OSError:  # no room for the copy: the old file stays as it is (and valid)
            fresh.close()
            log.warning("the temporary mask file could not be compacted", exc_info=True)
            self._live = self._end  # try again once the file has doubled
            return
        for m, offset in zip(live, moved):
            m.offset = offset
        self._file.close()
        self._file, self._end = fresh, end
        self.compactions += 1
