"""The host side of a tracking step, on threads of its own.

A step leaves its masks (video resolution, thresholded; on an accelerator already packed to
bits, an eighth of the bytes to copy) and a few numbers on the device. The results threads
wait for the copy to the host, compress each mask and fill the records while the model
thread runs the next frame: the accelerator never waits for them. The objects of a step are
finished in parallel (zlib works without the interpreter lock). Their compressed masks go to
the session's :class:`MaskArchive` (a temporary file), not RAM.
"""

from __future__ import annotations

import os
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from .mask_archive import MaskArchive
from .postprocess import encode_mask, mask_header
from .quality import nan_to_none
from .records import FrameRecord, HostFacts

_BIT_WEIGHTS: dict[torch.device, torch.Tensor] = {}


def pack_bits(masks: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool -> (B, ceil(H*W/8)) uint8, most significant bit first (``np.packbits``'s order)."""
    b = masks.shape[0]
    flat = masks.reshape(b, -1)
    pad = (-flat.shape[1]) % 8
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad))
    weights = _BIT_WEIGHTS.get(masks.device)
    if weights is None:
        with torch.inference_mode(False):
            weights = _BIT_WEIGHTS[masks.device] = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8).to(masks.device)
    return (flat.view(b, -1, 8).to(torch.uint8) * weights).sum(-1, dtype=torch.uint8)


@dataclass
class StepOutput:
    """What one step of a batch of objects leaves on the device."""

    records: list[FrameRecord]  # one per object, in batch order
    obj_ids: list[int]
    masks: torch.Tensor  # (B, H, W) bool at video resolution, or (B, ceil(H*W/8)) uint8 bits (``pack_bits``)
    # (B, 4) float32: object-score logit, chosen mask's predicted IoU, its index, and the
    # candidates' agreement (``quality.candidate_agreement``; NaN with one candidate)
    stats: torch.Tensor
    size: tuple[int, int]  # (width, height) of the masks
    candidates: torch.Tensor | None = None  # (B, M, h, w) bool: every multimask output, when a policy reads them


@dataclass
class HostResults:
    masks: dict[int, np.ndarray]  # object id -> bool (H, W)
    stats: dict[int, tuple[float, float, int]]  # object id -> (score, iou, best index)
    candidates: dict[int, np.ndarray]  # object id -> bool (M, h, w), when asked for


def host_facts(mask: np.ndarray, score: float, iou: float, agreement: float | None = None) -> HostFacts:
    return HostFacts(float(score), float(iou), int(np.count_nonzero(mask)), encode_mask(mask), agreement)


def _facts(mask_or_bits: np.ndarray, size: tuple[int, int], stats: np.ndarray,
           archive: MaskArchive | None = None) -> tuple[np.ndarray, HostFacts]:
    """A mask for the caller and its facts for the record, from a bool mask or packed bits
    and the object's row of ``StepOutput.stats``; the compressed mask goes to ``archive``."""
    w, h = size
    score, iou, agreement = float(stats[0]), float(stats[1]), nan_to_none(float(stats[3]))
    if mask_or_bits.dtype == np.bool_:
        mask = np.array(mask_or_bits)  # its own memory: the (pinned) copy buffer is not held on to
        data = encode_mask(mask)
    else:
        bits = np.ascontiguousarray(mask_or_bits)
        data = mask_header(h, w) + zlib.compress(bits.tobytes(), 1)
        mask = np.unpackbits(bits, count=h * w).reshape(h, w).view(np.bool_)
    stored = archive.keep(data) if archive is not None else data
    return mask, HostFacts(score, iou, int(np.count_nonzero(mask)), stored, agreement)


class ResultsThread:
    """Finishes :class:`StepOutput` s in order. The copies to the host start on the model
    thread (asynchronously, into pinned memory, behind the step on the same stream)."""

    def __init__(self, device: torch.device, workers: int | None = None, archive: MaskArchive | None = None) -> None:
        self.device = device
        self.archive = archive  # where the compressed masks of tracked frames are kept
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tracking-results")
        n = workers or max(1, min(4, (os.cpu_count() or 2) // 2))
        self._objects = ThreadPoolExecutor(n, thread_name_prefix="tracking-masks") if n > 1 else None

    def submit(self, outputs: list[StepOutput]) -> Future[HostResults]:
        cuda = self.device.type == "cuda"
        copied = []
        for out in outputs:
            tensors = (out.masks, out.stats, out.candidates)
            if cuda:
                tensors = tuple(None if t is None else t.to("cpu", non_blocking=True) for t in tensors)
            elif self.device.type != "cpu":  # MPS: no events to wait on, copy here
                tensors = tuple(None if t is None else t.cpu() for t in tensors)
            copied.append((out, tensors))
        event = None
        if cuda:
            event = torch.cuda.Event(blocking=True)  # the wait sleeps instead of spinning on a core
            event.record()
        future = self._pool.submit(self._finish, event, copied)
        for out in outputs:
            for rec in out.records:
                rec.job = future
                if rec.has_host:  # already finished: the future (and the frame's full masks) may go
                    rec.job = None
        return future

    def _finish(self, event: torch.cuda.Event | None, copied: list) -> HostResults:  # noqa: ANN401
        if event is not None:
            event.synchronize()
        result = HostResults({}, {}, {})
        for out, (masks, stats, candidates) in copied:
            masks, stats = masks.numpy(), stats.numpy()
            jobs = [(masks[i], out.size, stats[i], self.archive) for i in range(len(out.records))]
            done = list(self._objects.map(lambda a: _facts(*a), jobs)) if self._objects and len(jobs) > 1 \
                else [_facts(*a) for a in jobs]
            for i, (obj, rec) in enumerate(zip(out.obj_ids, out.records)):
                mask, facts = done[i]
                rec.set_host(facts)
                rec.job = None  # a record keeps its facts, never the frame's full-resolution masks
                result.masks[obj] = mask
                result.stats[obj] = (float(stats[i, 0]), float(stats[i, 1]), int(stats[i, 2]))
                if candidates is not None:
                    result.candidates[obj] = candidates.numpy()[i]
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._objects is not None:
            self._objects.shutdown(wait=True)

    def __enter__(self) -> ResultsThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
