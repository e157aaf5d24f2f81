"""Typed, serialisable effect parameters.

Every effect (and the matte refinement) describes its settings as a frozen dataclass whose
fields are declared with :func:`param`. That one declaration gives the default, the range
and the words an editor needs to build a control (:func:`specs`), and the JSON form the
project file stores (:func:`to_dict` / :func:`from_dict`). Loading is forgiving where a file
may be older or newer than the code (missing keys take their defaults, unknown keys are
ignored, numbers outside a range are clamped to it) and strict where the value makes no
sense (a word where a number belongs), so a damaged project says so instead of rendering
something else.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from sam2_studio.effects.errors import EffectError

KINDS = ("float", "int", "bool", "choice", "color", "path", "text")

P = TypeVar("P")


class Color(NamedTuple):
    """An sRGB colour, 0..255 per channel; JSON stores it as ``"#rrggbb"``."""

    r: int
    g: int
    b: int

    @classmethod
    def parse(cls, value: object) -> Color:
        """Accept ``"#rrggbb"``, ``"rrggbb"`` or a sequence of three 0..255 numbers."""
        if isinstance(value, str):
            text = value.strip().lstrip("#")
            if len(text) == 6:
                try:
                    return cls(int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
                except ValueError:
                    pass
        elif isinstance(value, (list, tuple)) and len(value) == 3:
            try:
                return cls(*(min(255, max(0, int(round(float(c))))) for c in value))
            except (TypeError, ValueError):
                pass
        raise ValueError(f"{value!r} is not a colour (expected '#rrggbb')")

    @property
    def hex(self) -> str:
        return f"#{self.r:02x}{self.g:02x}{self.b:02x}"


@dataclass(frozen=True)
class ParamSpec:
    """What an editor needs to build one control."""

    name: str
    kind: str
    default: Any
    label: str
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    file_filter: str = ""


def param(
    default: Any,
    *,
    label: str | None = None,
    help: str = "",
    min: float | None = None,  # noqa: A002 - reads like the editor control it describes
    max: float | None = None,  # noqa: A002
    step: float | None = None,
    unit: str = "",
    choices: tuple[str, ...] = (),
    kind: str | None = None,
    file_filter: str = "",
) -> Any:
    """Declare one parameter field (use inside a frozen dataclass)."""
    info = {
        "label": label,
        "help": help,
        "min": min,
        "max": max,
        "step": step,
        "unit": unit,
        "choices": tuple(choices),
        "kind": kind,
        "file_filter": file_filter,
    }
    return dataclasses.field(default=default, metadata={"param": info})


@dataclass(frozen=True)
class NoParams:
    """The parameters of an effect that has none."""


def _kind_of(annotation: Any, info: Mapping[str, Any]) -> str:
    if info.get("kind"):
        kind = str(info["kind"])
    elif info.get("choices"):
        kind = "choice"
    elif annotation is bool:
        kind = "bool"
    elif annotation is int:
        kind = "int"
    elif annotation is float:
        kind = "float"
    elif annotation is Color:
        kind = "color"
    elif annotation is str:
        kind = "text"
    else:
        raise TypeError(f"parameter type {annotation!r} is not one of {KINDS}")
    if kind not in KINDS:
        raise TypeError(f"parameter kind {kind!r} is not one of {KINDS}")
    return kind


@functools.cache
def specs(cls: type) -> tuple[ParamSpec, ...]:
    """The controls of a parameter dataclass, in declaration order."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a parameter dataclass")
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        info = f.metadata.get("param", {})
        if f.default is dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name} needs a default")
        kind = _kind_of(hints[f.name], info)
        out.append(
            ParamSpec(
                name=f.name,
                kind=kind,
                default=f.default,
                label=info.get("label") or f.name.replace("_", " ").capitalize(),
                help=info.get("help", ""),
                minimum=info.get("min"),
                maximum=info.get("max"),
                step=info.get("step"),
                unit=info.get("unit", ""),
                choices=tuple(info.get("choices", ())),
                file_filter=info.get("file_filter", ""),
            )
        )
    return tuple(out)


def _coerce(spec: ParamSpec, value: Any, where: str) -> Any:
    """The value in the field's type, clamped to its range; EffectError if it cannot be."""
    try:
        if spec.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError
        if spec.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            if spec.minimum is not None:
                number = max(float(spec.minimum), number)
            if spec.maximum is not None:
                number = min(float(spec.maximum), number)
            return int(round(number)) if spec.kind == "int" else number
        if spec.kind == "color":
            return Color.parse(value)
        if not isinstance(value, str):
            raise ValueError
        if spec.kind == "choice" and value not in spec.choices:
            raise EffectError(f"{where}: {value!r} is not one of {', '.join(spec.choices)}")
        return value
    except ValueError:
        raise EffectError(f"{where}: {value!r} is not a valid {spec.kind}") from None


def updated(params: P, **changes: Any) -> P:
    """A copy with some fields changed, each checked and clamped as when loading."""
    by_name = {s.name: s for s in specs(type(params))}
    clean = {}
    for name, value in changes.items():
        if name not in by_name:
            raise EffectError(f"{type(params).__name__} has no parameter {name!r}")
        clean[name] = _coerce(by_name[name], value, f"{type(params).__name__}.{name}")
    return dataclasses.replace(params, **clean)  # type: ignore[type-var]


def to_dict(params: Any) -> dict[str, Any]:
    """The JSON-ready form: plain numbers, booleans, strings and ``"#rrggbb"`` colours."""
    out: dict[str, Any] = {}
    for spec in specs(type(params)):
        value = getattr(params, spec.name)
        out[spec.name] = value.hex if isinstance(value, Color) else value
    return out


def from_dict(cls: type[P], data: Mapping[str, Any] | None) -> P:
    """Parameters from their JSON form (see the module docstring for what is forgiven)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise EffectError(f"{cls.__name__}: parameters must be an object, not {data!r}")
    values = {
        spec.name: _coerce(spec, data[spec.name], f"{cls.__name__}.{spec.name}")
        for spec in specs(cls)
        if spec.name in data
    }
    return cls(**values)
