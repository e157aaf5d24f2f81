"""Everything a plugin needs, from one import: ``from sam2_studio.effects.plugin_api import *``.

What is named here is kept stable within one ``API_VERSION``; anything else in
``sam2_studio.effects`` may change. See ``plugins/README.md`` for a walk-through.
"""

from __future__ import annotations

from sam2_studio.effects.context import Box, FrameContext, nonzero_box
from sam2_studio.effects.effect import API_VERSION, Effect, EffectContext, EffectOutput, Target
from sam2_studio.effects.errors import EffectError
from sam2_studio.effects.highlight import outline_alpha
from sam2_studio.effects.imaging import blend, composite, gaussian, held_out_blur, luma, to_u8
from sam2_studio.effects.params import Color, NoParams, param

__all__ = [
    "API_VERSION",
    "Box",
    "Color",
    "Effect",
    "EffectContext",
    "EffectError",
    "EffectOutput",
    "FrameContext",
    "NoParams",
    "Target",
    "blend",
    "composite",
    "gaussian",
    "held_out_blur",
    "luma",
    "nonzero_box",
    "outline_alpha",
    "param",
    "to_u8",
]
