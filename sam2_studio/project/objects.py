"""The objects a user tracks, and the opaque JSON that other layers keep on them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sam2_studio.project.resolution import TrackedAt

Color = tuple[int, int, int]

# Distinct on dark and light footage, in the order users get them (Tableau 10).
PALETTE: tuple[Color, ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)

MAX_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Opaque:
    """JSON owned by another layer (effect stacks, refinement settings), kept as text.

    Holding the text keeps an object immutable and comparable, so an edit can only happen
    through an undoable command, and the history knows its size in bytes.
    """

    text: str = "null"

    @classmethod
    def of(cls, value: Any) -> Opaque:
        try:
            return cls(json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":")))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not JSON data: {exc}") from None

    @property
    def value(self) -> Any:
        """A fresh copy: changing it changes nothing in the document."""
        return json.loads(self.text)


@dataclass(frozen=True, slots=True)
class TrackedObject:
    """One object of the project; replaced whole on every change (see ``Document``)."""

    id: int
    name: str
    color: Color
    visible: bool = True
    locked: bool = False
    effects: Opaque = field(default_factory=lambda: Opaque("[]"))
    refinement: Opaque = field(default_factory=Opaque)
    tracked_at: TrackedAt = field(default_factory=TrackedAt)  # working resolution of tracked frames

    @property
    def nbytes(self) -> int:
        return 200 + len(self.name) + len(self.effects.text) + len(self.refinement.text) + 16 * len(self.tracked_at.ranges)


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("an object needs a name")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"an object name has at most {MAX_NAME_LENGTH} characters")
    return name


def parse_color(value: object) -> Color:
    """``(r, g, b)`` with 0–255 components, or ``"#rrggbb"``."""
    if isinstance(value, str):
        m = re.fullmatch(r"#?([0-9a-fA-F]{6})", value.strip())
        if not m:
            raise ValueError(f"not a colour: {value!r} (use #rrggbb)")
        h = m.group(1)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if (isinstance(value, (tuple, list)) and len(value) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise ValueError(f"not a colour: {value!r} (three integers 0–255)")


def color_hex(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)
