"""The detail pass: the model looks again, closer, at each tracked object's edge.

SAM 2 predicts a mask as logits on a grid a quarter of its input size (256×256 at 1024) for
the whole frame: at 4K one cell covers 15×8 pixels, and the edge shows it. The pass crops
the frame around the object's tracked mask (with a margin), runs the image encoder on the
crop at the model's input size, and decodes with the tracked mask (mapped into the crop) and
its box as prompts, exactly as a user would prompt our image predictor on that crop; the
crop's logits, at full resolution, become the object's matte there. Large objects are seen
in overlapping tiles, blended across the seams. Nothing of the tracking session is touched:
the pass refines what the tracker produced, it does not feed back into its memory.

The geometry is ``crops.py``'s; the model is behind :class:`CropSegmenter`, so tests can
put a stand-in there whose output is a known function of its input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sam2_studio.engine.crops import Region, blend, coverage, crop_around, mask_box, tiles_of
from sam2_studio.model.sam2_model import MASK_PROMPT_BIAS, MASK_PROMPT_SCALE

BACKGROUND_LOGIT = float(MASK_PROMPT_BIAS)  # a tile without the object says "not here"


@dataclass(frozen=True)
class DetailParams:
    """How the pass crops; the defaults suit the official 1024 input at 1080p and 4K."""

    margin: float = 0.15  # of the object box's longer side, on every side
    min_margin: int = 16  # pixels
    min_area: int = 256  # objects of fewer pixels are left as tracked: no edge worth a pass
    min_gain: float = 1.5  # skip unless the crop sees the object this much sharper than the frame
    tile_scale: float = 1.5  # tiles of at most this × the model's input size, a side
    overlap: float = 0.125  # of a tile's side, shared with its neighbour
    max_aspect: float = 2.0  # crops are widened to at most this aspect (long over short side)
    max_tiles: int = 16  # beyond this the tiles grow instead
    soft_edge: bool = True  # alpha from the logits' sub-pixel zero crossing; else a hard 0/1 cut


class CropSegmenter(Protocol):
    """The model as the pass needs it: logits at the crop's resolution for one crop."""

    input_size: int

    def __call__(self, image: np.ndarray, box: tuple[float, float, float, float],
                 mask_logits: np.ndarray) -> np.ndarray:
        """``image`` RGB uint8 (h, w, 3); ``box`` in its pixels; ``mask_logits`` (h, w)."""
        ...


class PredictorSegmenter:
    """Our image predictor on each crop: ``set_image`` then ``predict`` with a box and the
    mask as its prompts, one mask out (box + mask leave nothing ambiguous)."""

    def __init__(self, model: object) -> None:
        from sam2_studio.model import ImagePredictor

        self.predictor = ImagePredictor(model)  # type: ignore[arg-type]
        self.input_size = int(model.image_size)  # type: ignore[attr-defined]

    def __call__(self, image: np.ndarray, box: tuple[float, float, float, float],
                 mask_logits: np.ndarray) -> np.ndarray:
        p = self.predictor
        p.set_image(image)
        try:
            out = p.predict(box=box, mask_input=mask_logits, multimask=False, full_logits=True)
        finally:
            p.reset()
        assert out.full_logits is not None
        return out.full_logits[0]


def mask_prompt(mask: np.ndarray) -> np.ndarray:
    """A binary mask as the logits a mask prompt takes (±10, as SAM 2 turns masks into logits)."""
    return np.where(mask, MASK_PROMPT_SCALE + MASK_PROMPT_BIAS, MASK_PROMPT_BIAS).astype(np.float32)


@dataclass(frozen=True)
class DetailPlan:
    """Where the pass will look, or why it will not."""

    region: Region | None
    tiles: tuple[Region, ...] = ()
    skipped: str | None = None  # why nothing is done: empty, too small, nothing to gain
    gain: float = 1.0  # how much finer the crop's logit grid is than the frame's


def plan(mask: np.ndarray, input_size: int, params: DetailParams = DetailParams()) -> DetailPlan:
    """The crop and tiles for one object's mask in a frame of the mask's size."""
    h, w = mask.shape
    box = mask_box(mask)
    if box is None:
        return DetailPlan(None, skipped="the object is not in this frame")
    area = int(np.count_nonzero(mask))
    if area < params.min_area:
        return DetailPlan(None, skipped=f"the object covers {area} pixels, fewer than {params.min_area}")
    region = crop_around(box, (w, h), margin=params.margin, min_margin=params.min_margin,
                         min_side=max(1, input_size // 4), max_aspect=params.max_aspect)
    tile = max(input_size // 4, round(params.tile_scale * input_size))
    overlap = max(1, round(params.overlap * tile))
    tiles = tiles_of(region, tile, overlap)
    while len(tiles) > params.max_tiles:
        tile = round(tile * 1.25)
        tiles = tiles_of(region, tile, overlap)
    tw = max(t.width for t in tiles)
    th = max(t.height for t in tiles)
    gain = min(w / tw, h / th)
    if gain < params.min_gain:
        return DetailPlan(region, tuple(tiles), skipped=f"the crop would see the object only "
                          f"{gain:.2f}× sharper than the frame (less than {params.min_gain}×)",
                          gain=gain)
    return DetailPlan(region, tuple(tiles), gain=gain)


@dataclass(frozen=True)
class DetailResult:
    """One object on one frame after the pass: its matte in ``region`` (zero outside)."""

    region: Region | None
    alpha: np.ndarray | None  # (region.height, region.width) float32 0..1
    tiles: tuple[Region, ...] = ()
    skipped: str | None = None
    seconds: float = 0.0  # wall
    encoded_fraction: float = 0.0  # pixels the encoder saw (all tiles) over the frame's
    cpu_seconds: float = 0.0  # this process's CPU time (the fair figure on a shared machine)

    @property
    def refined(self) -> bool:
        return self.alpha is not None

    @property
    def nbytes(self) -> int:
        return 0 if self.alpha is None else int(self.alpha.nbytes)

    def matte(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The matte at frame size (float32 0..1), or None where the pass was skipped."""
        if self.alpha is None or self.region is None:
            return None
        out = np.zeros(shape, np.float32)
        out[self.region.slices] = self.alpha
        return out


def crop_logits(frame: np.ndarray, mask: np.ndarray, segmenter: CropSegmenter,
                p: DetailPlan) -> tuple[np.ndarray, int]:
    """The model's logits over ``p.region`` at pixel resolution (tiles blended), and how
    many pixels the encoder saw. Each tile is prompted with the part of the mask inside it
    and that part's box, in the tile's own pixels."""
    assert p.region is not None
    logits = []
    encoded = 0
    for tile in p.tiles:
        part = mask[tile.slices]
        inner = mask_box(part)
        if inner is None:  # the object does not reach into this tile
            logits.append(np.full(part.shape, BACKGROUND_LOGIT, np.float32))
            continue
        box = (float(inner.x0), float(inner.y0), float(inner.x1), float(inner.y1))
        out = segmenter(np.ascontiguousarray(frame[tile.slices]), box, mask_prompt(part))
        if out.shape != part.shape:
            raise ValueError(f"the model gave logits of {out.shape}, the crop is {part.shape}")
        logits.append(np.asarray(out, np.float32))
        encoded += tile.area
    return blend(p.region, list(p.tiles), logits), encoded


def detail_pass(frame: np.ndarray, mask: np.ndarray, segmenter: CropSegmenter,
                params: DetailParams = DetailParams()) -> DetailResult:
    """Refine one object's tracked ``mask`` (bool, frame size) on ``frame`` (RGB uint8)."""
    if frame.shape[:2] != mask.shape:
        raise ValueError(f"the frame is {frame.shape[1]}×{frame.shape[0]}, the mask "
                         f"{mask.shape[1]}×{mask.shape[0]}")
    t0, c0 = time.perf_counter(), time.process_time()
    mask = np.asarray(mask, bool)
    p = plan(mask, segmenter.input_size, params)
    if p.skipped is not None or p.region is None:
        return DetailResult(p.region, None, p.tiles, p.skipped, time.perf_counter() - t0)
    merged, encoded = crop_logits(frame, mask, segmenter, p)
    alpha = coverage(merged) if params.soft_edge else (merged > 0).astype(np.float32)
    h, w = mask.shape
    return DetailResult(p.region, alpha, p.tiles, None, time.perf_counter() - t0,
                        encoded / float(h * w), time.process_time() - c0)


def grid_cell(frame_size: tuple[int, int], input_size: int) -> tuple[float, float]:
    """Frame pixels per low-resolution logit cell, (x, y), when the whole frame is encoded."""
    w, h = frame_size
    cells = max(1, input_size // 4)
    return w / cells, h / cells

