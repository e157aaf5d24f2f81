"""Per-object effect stacks: the refinement and the ordered effects, as stored in a project.

Stacks are immutable values (frozen dataclasses with tuples): an edit makes a new stack, so
the project's undo history can keep the old one as it is. An entry whose effect is not
available (a plugin that is missing or disabled) keeps its parameters as the plain dict it
was loaded from, so saving the project never loses them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sam2_studio.effects import params as P
from sam2_studio.effects.effect import Target
from sam2_studio.effects.errors import EffectError
from sam2_studio.effects.refine import RefineParams

if TYPE_CHECKING:
    from sam2_studio.effects.registry import Registry


@dataclass(frozen=True)
class EffectEntry:
    """One effect in a stack: which effect, its parameters, where it acts, how strongly."""

    effect: str
    params: Any  # the effect's Params instance; a dict when the effect is not available
    target: Target = Target.OBJECT
    enabled: bool = True
    mix: float = 1.0  # 0..1: how much of the effect's result shows over its input

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Target(self.target))
        object.__setattr__(self, "mix", min(1.0, max(0.0, float(self.mix))))

    @property
    def available(self) -> bool:
        """False when the effect was not found on loading (its parameters are kept raw)."""
        return not isinstance(self.params, dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "target": self.target.value,
            "enabled": self.enabled,
            "mix": self.mix,
            "params": dict(self.params)
            if isinstance(self.params, dict)
            else P.to_dict(self.params),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], registry: Registry) -> EffectEntry:
        if not isinstance(data, Mapping) or not isinstance(data.get("effect"), str):
            raise EffectError(f"an effect entry needs an 'effect' name: {data!r}")
        effect_id = data["effect"]
        raw = data.get("params") or {}
        effect = registry.find(effect_id)
        params: Any = dict(raw) if effect is None else P.from_dict(effect.Params, raw)
        try:
            target = Target(data.get("target", Target.OBJECT))
        except ValueError:
            raise EffectError(f"{effect_id}: unknown target {data.get('target')!r}") from None
        if effect is not None and target not in effect.targets:
            target = effect.targets[0]
        mix = data.get("mix", 1.0)
        if isinstance(mix, bool) or not isinstance(mix, (int, float)):
            raise EffectError(f"{effect_id}: mix must be a number, not {mix!r}")
        return cls(effect_id, params, target, bool(data.get("enabled", True)), float(mix))


@dataclass(frozen=True)
class ObjectStack:
    """Everything done to one object's pixels, in order: refinement, then each effect.

    ``holdout``: other objects' background effects leave this object alone (two people
    colour-popped both stay in colour). Turn it off to let a tracked object count as
    background. An object whose stack removes it is never held out.
    """

    refine: RefineParams = field(default_factory=RefineParams)
    effects: tuple[EffectEntry, ...] = ()
    holdout: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "effects", tuple(self.effects))

    # -- edits, each returning a new stack --------------------------------------------------
    def with_refine(self, refine: RefineParams) -> ObjectStack:
        return dataclasses.replace(self, refine=refine)

    def added(self, entry: EffectEntry, at: int | None = None) -> ObjectStack:
        effects = list(self.effects)
        effects.insert(len(effects) if at is None else at, entry)
        return dataclasses.replace(self, effects=tuple(effects))

    def replaced(self, at: int, entry: EffectEntry) -> ObjectStack:
        effects = list(self.effects)
        effects[at] = entry
        return dataclasses.replace(self, effects=tuple(effects))

    def removed(self, at: int) -> ObjectStack:
        effects = list(self.effects)
        del effects[at]
        return dataclasses.replace(self, effects=tuple(effects))

    def moved(self, source: int, dest: int) -> ObjectStack:
        effects = list(self.effects)
        effects.insert(dest, effects.pop(source))
        return dataclasses.replace(self, effects=tuple(effects))

    # -- JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "refine": P.to_dict(self.refine),
            "effects": [e.to_dict() for e in self.effects],
            "holdout": self.holdout,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], registry: Registry) -> ObjectStack:
        if not isinstance(data, Mapping):
            raise EffectError(f"an effect stack must be an object, not {data!r}")
        effects = data.get("effects", [])
        if not isinstance(effects, list):
            raise EffectError(f"'effects' must be a list, not {effects!r}")
        return cls(
            refine=P.from_dict(RefineParams, data.get("refine")),
            effects=tuple(EffectEntry.from_dict(e, registry) for e in effects),
            holdout=bool(data.get("holdout", True)),
        )
