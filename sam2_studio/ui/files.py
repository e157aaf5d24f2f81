"""The document's files: new, open (projects, videos, image sequences), save and save as,
the recent list, autosave, and recovering the work of an editor that did not close.

Every way a file can fail to open ends in a dialog naming the file and the problem; the open
document is only replaced once the new one has opened.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from sam2_studio.app.clip import Clip, open_clip
from sam2_studio.app.recovery import start_autosave
from sam2_studio.errors import StudioError
from sam2_studio.project import (Autosaver, Document, InterruptedSession, ProjectError,
                                 VideoMissingError, open_project, save)
from sam2_studio.ui import dialogs

if TYPE_CHECKING:
    from sam2_studio.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class Files(QObject):
    def __init__(self, window: MainWindow, autosave_dir: Path | None = None) -> None:
        super().__init__(window)
        self.w = window
        self.autosave_dir = autosave_dir
        self.autosaver: Autosaver | None = None

    # -- autosave --------------------------------------------------------------------------------
    def autosave(self, doc: Document | None, recovered: InterruptedSession | None = None) -> None:
        """Autosave ``doc`` from now on (the previous document's autosave closes cleanly)."""
        self.close_autosave()
        if doc is None:
            return
        try:
            self.autosaver = start_autosave(doc, interval_s=self.w.settings.autosave_interval_s,
                                            recovered_from=recovered, directory=self.autosave_dir)
        except (OSError, RuntimeError) as exc:
            self.w._message(f"Autosave is off: {exc}")

    def close_autosave(self) -> None:
        if self.autosaver is not None:
            self.autosaver.close(keep_document=False)  # its document is being closed
            self.autosaver = None

    def maybe_save(self) -> bool:
        """Before the document goes: save, discard or cancel. True when it may go."""
        doc = self.w.doc
        if doc is None or not doc.dirty:
            return True
        answer = dialogs.ask_save_changes(self.w, doc.title().rstrip(" *"))
        if answer == "save":
            return self.save()
        return answer == "discard"

    def open_path(self, path: str | Path) -> bool:
        """Open a project, a video or an image sequence; a clear dialog if it cannot be."""
        path = Path(path)
        if not self.maybe_save():
            return False
        self.w.setCursor(Qt.CursorShape.WaitCursor)
        try:
            if path.suffix.lower() == ".s2s":
                opened = self._open_project(path)
                if opened is None:
                    return False
                doc, clip = opened
            else:
                clip = open_clip(path)
                doc = Document(clip.video_info())
        except StudioError as exc:
            dialogs.show_error(self.w, "This file cannot be opened", exc, path if exc.path is None else None)
            return False
        except Exception as exc:  # noqa: BLE001 - never crash on a user's file
            log.exception("opening %s failed", path)
            dialogs.show_error(self.w, "This file cannot be opened", f"{type(exc).__name__}: {exc}", path)
            return False
        finally:
            self.w.unsetCursor()
        self.w.set_document(doc, clip)
        if clip.info.problem:
            dialogs.show_error(self.w, "Part of this video is damaged", clip.info.problem, path)
        self.w.settings.add_recent(path)
        self.w._message(f"Opened {path.name}: {doc.video.width}×{doc.video.height}, "
                      f"{doc.video.frame_count} frames at {float(doc.video.fps):.3g} fps")
        return True

    def _open_project(self, path: Path) -> tuple[Document, Clip] | None:
        try:
            doc = open_project(path)
        except VideoMissingError:
            from sam2_studio.project import load

            missing = load(path).video.path
            located = dialogs.ask_locate_video(self.w, path, missing)
            if located is None:
                return None
            doc = open_project(path, relink=located)
        clip = open_clip(doc.video.path)
        return doc, clip

    def offer_recovery(self, sessions: list[InterruptedSession]) -> None:
        """Ask what to do with work left by an editor that did not close (on start)."""
        from sam2_studio.ui.recovery_dialog import RecoveryDialog

        if not sessions:
            return
        dialog = RecoveryDialog(self.w, sessions)
        dialog.exec()
        what, session = dialog.choice
        if session is None:
            return
        if what == "discard":
            session.discard()
        elif what == "recover":
            self.recover(session)

    def recover(self, session: InterruptedSession) -> bool:
        """Open an autosave as unsaved work (the user's project file stays as it was)."""
        from sam2_studio.project import find_video

        try:
            doc = session.recover()
            found = find_video(doc)
            if found is None:
                located = dialogs.ask_locate_video(self.w, session.autosave_path, doc.video.path)
                if located is None:
                    return False
                doc.relink_video(located)
            elif found != doc.video.path:
                doc.relink_video(found)
            clip = open_clip(doc.video.path)
        except StudioError as exc:
            dialogs.show_error(self.w, "The work could not be recovered", exc)
            return False
        self.w.set_document(doc, clip, recovered=session)
        self.w._message(f"Recovered {session.title}: save it to keep it")
        return True

    def new_project(self) -> None:
        folder = str(Path(self.w.settings.recent_files[0]).parent) if self.w.settings.recent_files else ""
        path = dialogs.choose_open_path(self.w, folder, video_only=True)
        if path is not None:
            self.open_path(path)

    def open_dialog(self) -> None:
        folder = str(Path(self.w.settings.recent_files[0]).parent) if self.w.settings.recent_files else ""
        path = dialogs.choose_open_path(self.w, folder)
        if path is not None:
            self.open_path(path)

    def save(self) -> bool:
        doc = self.w.doc
        if doc is None:
            return False
        if doc.path is None:
            return self.save_as()
        return self._save_to(doc.path)

    def save_as(self) -> bool:
        doc = self.w.doc
        if doc is None:
            return False
        suggestion = str(doc.path or doc.video.path.with_suffix(".s2s"))
        path = dialogs.choose_save_path(self.w, suggestion)
        return path is not None and self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        doc = self.w.doc
        assert doc is not None
        self.w._finish_edits()
        if self.w.tracker.state.model is not None and not self.w.tracker.state.model.random_weights:
            if doc.model_variant != self.w.tracker.state.model.variant:
                doc.set_model_variant(self.w.tracker.state.model.variant)
        try:
            target = save(doc, path)
        except ProjectError as exc:
            dialogs.show_error(self.w, "The project could not be saved", exc)
            return False
        self.w.settings.add_recent(target)
        self.w._update_title()
        self.w._message(f"Saved {target}")
        return True

    def fill_recent(self) -> None:
        self.w.recent_menu.clear()
        recent = self.w.settings.existing_recent()
        if not recent:
            a = self.w.recent_menu.addAction("No recent files")
            a.setEnabled(False)
            return
        for p in recent:
            a = self.w.recent_menu.addAction(p.name)
            a.setToolTip(str(p))
            a.setStatusTip(str(p))
            a.triggered.connect(lambda _c=False, p=p: self.open_path(p))

    def poll_autosave(self) -> None:
        if self.autosaver is not None:
            try:
                self.autosaver.poll()
            except Exception:  # noqa: BLE001 - autosave must never interrupt the user
                log.exception("autosave failed")

