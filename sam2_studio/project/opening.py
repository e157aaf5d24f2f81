"""Opening a project together with its video: finding a moved video, relinking, refusing
another one."""

from __future__ import annotations

from pathlib import Path

from sam2_studio.project.document import Document
from sam2_studio.project.errors import ProjectError, VideoMismatchError, VideoMissingError
from sam2_studio.project.format import load
from sam2_studio.project.video import candidate_paths, fingerprint


def find_video(doc: Document) -> Path | None:
    """Where the project's video is now: its old place, or where it sits relative to the
    project file (moved together), or beside the project; ``None`` when it is nowhere to be
    found. Content is checked, so a different file at the old path is not taken for it."""
    info = doc.video
    for candidate in candidate_paths(info, doc.path, doc.video_relative_path):
        try:
            if candidate.is_file() and fingerprint(candidate) == (info.file_size, info.content_hash):
                return candidate
        except ProjectError:
            continue
    return None


def open_project(path: str | Path, *, relink: str | Path | None = None,
                 require_video: bool = True) -> Document:
    """Load a project and make sure its video is there.

    ``relink`` names the video's new place (an undoable step, so saving keeps it); a
    different video is refused with ``VideoMismatchError``. Without it, a video found by
    ``find_video`` is used quietly (the next save records the new place). When the video is
    nowhere and ``require_video``, ``VideoMissingError`` asks for it.
    """
    doc = load(path)
    if relink is not None:
        doc.relink_video(relink)
        return doc
    found = find_video(doc)
    if found is not None:
        if found != doc.video.path:
            doc._put_setting("video", doc.video.moved_to(found))
        return doc
    if not require_video:
        return doc
    old = doc.video.path
    if old.is_file():
        raise VideoMismatchError(
            f"the video {old} has changed since the project was saved (another file is at its "
            "place); give the original video with --relink PATH", doc.path)
    raise VideoMissingError(
        f"the project's video {old} is missing (moved or deleted); give its new place with "
        "--relink PATH", doc.path)
