"""The document: objects, prompts, masks, effect stacks, undo history, save and load.

Qt-free. A GUI subscribes to ``Document.events``; every edit goes through the document's
methods and lands on ``Document.history``. Files: ``save``/``load``/``open_project`` (the
``.s2s`` format is in docs/project-format.md); crash safety: ``Autosaver`` and
``interrupted_sessions``.
"""

from sam2_studio.project.autosave import Autosaver, InterruptedSession, interrupted_sessions
from sam2_studio.project.document import Document, FrameRange, StrokeEdit
from sam2_studio.project.errors import ProjectError, VideoMismatchError, VideoMissingError
from sam2_studio.project.events import (DocumentEvents, HistoryEvent, MasksEvent, ObjectEvent,
                                        PromptsEvent, ReviewEvent, Signal)
from sam2_studio.project.format import FORMAT_VERSION, SUFFIX, load, save
from sam2_studio.project.history import Command, History
from sam2_studio.project.masks import EncodedMask
from sam2_studio.project.objects import Color, Opaque, TrackedObject
from sam2_studio.project.opening import find_video, open_project
from sam2_studio.project.prompts import BoxPrompt, BrushStroke, PointPrompt, Prompt
from sam2_studio.project.video import VideoInfo

__all__ = [
    "Autosaver", "BoxPrompt", "BrushStroke", "Color", "Command", "Document", "DocumentEvents",
    "EncodedMask", "FORMAT_VERSION", "FrameRange", "History", "HistoryEvent",
    "InterruptedSession", "MasksEvent", "ObjectEvent", "Opaque", "PointPrompt", "ProjectError",
    "Prompt", "PromptsEvent", "ReviewEvent", "SUFFIX", "Signal", "StrokeEdit", "TrackedObject", "VideoInfo",
    "VideoMismatchError", "VideoMissingError", "find_video", "interrupted_sessions", "load",
    "open_project", "save",
]
