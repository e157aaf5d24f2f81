"""Edges: what SAM 2's logit grid costs a matte at 1080p and 4K, and what the detail pass
gives back.

SAM 2 predicts a frame's mask as logits on a grid a quarter of its input size (256×256 at
1024), upsampled to the frame: at 4K one cell covers 15×8 pixels. On a folder of frames and
ground-truth masks, at each output size (the frames and masks upscaled to it), this reports
J (IoU) and boundary F at the DAVIS tolerance (0.8% of the diagonal) and at 2 pixels for

  (a) the ground truth reduced to the model's grid and back: what the grid alone costs,
      whatever the model (no checkpoint needed);
  (b) the masks tracked by the model from the first frame's ground truth (given as a mask),
      on the later frames, when a checkpoint is given;
  (c) the same masks after the detail pass, with its time per object-frame (wall and CPU)
      and the share of the frame its encoder saw.

``--timing`` measures only the detail pass's cost: with random weights at the model's input
size the time is a real model's (the same operations), the masks meaningless.

    .venv/bin/python bench/edges.py ../shared/data/davis16_car-shadow
    .venv/bin/python bench/edges.py FOLDER --checkpoint sam2.1_hiera_large.pt --frames 20
    .venv/bin/python bench/edges.py FOLDER --timing --frames 3
    .venv/bin/python bench/edges.py FOLDER --random-weights --image-size 128   # plumbing only

FOLDER holds ``JPEGImages/`` and ``Annotations/`` (the DAVIS layout), or give ``--masks DIR``
with FOLDER the frames; frames and masks pair by file stem. A mask is every non-zero pixel,
or those of ``--label N`` (DAVIS 2017 palette masks).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from common import ROOT  # noqa: F401,I001 - puts the repository on sys.path

from sam2_studio.app.detail import DetailStats
from sam2_studio.engine.detail import DetailParams, PredictorSegmenter, detail_pass

SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160)}
DAVIS_TOLERANCE = 0.008  # of the image diagonal


# == the data ==============================================================================
@dataclass
class Clip:
    frames: list[Path]
    masks: list[Path]
    label: int | None = None

    def frame(self, i: int) -> np.ndarray:
        bgr = cv2.imread(str(self.frames[i]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"{self.frames[i]}: not an image")
        return np.ascontiguousarray(bgr[:, :, ::-1])

    def mask(self, i: int) -> np.ndarray:
        lab = cv2.imread(str(self.masks[i]), cv2.IMREAD_UNCHANGED)
        if lab is None:
            raise SystemExit(f"{self.masks[i]}: not an image")
        if lab.ndim == 3:
            lab = lab[..., 0]
        return lab > 0 if self.label is None else lab == self.label


def find_clip(folder: Path, masks: Path | None, label: int | None, count: int | None) -> Clip:
    frames_dir = folder / "JPEGImages" if (folder / "JPEGImages").is_dir() else folder
    masks_dir = masks or folder / "Annotations"
    images = {p.stem: p for p in sorted(frames_dir.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")}
    truths = {p.stem: p for p in sorted(masks_dir.iterdir()) if p.suffix.lower() == ".png"}
    stems = [s for s in images if s in truths]
    if not stems:
        raise SystemExit(f"{folder}: no frames with a ground-truth mask of the same name in {masks_dir}")
    stems = stems[:count] if count else stems
    return Clip([images[s] for s in stems], [truths[s] for s in stems], label)


def parse_size(text: str) -> tuple[str, tuple[int, int]]:
    if text.lower() in SIZES:
        return text.lower(), SIZES[text.lower()]
    w, _, h = text.lower().partition("x")
    return text, (int(w), int(h))


def upscale_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)


def upscale_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The truth at the output size: smooth edges, not the source's pixel stairs."""
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) >= 0.5


def through_grid(mask: np.ndarray, cells: int) -> np.ndarray:
    """``mask`` as the model's grid can hold it: averaged into ``cells``² cells (the frame
    squashed to a square, as the model sees it) and upsampled back bilinearly."""
    h, w = mask.shape
    grid = cv2.resize(mask.astype(np.float32), (cells, cells), interpolation=cv2.INTER_AREA)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5


# == the measures ==========================================================================
def jaccard(mask: np.ndarray, truth: np.ndarray) -> float:
    union = np.count_nonzero(mask | truth)
    return 1.0 if union == 0 else np.count_nonzero(mask & truth) / union


def boundary(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary: pixels that differ from their right, lower or lower-right
    neighbour (the DAVIS ``seg2bmap`` rule at the mask's own resolution)."""
    m = mask.astype(bool)
    b = np.zeros_like(m)
    b[:, :-1] |= m[:, :-1] != m[:, 1:]
    b[:-1, :] |= m[:-1, :] != m[1:, :]
    b[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]
    return b


def boundary_f(mask: np.ndarray, truth: np.ndarray, tolerance: float) -> float:
    """Boundary F measure; ``tolerance`` in pixels, or below 1 a fraction of the diagonal."""
    h, w = truth.shape
    px = tolerance if tolerance >= 1 else math.ceil(tolerance * math.hypot(h, w))
    a, b = boundary(mask), boundary(truth)
    na, nb = np.count_nonzero(a), np.count_nonzero(b)
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    r = int(px)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    a_near = cv2.dilate(a.astype(np.uint8), disk) > 0
    b_near = cv2.dilate(b.astype(np.uint8), disk) > 0
    precision = np.count_nonzero(a & b_near) / na
    recall = np.count_nonzero(b & a_near) / nb
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@dataclass
class Scores:
    j: list[float] = field(default_factory=list)
    f_davis: list[float] = field(default_factory=list)
    f_2px: list[float] = field(default_factory=list)

    def add(self, mask: np.ndarray, truth: np.ndarray) -> None:
        self.j.append(jaccard(mask, truth))
        self.f_davis.append(boundary_f(mask, truth, DAVIS_TOLERANCE))
        self.f_2px.append(boundary_f(mask, truth, 2))

    def row(self) -> str:
        if not self.j:
            return "     –        –        –"
        return f"{np.mean(self.j):6.3f}   {np.mean(self.f_davis):6.3f}   {np.mean(self.f_2px):6.3f}"


def timed_pass(frame: np.ndarray, mask: np.ndarray, seg: PredictorSegmenter, params: DetailParams,
               cost: DetailStats) -> np.ndarray:
    """The detail pass's matte cut at 0.5 (the tracked mask where it is skipped)."""
    result = detail_pass(frame, mask, seg, params)
    cost.add(result)
    matte = result.matte(mask.shape)
    return mask if matte is None else matte >= 0.5


# == the cases =============================================================================
def grid_only(clip: Clip, size: tuple[int, int], cells: int) -> Scores:
    scores = Scores()
    for i in range(len(clip.frames)):
        truth = upscale_mask(clip.mask(i), size)
        scores.add(through_grid(truth, cells), truth)
    return scores


def tracked(clip: Clip, size: tuple[int, int], model: object, params: DetailParams,
            detail: bool) -> tuple[Scores, Scores, DetailStats]:
    """(b) and (c): track from the first frame's truth, measure every later frame."""
    from sam2_studio.engine import GeneratedFrames, VideoSession

    n = len(clip.frames)
    frames = GeneratedFrames(n, size, lambda i: upscale_frame(clip.frame(i), size))
    session = VideoSession(model, frames, "sam2")
    session.add_mask(0, 1, upscale_mask(clip.mask(0), size))
    seg = PredictorSegmenter(model)
    plain, refined, cost = Scores(), Scores(), DetailStats()
    for result in session.propagate(start=0, direction="forward"):
        if result.frame == 0:
            continue
        truth = upscale_mask(clip.mask(result.frame), size)
        mask = result.masks.get(1, np.zeros_like(truth))
        plain.add(mask, truth)
        if detail:
            refined.add(timed_pass(frames.get(result.frame), mask, seg, params, cost), truth)
    return plain, refined, cost


def timing_only(clip: Clip, size: tuple[int, int], model: object, params: DetailParams) -> DetailStats:
    """The pass on the truth's masks: its cost does not depend on the weights."""
    seg = PredictorSegmenter(model)
    cost = DetailStats()
    for i in range(len(clip.frames)):
        timed_pass(upscale_frame(clip.frame(i), size), upscale_mask(clip.mask(i), size), seg, params, cost)
    return cost


def load_model(args: argparse.Namespace) -> tuple[object, str]:
    from sam2_studio.app.model_source import CheckpointFile, RandomWeights

    if args.checkpoint:
        loaded = CheckpointFile(Path(args.checkpoint), None, args.device, image_size=args.image_size or 1024).load()
    else:
        loaded = RandomWeights(args.variant, image_size=args.image_size or 1024, device=args.device).load()
    return loaded.model, loaded.info.label


def run(argv: list[str] | None = None, out: Callable[[str], None] = print) -> dict[str, dict[str, object]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--masks", type=Path, help="the ground-truth masks (default FOLDER/Annotations)")
    p.add_argument("--label", type=int, help="the object's label in the masks (default: any non-zero)")
    p.add_argument("--frames", type=int, help="the first N frames only")
    p.add_argument("--sizes", nargs="+", default=["1080p", "4k"], help="1080p, 4k or WxH (default both)")
    p.add_argument("--checkpoint", help="a SAM 2 / 2.1 checkpoint: also (b) tracked and (c) detail pass")
    p.add_argument("--random-weights", action="store_true", help="(b) and (c) with an untrained model: plumbing only")
    p.add_argument("--timing", action="store_true", help="only the detail pass's cost, random weights")
    p.add_argument("--variant", default="sam2.1_hiera_tiny", help="architecture for random weights")
    p.add_argument("--image-size", type=int, help="the model's input size (default 1024)")
    p.add_argument("--device", help="cpu, cuda or mps (default: the best present)")
    args = p.parse_args(argv)
    clip = find_clip(args.folder, args.masks, args.label, args.frames)
    input_size = args.image_size or 1024
    cells = input_size // 4
    params = DetailParams()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out(f"{args.folder}: {len(clip.frames)} frames; logit grid {cells}×{cells} (input {input_size}); "
        f"{os.cpu_count()} CPUs, load {load:.1f} (CPU time is the fair figure on a shared machine)")
    model = label = None
    if args.checkpoint or args.random_weights or args.timing:
        model, label = load_model(args)
        out(f"model: {label}" + ("  (random weights: masks meaningless)" if not args.checkpoint else ""))
    results: dict[str, dict[str, object]] = {}
    out(f"{'size':>10}  {'case':<34}     J    F@DAVIS   F@2px")
    for text in args.sizes:
        name, size = parse_size(text)
        res: dict[str, object] = {}
        if not args.timing:
            res["grid"] = grid = grid_only(clip, size, cells)
            out(f"{name:>10}  {'(a) truth through the grid':<34} {grid.row()}")
        if model is not None and not args.timing:
            plain, refined, cost = tracked(clip, size, model, params, detail=True)
            res.update(tracked=plain, detail=refined, cost=cost)
            out(f"{name:>10}  {'(b) tracked':<34} {plain.row()}")
            out(f"{name:>10}  {'(c) tracked + detail pass':<34} {refined.row()}")
            out(f"{'':>10}  {cost}")
        if args.timing:
            res["cost"] = cost = timing_only(clip, size, model, params)
            out(f"{name:>10}  {cost}")
        results[name] = res
    return results


if __name__ == "__main__":
    run(sys.argv[1:])
