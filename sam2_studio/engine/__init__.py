"""Video tracking sessions over the model: prompts, memory bank, propagation.

>>> session = VideoSession(model, frames)          # frames: len(), get(i) -> RGB uint8, size
>>> session.add_points(0, obj_id=1, points=[[420, 260]], labels=[1])
>>> for result in session.propagate(direction="both"):
...     result.frame, result.masks[1], result.visible[1]

Qt-free and file-free: frames come from any :class:`FrameSource`.
"""

from .distractor import DistractorRule, FrameEvidence
from .errors import OutOfDeviceMemory
from .features import FeatureCache
from .frames import ArrayFrames, FrameSource, GeneratedFrames
from .memory_bank import DistractorAwareMemory, MemorySelection, Sam2Memory, make_policy
from .quality import FrameQuality, candidate_agreement
from .records import FrameRecord, ObjectTrack, Prompt
from .session import DIRECTIONS, FrameResult, SessionOptions, VideoSession

__all__ = [
    "DIRECTIONS",
    "ArrayFrames",
    "DistractorAwareMemory",
    "DistractorRule",
    "FeatureCache",
    "FrameEvidence",
    "FrameQuality",
    "FrameRecord",
    "FrameResult",
    "FrameSource",
    "GeneratedFrames",
    "MemorySelection",
    "ObjectTrack",
    "OutOfDeviceMemory",
    "Prompt",
    "Sam2Memory",
    "SessionOptions",
    "VideoSession",
    "candidate_agreement",
    "make_policy",
]
