"""A batch shot's effects: the stack each object gets before the shot's outputs are written.

The ``effects`` of a shot in a jobs file is a JSON file (or, in a JSON jobs file, an object
in place) that maps objects to effect stacks::

    {
      "*":   [{"effect": "blur", "target": "background", "params": {"strength": 12}}],
      "car": {"effects": [{"effect": "colour_pop", "target": "background"}],
              "refine": {"feather": 2.0}}
    }

A key is an object's name or id from the shot's prompts file, or ``*`` for every object (a
named object's entry replaces ``*`` for it). A value is a list of effect entries, each as the
project file keeps it (``effect``, ``target``, ``enabled``, ``mix``, ``params``), or a whole
stack (``effects``, ``refine``, ``holdout``). Effects, targets and parameter names are
checked against the effects on offer when the jobs file is read; object names when the shot
runs, before tracking. The stacks are saved in the shot's project, so the editor shows them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sam2_studio.app.exits import InputError
from sam2_studio.app.prompts_file import unknown_key

if TYPE_CHECKING:
    from sam2_studio.effects import Registry
    from sam2_studio.project import Document

ALL = "*"
_STACK_KEYS = ("effects", "refine", "holdout")
_ENTRY_KEYS = ("effect", "target", "enabled", "mix", "params")


@dataclass(frozen=True)
class EffectsSpec:
    """Checked stacks by object key, as canonical JSON (immutable, and the same text for the
    same effects: a shot's fingerprint uses it)."""

    text: str
    source: str  # the effects file, or "inline", for messages

    def stacks(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.text)


def read_effects(value: Any, folder: Path, where: str, jobs_path: Path) -> EffectsSpec:
    """``value``: a path (relative to ``folder``) or the stacks themselves."""
    def fail(what: str) -> InputError:
        return InputError(f"{where}: {what}", jobs_path)

    source = "inline"
    if isinstance(value, str):
        path = Path(value).expanduser()
        path = path if path.is_absolute() else folder / path
        source = str(path)
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise fail(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
        except json.JSONDecodeError as exc:
            raise fail(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column "
                       f"{exc.colno}") from None
    if not isinstance(value, dict) or not value:
        raise fail("expected an effects file, or an object mapping object names (or '*') to "
                   "effects")
    from sam2_studio.app.rendering import registry

    reg = registry()
    stacks = {str(key): _checked_stack(stack, reg, f"[{key!r}]", fail)
              for key, stack in value.items()}
    return EffectsSpec(json.dumps(stacks, sort_keys=True), source)


def _checked_stack(stack: Any, reg: Registry, where: str, fail: Any) -> dict[str, Any]:
    from sam2_studio.effects import EffectError, ObjectStack
    from sam2_studio.effects import params as P
    from sam2_studio.effects.refine import RefineParams

    if isinstance(stack, list):
        stack = {"effects": stack}
    if not isinstance(stack, dict):
        raise fail(f"{where}: expected a list of effects or a stack, got {stack!r}")
    _known(stack, _STACK_KEYS, where, fail)
    entries = stack.get("effects", [])
    if not isinstance(entries, list):
        raise fail(f"{where}.effects: expected a list, got {entries!r}")
    for i, entry in enumerate(entries):
        at = f"{where}.effects[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("effect"), str):
            raise fail(f"{at}: an effect entry is an object with an 'effect' name")
        _known(entry, _ENTRY_KEYS, at, fail)
        cls = reg.get(entry["effect"])
        if cls is None:
            offered = ", ".join(i.id for i in reg.available())
            raise fail(f"{at}.effect: no effect {entry['effect']!r} (effects: {offered})")
        names = tuple(s.name for s in P.specs(cls.Params))
        _known(entry.get("params") or {}, names, f"{at}.params", fail)
        targets = tuple(t.value for t in cls.targets)
        if "target" in entry and entry["target"] not in targets:
            raise fail(f"{at}.target: {cls.id} acts on {' or '.join(targets)}, not "
                       f"{entry['target']!r}")
    refine = stack.get("refine") or {}
    _known(refine, tuple(s.name for s in P.specs(RefineParams)), f"{where}.refine", fail)
    try:
        return ObjectStack.from_dict(stack, reg).to_dict()
    except EffectError as exc:
        raise fail(f"{where}: {exc}") from None


def _known(d: Any, allowed: Sequence[str], where: str, fail: Any) -> None:
    if not isinstance(d, Mapping):
        raise fail(f"{where}: expected an object, got {d!r}")
    for key in d:
        if key not in allowed:
            raise fail(f"{where}: {unknown_key(key, allowed)}")


def stacks_for(spec: EffectsSpec, objects: Sequence[tuple[int, str]],
               path: Path | None = None) -> dict[int, dict[str, Any]]:
    """The stack of each object (id, name) the spec names; an unknown name is an error."""
    stacks = spec.stacks()
    by_name = {name: oid for oid, name in objects}
    ids = {oid for oid, _ in objects}
    out: dict[int, dict[str, Any]] = {}
    if ALL in stacks:
        out = {oid: stacks[ALL] for oid, _ in objects}
    for key, stack in stacks.items():
        if key == ALL:
            continue
        oid = by_name.get(key, int(key) if key.isdigit() and int(key) in ids else None)
        if oid is None:
            names = ", ".join(f"{i} {n!r}" for i, n in objects) or "none"
            raise InputError(f"effects ({spec.source}): the shot has no object {key!r} "
                             f"(objects: {names})", path)
        out[oid] = stack
    return out


def apply_stacks(doc: Document, stacks: Mapping[int, Mapping[str, Any]], label: str) -> None:
    """Put the stacks on the document's objects, as one undo step."""
    from sam2_studio.app.rendering import registry, stack_fields
    from sam2_studio.effects import ObjectStack

    reg = registry()
    with doc.edit_group(label):
        for oid, data in stacks.items():
            stack = ObjectStack.from_dict(data, reg)
            missing = [e.effect for e in stack.effects if not e.available]
            if missing:  # a plugin another machine has and this one lacks
                raise InputError(f"the effect {missing[0]!r} is not available here (a "
                                 "plugin that is missing or disabled on this machine)")
            doc.update_object(oid, **stack_fields(stack))
