"""Autosave and crash recovery.

Each running editor owns a session folder under the autosave directory (the app puts it in
the user data directory), holding ``session.json`` (what is being edited), ``autosave.s2s``
(the latest autosave, written atomically) and ``lock``, locked by the owning process for
its whole life. The OS releases the lock when the process dies however it dies, so on the
next start a folder whose lock can be taken belongs to an interrupted session: if it holds an
autosave, it is offered for recovery. A clean exit removes its folder; a user's save makes
the autosave pointless, so it is removed too.

The folder also holds the document's mask store (``masks.sqlite``, ``mask_store.py``): the
masks' bytes live there instead of in RAM, written as they come. Recovery lays what the
store last held (the masks of every frame, the objects) over the last autosave, or over the
project file when the user had saved since: masks tracked after the last autosave are not
lost. (Prompts, effects and settings come from the autosave.)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from sam2_studio.project.atomic import atomic_write_bytes, try_lock
from sam2_studio.project.document import Document
from sam2_studio.project.format import Snapshot, load, snapshot, write_snapshot
from sam2_studio.project.mask_store import MaskStore, MaskStoreError
from sam2_studio.project.objects import TrackedObject, check_name, parse_color

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
AUTOSAVE_FILE = "autosave.s2s"
LOCK_FILE = "lock"
STORE_FILE = "masks.sqlite"
DEFAULT_INTERVAL_S = 30.0


@dataclass(frozen=True)
class InterruptedSession:
    """An editor that stopped without closing, and left an autosave."""

    directory: Path
    title: str
    project_path: Path | None   # the .s2s the user was editing, if it had been saved once
    video_path: Path | None
    autosaved_at: datetime | None

    @property
    def autosave_path(self) -> Path:
        return self.directory / AUTOSAVE_FILE

    @property
    def store_path(self) -> Path:
        return self.directory / STORE_FILE

    def recover(self) -> Document:
        """The autosaved document (or the user's project file, saved since), with the masks
        the mask store held at the crash, pointing at the user's project file and marked
        unsaved.

        The session stays on disk until the recovered document's own ``Autosaver`` (created
        with ``adopt=`` this session) closes, so a second crash loses nothing either.
        """
        base = self.autosave_path if self.autosave_path.is_file() else self.project_path
        if base is None:
            raise FileNotFoundError(f"{self.directory} holds no autosave to recover")
        doc = load(base)
        if self.store_path.is_file():
            try:
                store = MaskStore(self.store_path)
            except MaskStoreError:
                log.exception("the mask store of %s cannot be read; recovering the autosave alone", self.directory)
            else:
                lay_over(doc, store)
        doc.path = self.project_path
        doc.history.mark_unsaved()
        return doc

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def lay_over(doc: Document, store: MaskStore) -> None:
    """Bring ``doc`` (as last autosaved) up to what ``store`` held: its objects (new ones
    made, deleted ones gone) and the masks of every frame; the document then keeps its masks
    there. A store that never heard of any object leaves the document as it is."""
    objects, current = store.objects(), store.current()
    if objects or current:
        for object_id in [o.id for o in doc.objects if o.id not in objects]:
            doc._objects.pop(object_id)
            doc._prompts.pop(object_id, None)
        for object_id, info in objects.items():
            try:
                name, color = check_name(info["name"]), parse_color(tuple(info["color"]))
            except (KeyError, TypeError, ValueError):
                continue
            known = doc._objects.get(object_id)
            doc._objects[object_id] = (TrackedObject(object_id, name, color) if known is None
                                       else replace(known, name=name, color=color))
            doc._masks[object_id] = current.get(object_id, {})
            if not doc._masks[object_id]:
                del doc._masks[object_id]
        doc._next_object_id = max(doc._next_object_id, max(doc._objects, default=0) + 1)
    doc.use_store(store)
    store.sweep()


def interrupted_sessions(directory: str | Path) -> list[InterruptedSession]:
    """Sessions to offer for recovery, newest first. Folders of dead sessions that left
    nothing to recover are removed on the way."""
    directory = Path(directory)
    found: list[InterruptedSession] = []
    if not directory.is_dir():
        return found
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        lock = try_lock(folder / LOCK_FILE)
        if lock is None:
            continue  # a running editor owns it
        try:
            session = _describe(folder)
            saved_since = (session.project_path is not None and session.project_path.is_file()
                           and (folder / STORE_FILE).is_file())
            if not (folder / AUTOSAVE_FILE).is_file() and not saved_since:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            found.append(session)
        finally:
            lock.close()
    found.sort(key=lambda s: s.autosaved_at or datetime.min.replace(tzinfo=timezone.utc),
               reverse=True)
    return found


def _describe(folder: Path) -> InterruptedSession:
    try:
        meta = json.loads((folder / SESSION_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError
    except (OSError, ValueError):
        meta = {}

    def as_path(key: str) -> Path | None:
        value = meta.get(key)
        return Path(value) if isinstance(value, str) else None

    try:
        when: datetime | None = datetime.fromisoformat(meta["autosaved_at"])
    except (KeyError, TypeError, ValueError):
        newest = [p for p in (folder / AUTOSAVE_FILE, folder / STORE_FILE) if p.is_file()]
        when = datetime.fromtimestamp(max(p.stat().st_mtime for p in newest), timezone.utc) if newest else None
    title = meta.get("title") if isinstance(meta.get("title"), str) else folder.name
    return InterruptedSession(folder, title, as_path("project_path"), as_path("video_path"), when)


class Autosaver:
    """Saves a document aside every ``interval_s`` seconds of unsaved change.

    Call ``poll()`` often from the thread that owns the document (a GUI timer, a CLI loop);
    it takes a snapshot there and writes it on a background thread, so a big project never
    stalls the editor. ``close()`` on a clean exit.

    With ``mask_store`` (the default) the document keeps its masks' bytes in the session
    folder's store (``ram_budget`` bytes of them cached in RAM).
    """

    def __init__(self, doc: Document, directory: str | Path, *,
                 interval_s: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic,
                 adopt: InterruptedSession | None = None, mask_store: bool = True,
                 ram_budget: int | None = None) -> None:
        self.doc = doc
        self.interval_s = interval_s
        self._clock = clock
        if adopt is not None:
            self.directory = adopt.directory
        else:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            self.directory = Path(directory) / f"{stamp}-{uuid.uuid4().hex[:8]}"
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = try_lock(self.directory / LOCK_FILE)
        if lock is None:
            raise RuntimeError(f"autosave folder {self.directory} is in use by another editor")
        self._lock: IO[bytes] | None = lock
        self._saved_generation = doc.generation
        self._changed_since: float | None = None
        self._thread: threading.Thread | None = None
        self.last_error: Exception | None = None
        self.saves = 0
        self.store: MaskStore | None = None
        if mask_store:
            self._attach_store(ram_budget)
        if adopt is None:
            self._write_meta(self._meta(), autosaved=False)

    def _attach_store(self, ram_budget: int | None) -> None:
        path = self.directory / STORE_FILE
        current = self.doc.mask_store
        if current is not None and current.path == path:  # recovered from this folder
            self.store = current
            return
        try:
            kw = {"ram_budget": ram_budget} if ram_budget is not None else {}
            store = MaskStore(path, **kw)
        except MaskStoreError as exc:
            log.warning("masks stay in memory: %s", exc)
            return
        self.doc.use_store(store)
        self.store = store

    @property
    def autosave_path(self) -> Path:
        return self.directory / AUTOSAVE_FILE

    def poll(self) -> bool:
        """Start an autosave if one is due; True when it did."""
        generation = self.doc.generation
        if not self.doc.dirty:  # the user saved: the project file holds it all
            if not self._busy():
                self.autosave_path.unlink(missing_ok=True)
            self._saved_generation = generation
            self._changed_since = None
            return False
        if generation == self._saved_generation:
            return False
        now = self._clock()
        if self._changed_since is None:
            self._changed_since = now
        if now - self._changed_since < self.interval_s or self._busy():
            return False
        self.save_now()
        return True

    def save_now(self) -> None:
        """Autosave at once (before a risky operation, say)."""
        self.wait()
        snap = snapshot(self.doc)
        self._saved_generation = self.doc.generation
        self._changed_since = None
        self._thread = threading.Thread(target=self._write, args=(snap, self._meta()),
                                        name="autosave", daemon=True)
        self._thread.start()

    def _write(self, snap: Snapshot, meta: dict[str, str | None]) -> None:
        try:
            write_snapshot(snap, self.autosave_path)
            self._write_meta(meta, autosaved=True)
            self.saves += 1
            self.last_error = None
        except Exception as exc:  # the editor goes on; it can show last_error
            log.exception("autosave to %s failed", self.autosave_path)
            self.last_error = exc

    def _meta(self) -> dict[str, str | None]:
        return {"title": self.doc.title().rstrip(" *"),
                "project_path": str(self.doc.path) if self.doc.path else None,
                "video_path": str(self.doc.video.path)}

    def _write_meta(self, meta: dict[str, str | None], autosaved: bool) -> None:
        info = {**meta, "pid": os.getpid(), "host": socket.gethostname(),
                "autosaved_at": datetime.now(timezone.utc).isoformat(timespec="seconds")
                if autosaved else None}
        atomic_write_bytes(self.directory / SESSION_FILE, json.dumps(info, indent=1).encode())

    def _busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self) -> None:
        """Until the autosave in progress, if any, is on disk."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self, keep_document: bool = True) -> None:
        """A clean end: nothing to recover, so the session folder goes. With
        ``keep_document`` the document (and its undo history) takes its masks back into RAM
        and goes on; without, it is being closed too and the store just goes."""
        self.wait()
        if self.store is not None:
            if keep_document and self.doc.mask_store is self.store:
                self.doc.use_store(None)
            self.store.close()
            self.store = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
            shutil.rmtree(self.directory, ignore_errors=True)
