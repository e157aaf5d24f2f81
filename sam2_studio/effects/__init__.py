"""Matte refinement and visual effects, with a plugin registry. Qt-free; numpy and OpenCV.

The contract
============
An effect takes a frame (RGB uint8 ``H×W×3``) and one matte (float32 ``H×W``, 0..1, frame
size) and returns a frame; see :class:`Effect`. Mattes come per object; an effect acts on
its object or on the background (``Target``), and the renderer hands it the matching
matte. Effects that read other frames (object removal) say how far in
``Effect.frames_needed`` and read them through ``ctx.clip``, a :class:`FrameContext`.

Everything a user sets is a frozen dataclass of typed parameters declared with
:func:`param` (default, range, label, unit): :func:`specs` lists the controls an editor
builds, :func:`to_dict` / :func:`from_dict` give the JSON a project stores.

For the layers above
====================
**FrameContext** (``context.py``) is what the renderer reads a clip through: ``len(ctx)``,
``ctx.objects`` (object ids in layer order), ``ctx.frame(i)`` (RGB uint8) and
``ctx.matte(obj, i)`` (the *source* matte, or ``None`` where the object has none; bool,
uint8 or float at any size is accepted). The media/project layers implement it over the
decoder cache and the compressed mask store; :class:`InMemoryClip` does it over arrays.

**ObjectStack** (``stack.py``) is what the project stores per object: ``RefineParams``
(remove specks → fill holes → smooth → grow/shrink → temporal smoothing → feather), the
ordered ``EffectEntry`` tuple (effect id, params, target, enabled, mix) and ``holdout``.
Stacks are immutable; ``to_dict()`` / ``ObjectStack.from_dict(data, registry)``. Entries of
effects that are not installed keep their parameters as a dict and round-trip unchanged.

**Renderer** (``render.py``)::

    registry = load_registry(user_dir)                  # built-ins + plugins, once per app
    renderer = Renderer(clip, {obj: stack, ...}, registry=registry, order=[...])
    frame = renderer.render(i)                           # RenderedFrame(rgb, alpha, problems)
    renderer.set_stack(obj, new_stack)                   # the user edited a stack
    renderer.invalidate(obj, frames=[i])                 # the masks of frame i changed
    renderer.matte(obj, i)                               # refined matte, for matte export

The editor previews with ``render(i)`` on the frame shown; the exporter loops
``render(i)`` over the clip and keeps ``renderer.frames_needed()`` frames each side of
``i`` in its decoder cache. ``rgb`` may be read-only; ``alpha`` is ``None`` (opaque) or a
straight alpha to write with the colour (PNG/ProRes 4444). ``problems`` lists plugins that
failed on this frame (now disabled); ``skipped`` the entries that did not render and why.

**Registry** (``registry.py``): ``load_registry(user_dir)`` loads the built-ins, the app's
``plugins/`` folder, ``user_dir`` and the ``sam2_studio.effects`` entry points;
``registry.available()`` is the "add effect" menu, ``registry.problems`` what to show the
user, ``registry.entry("pixelate", target="background", block=24)`` a new stack entry.

Plugins import from :mod:`sam2_studio.effects.plugin_api`; ``plugins/README.md`` is the
template.
"""

from __future__ import annotations

from sam2_studio.effects.context import Box, FrameContext, InMemoryClip, as_matte
from sam2_studio.effects.effect import API_VERSION, Effect, EffectContext, Target
from sam2_studio.effects.errors import EffectError
from sam2_studio.effects.mattes import RefinedClip
from sam2_studio.effects.params import Color, ParamSpec, from_dict, param, specs, to_dict, updated
from sam2_studio.effects.refine import RefineParams
from sam2_studio.effects.registry import (
    BUILTIN_EFFECTS,
    EffectInfo,
    PluginProblem,
    Registry,
    bundled_plugins_dir,
    load_registry,
)
from sam2_studio.effects.render import RenderedFrame, Renderer, Skipped
from sam2_studio.effects.stack import EffectEntry, ObjectStack

__all__ = [
    "API_VERSION",
    "BUILTIN_EFFECTS",
    "Box",
    "Color",
    "Effect",
    "EffectContext",
    "EffectEntry",
    "EffectError",
    "EffectInfo",
    "FrameContext",
    "InMemoryClip",
    "ObjectStack",
    "ParamSpec",
    "PluginProblem",
    "RefineParams",
    "RefinedClip",
    "Registry",
    "RenderedFrame",
    "Renderer",
    "Skipped",
    "Target",
    "as_matte",
    "bundled_plugins_dir",
    "from_dict",
    "load_registry",
    "param",
    "specs",
    "to_dict",
    "updated",
]
