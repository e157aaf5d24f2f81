"""What the user told the model on a frame: clicks, boxes and brush strokes.

Coordinates are in source-frame pixels, x to the right and y down, with the origin at the
top-left corner of the top-left pixel: the pixel in column c and row r covers
[c, c+1) × [r, r+1) and its centre is (c + 0.5, r + 0.5). Each prompt carries an id, unique
in its document, so a view can point at "this click" across moves and undos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class PointPrompt:
    """A click: ``positive`` means "this is the object", otherwise "this is not"."""

    id: int
    x: float
    y: float
    positive: bool = True

    def moved(self, dx: float, dy: float) -> PointPrompt:
        return replace(self, x=self.x + dx, y=self.y + dy)


@dataclass(frozen=True, slots=True)
class BoxPrompt:
    """A box around the object; corners are kept ordered (x0 ≤ x1, y0 ≤ y1)."""

    id: int
    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        if self.x0 > self.x1:
            x0, x1 = self.x1, self.x0
            object.__setattr__(self, "x0", x0)
            object.__setattr__(self, "x1", x1)
        if self.y0 > self.y1:
            y0, y1 = self.y1, self.y0
            object.__setattr__(self, "y0", y0)
            object.__setattr__(self, "y1", y1)

    def moved(self, dx: float, dy: float) -> BoxPrompt:
        return replace(self, x0=self.x0 + dx, y0=self.y0 + dy, x1=self.x1 + dx, y1=self.y1 + dy)


@dataclass(frozen=True, slots=True)
class BrushStroke:
    """A painted stroke: a polyline of centres swept by a disc of ``radius`` pixels; it adds
    to the mask, or removes from it when ``erase``. Its pixels are already in the frame's mask;
    it is kept so the engine can use the corrected mask as a prompt and the user can see it.
    """

    id: int
    points: tuple[tuple[float, float], ...]
    radius: float
    erase: bool = False

    def moved(self, dx: float, dy: float) -> BrushStroke:
        return replace(self, points=tuple((x + dx, y + dy) for x, y in self.points))


Prompt = PointPrompt | BoxPrompt | BrushStroke


def prompt_nbytes(prompt: Prompt) -> int:
    if isinstance(prompt, BrushStroke):
        return 120 + 16 * len(prompt.points)
    return 120


def check_prompt(prompt: Prompt, width: int, height: int) -> None:
    """Refuse coordinates a model cannot use: not finite, or off the frame."""
    if isinstance(prompt, PointPrompt):
        coords = [(prompt.x, prompt.y)]
    elif isinstance(prompt, BoxPrompt):
        coords = [(prompt.x0, prompt.y0), (prompt.x1, prompt.y1)]
        if prompt.x0 == prompt.x1 or prompt.y0 == prompt.y1:
            raise ValueError("a box needs a width and a height")
    elif isinstance(prompt, BrushStroke):
        coords = list(prompt.points)
        if not coords:
            raise ValueError("a brush stroke needs at least one point")
        if not (math.isfinite(prompt.radius) and prompt.radius > 0):
            raise ValueError(f"a brush radius is positive, got {prompt.radius}")
        return _check_finite(coords)  # strokes may leave the frame: the mask is clipped
    else:
        raise TypeError(f"not a prompt: {prompt!r}")
    _check_finite(coords)
    for x, y in coords:
        if not (0 <= x <= width and 0 <= y <= height):
            raise ValueError(f"({x:g}, {y:g}) is outside the {width}×{height} frame")


def _check_finite(coords: list[tuple[float, float]]) -> None:
    for x, y in coords:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"coordinates must be finite numbers, got ({x}, {y})")
