"""The :class:`Effect` interface every built-in effect and every plugin implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from sam2_studio.effects.context import Box, FrameContext
from sam2_studio.effects.params import NoParams

# Raised when the interface changes in a way old plugins cannot follow.
API_VERSION = 1

# What ``apply`` may return: an RGB frame, or an RGB frame and an alpha (float32 H×W 0..1)
# that the renderer multiplies into the output's transparency.
EffectOutput = np.ndarray | tuple[np.ndarray, np.ndarray]


class Target(StrEnum):
    """Where an effect acts: on its object, or on everything else."""

    OBJECT = "object"
    BACKGROUND = "background"


@dataclass(frozen=True)
class EffectContext:
    """What an effect may know beyond the frame and the matte it is given.

    ``clip`` gives the source frames and the *refined* mattes of every object, by index,
    for effects that look at other frames (they must say how far in ``frames_needed``).
    ``object_matte`` is this object's refined matte here even when the effect acts on the
    background. ``box`` bounds where the given matte differs from ``outside`` (0.0 for an
    object, 1.0 for a background), so an effect can skip work elsewhere; ``None`` means the
    matte is ``outside`` everywhere. ``state`` is a dict private to this effect for the
    lifetime of the renderer (caches across frames, e.g. a loaded image).
    """

    index: int
    obj: int
    target: Target
    clip: FrameContext
    object_matte: np.ndarray
    box: Box | None
    outside: float
    state: dict[str, Any] = field(default_factory=dict)


class Effect:
    """Subclass this to make an effect; the registry finds subclasses in plugin modules.

    Class attributes: ``id`` (stable, stored in project files), ``label`` and
    ``description`` (what the editor shows), ``Params`` (a frozen dataclass declared with
    :func:`sam2_studio.effects.params.param`), ``targets`` (where it may act; the first is
    the default), ``hides_object`` (true when the object is gone afterwards, so other
    objects' background effects treat its pixels as background), ``api_version``.

    ``apply`` gets the frame it works on (RGB uint8 H×W×3, read-only: return a new array,
    or the same one when nothing changes), the matte of its target region (float32 H×W
    0..1, read-only: the object, or everything but the held-out objects for a background
    target), its parameters and an :class:`EffectContext`. It returns a frame of the same
    shape, or ``(frame, alpha)`` to make parts of the output transparent.
    """

    id: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    targets: ClassVar[tuple[Target, ...]] = (Target.OBJECT, Target.BACKGROUND)
    hides_object: ClassVar[bool] = False
    api_version: ClassVar[int] = API_VERSION

    def frames_needed(self, params: Any) -> int:
        """How many frames before and after this one ``apply`` reads through ``ctx.clip``."""
        return 0

    def apply(
        self, frame: np.ndarray, matte: np.ndarray, params: Any, ctx: EffectContext
    ) -> EffectOutput:
        raise NotImplementedError
