"""Autosave and recovery wired to the user's data directory, for the editor and the CLI."""

from __future__ import annotations

from pathlib import Path

from sam2_studio.app.paths import autosave_dir
from sam2_studio.project import Autosaver, Document, InterruptedSession, interrupted_sessions
from sam2_studio.project.autosave import DEFAULT_INTERVAL_S


def pending_recoveries(directory: Path | None = None) -> list[InterruptedSession]:
    """What to offer on start: sessions that ended without closing and left work, newest
    first."""
    return interrupted_sessions(directory or autosave_dir())


def start_autosave(doc: Document, *, interval_s: float = DEFAULT_INTERVAL_S,
                   recovered_from: InterruptedSession | None = None,
                   directory: Path | None = None) -> Autosaver:
    """Autosave ``doc``; pass the session it was recovered from so that one is kept until
    this one closes cleanly."""
    return Autosaver(doc, directory or autosave_dir(), interval_s=interval_s,
                     adopt=recovered_from)


def recovered_copy_path(session: InterruptedSession) -> Path:
    """Where to put recovered work without touching the user's own file: next to it, or in
    the home folder for a project never saved."""
    if session.project_path is not None:
        base = session.project_path.with_name(session.project_path.stem + " (recovered).s2s")
    else:
        base = Path.home() / f"{session.title} (recovered).s2s"
    candidate, n = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.stem} {n}.s2s")
        n += 1
    return candidate
