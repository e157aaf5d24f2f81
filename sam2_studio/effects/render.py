"""The whole-frame renderer: every object's refinement and effect stack, in a defined order.

Order for frame ``i``:

1. each object's matte is refined (``refine.py``; cached in a :class:`RefinedClip`);
2. objects are visited in layer order (the ``order`` given, else the clip's object order,
   first = bottom), and each object's enabled effects run top to bottom of its stack, each
   on the result of the previous one;
3. an effect on the *object* sees the object's refined matte; an effect on the
   *background* sees ``1 − union`` of this object and every held-out object present in the
   frame (see :class:`ObjectStack`), so colour-popping two people keeps both in colour;
   the same background effect with the same settings on several objects runs once;
4. ``mix`` below 1 fades an effect's result over its input;
5. effects that return an alpha multiply it into the output's (straight) alpha, which is
   ``None`` — opaque — until one does.

A plugin effect that raises or returns a wrong image is skipped for this frame, its plugin
disabled and the problem returned with the frame; built-in effects' errors propagate
(they are bugs, not a plugin's misbehaviour).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from sam2_studio.effects import params as P
from sam2_studio.effects.context import Box, FrameContext
from sam2_studio.effects.effect import Effect, EffectContext, Target
from sam2_studio.effects.mattes import RefinedClip
from sam2_studio.effects.registry import PluginProblem, Registry, resolve_params
from sam2_studio.effects.stack import EffectEntry, ObjectStack


@dataclass(frozen=True)
class Skipped:
    """A stack entry that did not render on this frame, and why."""

    obj: int
    effect: str
    reason: str


@dataclass(frozen=True)
class RenderedFrame:
    """A finished frame: RGB uint8 (may be read-only: copy before drawing on it), and a
    straight alpha (float32 0..1) when an effect made something transparent."""

    index: int
    rgb: np.ndarray
    alpha: np.ndarray | None
    problems: tuple[PluginProblem, ...] = ()
    skipped: tuple[Skipped, ...] = ()


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class _Frame:
    """Refined mattes of one frame, expanded once and shared by the effects that ask."""

    def __init__(self, mattes: RefinedClip, index: int, shape: tuple[int, int]) -> None:
        self.mattes, self.index, self.shape = mattes, index, shape
        self._full: dict[int, tuple[np.ndarray, Box] | None] = {}
        self._backgrounds: dict[frozenset[int], tuple[np.ndarray, Box | None]] = {}
        self.empty = _readonly(np.zeros(shape, np.float32))

    def object(self, obj: int) -> tuple[np.ndarray, Box] | None:
        if obj not in self._full:
            got = self.mattes.full(obj, self.index)
            self._full[obj] = None if got is None else (_readonly(got[0]), got[1])
        return self._full[obj]

    def background(self, held: frozenset[int]) -> tuple[np.ndarray, Box | None]:
        """``1 − union`` of the held objects' mattes, and the box where it is below 1."""
        if held not in self._backgrounds:
            union: np.ndarray | None = None
            box: Box | None = None
            for obj in sorted(held):
                got = self.object(obj)
                if got is None:
                    continue
                m, b = got
                box = b.union(box)
                union = m if union is None else cv2.max(union, m)
            region = np.ones(self.shape, np.float32) if union is None else 1.0 - union
            self._backgrounds[held] = (_readonly(region), box)
        return self._backgrounds[held]


class Renderer:
    """Renders frames of one clip with per-object stacks; one per consumer (editor, export).

    The editor calls :meth:`render` for the frame on screen and :meth:`set_stack` /
    :meth:`invalidate` as the user edits; the exporter calls :meth:`render` for each index
    in turn and keeps :meth:`frames_needed` frames around the current one in its decoder
    cache. Effects' instances (and their caches) live as long as the renderer.
    """

    def __init__(
        self,
        clip: FrameContext,
        stacks: Mapping[int, ObjectStack] | None = None,
        *,
        registry: Registry | None = None,
        order: Sequence[int] | None = None,
        cache_bytes: int = 256 << 20,
    ) -> None:
        self.registry = registry if registry is not None else Registry()
        self.mattes = RefinedClip(clip, cache_bytes=cache_bytes)
        self._stacks: dict[int, ObjectStack] = {}
        self._order: tuple[int, ...] | None = None
        self._effects: dict[str, Effect] = {}
        self._state: dict[str, dict] = {}
        self.set_stacks(stacks or {}, order)

    @property
    def clip(self) -> FrameContext:
        return self.mattes.source

    # -- the document ---------------------------------------------------------------------
    def set_stacks(
        self, stacks: Mapping[int, ObjectStack], order: Sequence[int] | None = None
    ) -> None:
        """Replace every stack (objects missing from ``stacks`` get none) and the layer order."""
        for obj in set(self._stacks) - set(stacks):
            self.mattes.set_params(obj, ObjectStack().refine)
        self._stacks = {}
        for obj, stack in stacks.items():
            self.set_stack(obj, stack)
        self._order = None if order is None else tuple(order)

    def set_stack(self, obj: int, stack: ObjectStack) -> None:
        self._stacks[obj] = stack
        self.mattes.set_params(obj, stack.refine)

    def stack(self, obj: int) -> ObjectStack:
        return self._stacks.get(obj, ObjectStack())

    @property
    def order(self) -> tuple[int, ...]:
        base = list(self._order) if self._order is not None else list(self.clip.objects)
        return tuple(base + [o for o in self._stacks if o not in base])

    def invalidate(self, obj: int | None = None, frames: Sequence[int] | None = None) -> None:
        """The source mattes changed (a correction, a new propagation): forget derived ones."""
        self.mattes.invalidate(obj, frames)

    def frames_needed(self) -> int:
        """Frames before and after the current one that rendering reads (decoder cache)."""
        smoothing = max((s.refine.temporal for s in self._stacks.values()), default=0)
        reach = 0
        for stack in self._stacks.values():
            for entry in stack.effects:
                cls = self.registry.get(entry.effect)
                if entry.enabled and cls is not None:
                    reach = max(reach, self._effect(cls).frames_needed(resolve_params(entry, cls)))
        return reach + smoothing

    # -- rendering ------------------------------------------------------------------------
    def _effect(self, cls: type[Effect]) -> Effect:
        effect = self._effects.get(cls.id)
        if effect is None or type(effect) is not cls:
            effect = self._effects[cls.id] = cls()
            self._state[cls.id] = {}
        return effect

    def _held_out(self) -> frozenset[int]:
        held = set()
        for obj in self.order:
            stack = self.stack(obj)
            hides = any(
                e.enabled and (cls := self.registry.get(e.effect)) is not None and cls.hides_object
                for e in stack.effects
            )
            if stack.holdout and not hides:
                held.add(obj)
        return frozenset(held)

    def matte(self, obj: int, index: int) -> np.ndarray | None:
        """The refined matte of an object (what matte exports write)."""
        return self.mattes.matte(obj, index)

    def render(self, index: int) -> RenderedFrame:
        source = self.clip.frame(index)
        out = _readonly(source)
        alpha: np.ndarray | None = None
        problems: list[PluginProblem] = []
        skipped: list[Skipped] = []
        frame = _Frame(self.mattes, index, source.shape[:2])
        held = self._held_out()
        done_backgrounds: set[str] = set()

        for obj in self.order:
            for entry in self.stack(obj).effects:
                if not entry.enabled or entry.mix <= 0.0:
                    continue
                cls = self.registry.get(entry.effect)
                if cls is None:
                    reason = self.registry.unavailable_reason(entry.effect) or "unavailable"
                    skipped.append(Skipped(obj, entry.effect, reason))
                    continue
                params = resolve_params(entry, cls)
                own = frame.object(obj)
                if entry.target is Target.OBJECT:
                    if own is None:
                        continue  # not in this frame
                    matte, box = own
                    outside = 0.0
                else:
                    region = held | {obj}
                    key = json.dumps(
                        [entry.effect, P.to_dict(params), entry.mix, sorted(region)], sort_keys=True
                    )
                    if key in done_backgrounds:
                        continue  # the same effect on the same region already ran
                    done_backgrounds.add(key)
                    matte, box = frame.background(region)
                    outside = 1.0
                ctx = EffectContext(
                    index=index,
                    obj=obj,
                    target=entry.target,
                    clip=self.mattes,
                    object_matte=own[0] if own is not None else frame.empty,
                    box=box,
                    outside=outside,
                    state=self._state_of(cls),
                )
                result = self._run(cls, entry, out, matte, params, ctx, problems)
                if result is None:
                    continue
                rgb, a = result
                if entry.mix < 1.0:
                    rgb = cv2.addWeighted(rgb, entry.mix, out, 1.0 - entry.mix, 0.0)
                    if a is not None:
                        a = 1.0 - np.float32(entry.mix) * (1.0 - a)
                out = _readonly(rgb)
                if a is not None:
                    alpha = a if alpha is None else alpha * a
        return RenderedFrame(index, out, alpha, tuple(problems), tuple(skipped))

    def _state_of(self, cls: type[Effect]) -> dict:
        self._effect(cls)
        return self._state[cls.id]

    def _run(
        self,
        cls: type[Effect],
        entry: EffectEntry,
        frame: np.ndarray,
        matte: np.ndarray,
        params: object,
        ctx: EffectContext,
        problems: list[PluginProblem],
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Run one effect and check what it returned; a plugin's failure disables it."""
        plugin = self.registry.info(cls.id).plugin  # type: ignore[union-attr]
        try:
            result = self._effect(cls).apply(frame, matte, params, ctx)
            return _checked(result, frame.shape)
        except Exception as exc:
            if plugin is None:
                raise
            problems.append(self.registry.report_failure(cls.id, exc))
            return None


def _checked(result: object, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    alpha = None
    if isinstance(result, tuple):
        if len(result) != 2:
            raise ValueError("apply() returned a tuple that is not (frame, alpha)")
        result, alpha = result
        alpha = np.asarray(alpha, np.float32)
        if alpha.shape != shape[:2]:
            raise ValueError(f"apply() returned an alpha of shape {alpha.shape}, not {shape[:2]}")
    if not isinstance(result, np.ndarray) or result.shape != shape or result.dtype != np.uint8:
        got = getattr(result, "shape", type(result).__name__), getattr(result, "dtype", "")
        raise ValueError(f"apply() must return a uint8 frame of shape {shape}, got {got}")
    return result, alpha
