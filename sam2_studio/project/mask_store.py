"""Masks on disk, so the editor's memory stays flat however long the clip.

A long track at 1080p makes tens of kilobytes of compressed mask per frame and object; kept
in RAM they grow the editor by hundreds of megabytes an hour of footage. With a store, the
document and its undo history hold :class:`StoredMask` handles (about a hundred bytes each)
and the bytes live in one SQLite file next to the autosave, read back on demand through an
LRU cache of ``ram_budget`` bytes.

Crash safety: the file is in WAL mode and every change is its own transaction, so a killed
editor leaves every mask it had written (``synchronous=NORMAL``: a power cut may lose the
last moments, a crash of the process nothing). Beside the mask bytes the store keeps which
mask each object has on each frame (``current``) and the objects themselves (``objects``):
recovery (``autosave.py``) lays that over the last autosave, so masks tracked after it are
not lost.

A full disk is not a crash: a write that fails leaves the mask in RAM (nothing is lost),
``problem`` says what happened and ``on_problem`` is told, once; the store tries the disk
again after ``retry_s``.

Thread-safe: the GUI thread writes, autosave, export and preview threads read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from sam2_studio.project.masks import CODECS, EncodedMask, MaskDataError

log = logging.getLogger(__name__)

DEFAULT_RAM_BUDGET = 64 << 20
SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS current (
    object INTEGER NOT NULL, frame INTEGER NOT NULL, blob INTEGER NOT NULL,
    height INTEGER NOT NULL, width INTEGER NOT NULL, area INTEGER NOT NULL, codec TEXT NOT NULL,
    PRIMARY KEY (object, frame));
CREATE TABLE IF NOT EXISTS objects (id INTEGER PRIMARY KEY, info TEXT NOT NULL);
"""

MaskKey = tuple[int, int]  # (object id, frame)


class MaskStoreError(Exception):
    """The store's file cannot be used (missing, damaged, closed)."""


class StoredMask:
    """A compressed mask whose bytes are in a :class:`MaskStore`: what the document and the
    undo history hold instead of the bytes. Immutable, like ``EncodedMask``, and read the
    same way (``data``, ``decode()``, ``area``, ``shape``)."""

    __slots__ = ("_store", "_data", "_digest", "blob", "height", "width", "area", "codec", "__weakref__")

    def __init__(self, store: MaskStore, blob: int, height: int, width: int, area: int, codec: str) -> None:
        self._store: MaskStore | None = store
        self._data: bytes | None = None  # once released from its store
        self._digest: tuple[int, int] | None = None
        self.blob = blob
        self.height, self.width, self.area, self.codec = height, width, area, codec

    @property
    def digest(self) -> tuple[int, int]:
        """(byte length, CRC-32) of the bytes, read once: the review asks for it often
        (``quality.fingerprint``) and the bytes never change. Read past the cache, like a save."""
        if self._digest is None:
            data = self.copy_bytes()
            self._digest = (len(data), zlib.crc32(data))
        return self._digest

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def data(self) -> bytes:
        store = self._store
        if store is None:
            assert self._data is not None
            return self._data
        return store.read(self.blob)

    @property
    def nbytes(self) -> int:
        """RAM held (for the history's budget): the handle, not the bytes."""
        return 112

    def decode(self) -> np.ndarray:
        codec = CODECS.get(self.codec)
        if codec is None:
            raise MaskDataError(f"unknown mask codec {self.codec!r}")
        return codec.decode(self.data, self.shape)

    def copy_bytes(self) -> bytes:
        """The bytes, for copying them elsewhere (a save): read past the cache, so a save of
        the whole clip does not push out the masks the user is looking at."""
        store = self._store
        if store is None:
            assert self._data is not None
            return self._data
        return store.read(self.blob, cache=False)

    def encoded(self) -> EncodedMask:
        """The mask with its bytes in RAM."""
        return EncodedMask(self.data, self.height, self.width, self.area, self.codec)

    def __del__(self) -> None:
        store = self._store
        if store is not None:
            store._garbage.append(self.blob)  # list.append is atomic: safe from any thread

    def __repr__(self) -> str:
        return f"StoredMask(blob={self.blob}, {self.width}x{self.height}, area={self.area})"


AnyMask = EncodedMask | StoredMask


class MaskStore:
    def __init__(self, path: str | Path, *, ram_budget: int = DEFAULT_RAM_BUDGET, retry_s: float = 10.0,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.ram_budget = ram_budget
        self.retry_s = retry_s
        self.on_problem = on_problem
        self.problem: str | None = None
        self._failed_at: float | None = None
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0
        self._handles: weakref.WeakValueDictionary[int, StoredMask] = weakref.WeakValueDictionary()
        self._garbage: list[int] = []
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise MaskStoreError(f"the mask store {self.path} cannot be used: {exc}") from None

    # -- reading ---------------------------------------------------------------------------
    def read(self, blob: int, cache: bool = True) -> bytes:
        with self._lock:
            data = self._cache.get(blob)
            if data is not None:
                if cache:
                    self._cache.move_to_end(blob)
                return data
            row = self._conn().execute("SELECT data FROM blobs WHERE id = ?", (blob,)).fetchone()
            if row is None:
                raise MaskStoreError(f"mask {blob} is missing from the mask store {self.path}")
            data = bytes(row[0])
            if cache:
                self._remember(blob, data)
            return data

    def current(self) -> dict[int, dict[int, StoredMask]]:
        """Per object, the mask of every frame as the store last heard of it."""
        out: dict[int, dict[int, StoredMask]] = {}
        with self._lock:
            rows = self._conn().execute(
                "SELECT object, frame, blob, height, width, area, codec FROM current ORDER BY object, frame").fetchall()
            for obj, frame, blob, h, w, area, codec in rows:
                out.setdefault(obj, {})[frame] = self._handle(blob, h, w, area, codec)
        return out

    def objects(self) -> dict[int, dict]:
        """The objects as the store last heard of them: id -> {"name", "color"}."""
        with self._lock:
            rows = self._conn().execute("SELECT id, info FROM objects ORDER BY id").fetchall()
        return {i: json.loads(info) for i, info in rows}

    @property
    def cached_bytes(self) -> int:
        return self._cached

    # -- writing (the document's thread) -----------------------------------------------------
    def put(self, mask: AnyMask) -> AnyMask:
        """The mask as a handle into the store; the mask itself (in RAM) when the disk refuses."""
        if isinstance(mask, StoredMask) and mask._store is self:
            return mask
        data = mask.data
        with self._lock:
            if not self._writable():
                return mask if isinstance(mask, EncodedMask) else mask.encoded()
            try:
                with self._transaction() as db:
                    blob = db.execute("INSERT INTO blobs (data) VALUES (?)", (data,)).lastrowid
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)
                return mask if isinstance(mask, EncodedMask) else mask.encoded()
            assert blob is not None
            self._recovered()
            self._remember(blob, data)
            return self._handle(blob, mask.height, mask.width, mask.area, mask.codec)

    def put_many(self, masks: Iterable[AnyMask]) -> list[AnyMask]:
        """Like ``put`` for many, in one transaction (a document attached to the store)."""
        masks = list(masks)
        with self._lock:
            if not self._writable():
                return masks
            out: list[AnyMask] = []
            try:
                with self._transaction() as db:
                    for m in masks:
                        if isinstance(m, StoredMask) and m._store is self:
                            out.append(m)
                            continue
                        blob = db.execute("INSERT INTO blobs (data) VALUES (?)", (m.data,)).lastrowid
                        assert blob is not None
                        out.append(self._handle(blob, m.height, m.width, m.area, m.codec))
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)
                return masks
            self._recovered()
            return out

    def set_current(self, changes: Mapping[MaskKey, AnyMask | None]) -> None:
        """Record which mask each (object, frame) has now (None: none)."""
        rows, gone = [], []
        for (obj, frame), m in changes.items():
            if isinstance(m, StoredMask) and m._store is self:
                rows.append((obj, frame, m.blob, m.height, m.width, m.area, m.codec))
            else:  # none, or a mask the disk refused: the store no longer knows this frame
                gone.append((obj, frame))
        self._write(lambda db: (db.executemany("INSERT OR REPLACE INTO current VALUES (?, ?, ?, ?, ?, ?, ?)", rows),
                                db.executemany("DELETE FROM current WHERE object = ? AND frame = ?", gone)))

    def set_object(self, object_id: int, info: dict | None) -> None:
        """Record an object (name, colour) as present, or with None as gone with its masks."""
        if info is None:
            self._write(lambda db: (db.execute("DELETE FROM objects WHERE id = ?", (object_id,)),
                                    db.execute("DELETE FROM current WHERE object = ?", (object_id,))))
        else:
            text = json.dumps(info)
            self._write(lambda db: db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?)", (object_id, text)))

    def reset(self) -> None:
        """Forget what the store says the document holds (a new document takes it over)."""
        self._write(lambda db: (db.execute("DELETE FROM current"), db.execute("DELETE FROM objects")))

    def collect(self) -> int:
        """Delete the bytes no handle and no current row refer to; how many went."""
        with self._lock:
            dead = {b for b in self._drain_garbage() if b not in self._handles}
            if not dead:
                return 0
            for b in dead:
                if b in self._cache:
                    self._cached -= len(self._cache.pop(b))
            self._write(lambda db: db.executemany(
                "DELETE FROM blobs WHERE id = ? AND id NOT IN (SELECT blob FROM current)", [(b,) for b in dead]),
                collect=False)
            return len(dead)

    def sweep(self) -> int:
        """Delete every blob no current row and no live handle refers to (on opening a store
        left by a crash: undo states of a dead editor are garbage)."""
        with self._lock:
            live = set(self._handles.keys())
            rows = self._conn().execute(
                "SELECT id FROM blobs WHERE id NOT IN (SELECT blob FROM current)").fetchall()
            dead = [(b,) for (b,) in rows if b not in live]
            if dead:
                self._write(lambda db: db.executemany("DELETE FROM blobs WHERE id = ?", dead), collect=False)
            return len(dead)

    def release_handles(self) -> None:
        """Give every live handle its bytes, so that it no longer needs the store (before the
        store closes under a document, or an undo history, that goes on)."""
        with self._lock:
            for blob, handle in list(self._handles.items()):
                handle._data = self.read(blob)
                handle._store = None
            self._handles = weakref.WeakValueDictionary()

    def close(self, delete: bool = False) -> None:
        """Close the file (handles can no longer be read); ``delete`` removes it."""
        with self._lock:
            if self._db is not None:
                try:
                    self._db.close()
                finally:
                    self._db = None
                    self._cache.clear()
                    self._cached = 0
        if delete:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)

    @property
    def closed(self) -> bool:
        return self._db is None

    # -- helpers -------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise MaskStoreError(f"the mask store {self.path} is closed")
        return self._db

    def _handle(self, blob: int, h: int, w: int, area: int, codec: str) -> StoredMask:
        handle = self._handles.get(blob)
        if handle is None:
            handle = StoredMask(self, blob, int(h), int(w), int(area), codec)
            self._handles[blob] = handle
        return handle

    def _remember(self, blob: int, data: bytes) -> None:
        if len(data) > self.ram_budget:
            return
        self._cache[blob] = data
        self._cached += len(data)
        while self._cached > self.ram_budget:
            _, old = self._cache.popitem(last=False)
            self._cached -= len(old)

    def _drain_garbage(self) -> list[int]:
        garbage, self._garbage = self._garbage, []
        return garbage

    def _writable(self) -> bool:
        self._conn()
        return self._failed_at is None or time.monotonic() - self._failed_at >= self.retry_s

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def _write(self, work: Callable[[sqlite3.Connection], object], collect: bool = True) -> None:
        with self._lock:
            if not self._writable():
                return
            try:
                with self._transaction() as db:
                    work(db)
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)
                return
        if collect and len(self._garbage) >= 64:
            self.collect()

    def _fail(self, exc: BaseException) -> None:
        self._failed_at = time.monotonic()
        text = str(exc)
        full = "full" in text.lower() or getattr(exc, "errno", None) == 28
        problem = (f"the disk holding the mask store is full ({self.path.parent}); new masks stay in memory"
                   if full else f"the mask store {self.path} cannot be written ({text}); new masks stay in memory")
        if self.problem is None:
            log.warning("%s", problem)
            self.problem = problem
            if self.on_problem is not None:
                self.on_problem(problem)

    def _recovered(self) -> None:
        """Mask bytes were written again: the problem is over (a later one is told again)."""
        self._failed_at = None
        self.problem = None
