"""Clips, prompts and a command runner for the tests of ``segment`` and ``export``.

The car clip is 10 frames of DAVIS car-shadow at 214×120, H.264 with an AAC track, written
once per session; its ground truth comes with it, and ``GroundTruthSource`` (tests/
ground_truth.py) answers prompts with it, so exported mattes can be checked pixel for pixel.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from sam2_studio.app.cli import CliContext, run
from tests.ground_truth import GroundTruthClip, GroundTruthSource

FPS = Fraction(25)


@dataclass
class CarClip:
    video: Path
    truth: GroundTruthClip

    @property
    def size(self) -> tuple[int, int]:
        return self.truth.size

    def mask(self, frame: int) -> np.ndarray:
        return self.truth.mask(frame, 1)

    def box(self, frame: int) -> list[float]:
        ys, xs = np.nonzero(self.mask(frame))
        return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def write_prompts(path: Path, prompts: object) -> Path:
    path.write_text(json.dumps(prompts), encoding="utf-8")
    return path


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(argv: list[str], source: GroundTruthSource | None = None,
        context: CliContext | None = None) -> Result:
    """Run ``sam2-studio ARGV`` in this process; ``source`` stands in for the model."""
    out, err = io.StringIO(), io.StringIO()
    ctx = context or CliContext()
    ctx.stdout, ctx.stderr = out, err
    if source is not None:
        ctx.model_source = lambda args: source

    def no_editor(path: str | None) -> int:
        raise AssertionError(f"the editor was opened on {path}")

    code = run([str(a) for a in argv], no_editor, context=ctx)
    return Result(code, out.getvalue(), err.getvalue())
