"""Errors of the project layer: always about one file or one edit, worded for the user."""

from __future__ import annotations

from pathlib import Path

from sam2_studio.errors import StudioError


class ProjectError(StudioError):
    """A project file that cannot be read or written, or an edit that the document refuses.

    ``path`` names the file when there is one; the message says what is wrong in words.
    """


class VideoMismatchError(ProjectError):
    """The video offered for a project is not the one the project was made on."""


class VideoMissingError(ProjectError):
    """The project's video is neither where it was nor next to the project: ask for it."""


def unreadable(exc: OSError, path: Path, what: str) -> ProjectError:
    """The ``ProjectError`` for a file that could not be opened: ``what`` names it
    ("project file", "video")."""
    if isinstance(exc, FileNotFoundError):
        return ProjectError(f"no such {what}", path)
    if isinstance(exc, IsADirectoryError):
        return ProjectError(f"this is a folder, not a {what}", path)
    if isinstance(exc, PermissionError):
        return ProjectError(f"no permission to read this {what}", path)
    return ProjectError(f"the {what} cannot be read ({exc.strerror or exc})", path)
