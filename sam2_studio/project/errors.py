"""Errors of the project layer: always about one file or one edit, worded for the user."""

from __future__ import annotations

from sam2_studio.errors import StudioError


class ProjectError(StudioError):
    """A project file that cannot be read or written, or an edit that the document refuses.

    ``path`` names the file when there is one; the message says what is wrong in words.
    """


class VideoMismatchError(ProjectError):
    """The video offered for a project is not the one the project was made on."""


class VideoMissingError(ProjectError):
    """The project's video is neither where it was nor next to the project: ask for it."""
