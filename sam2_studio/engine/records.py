"""What the engine remembers about each object: its prompts and its per-frame results.

A frame's result for an object is a :class:`FrameRecord`. Records made by prompts stay
*pending* until the next propagation commits them (encodes their memory), exactly as the
official predictor keeps user edits out of the memory bank until tracking starts.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch

from .mask_archive import ArchivedMask
from .postprocess import decode_mask


@dataclass
class Prompt:
    """A user's input on one frame for one object (video pixel coordinates)."""

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))  # (N, 2) x, y
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))  # 1/0, 2/3 box corners
    mask: np.ndarray | None = None  # bool (H, W)

    @property
    def has_box(self) -> bool:
        return bool(np.any(self.labels == 2))


@dataclass
class FrameRecord:
    """One object on one frame: what the model predicted and what it remembers of it.

    The tensors stay on the model's device. The host-side facts (object score, IoU, candidate
    agreement, area, the compressed mask) of a tracked frame arrive from the results thread a little later:
    ``job`` is that work, and reading any of them waits for it.
    """

    is_cond: bool  # a prompted frame: always in the memory bank
    logits: torch.Tensor | None  # (1, 1, S/4, S/4) float32 after hole filling; None once evicted
    obj_ptr: torch.Tensor  # (1, C)
    score: torch.Tensor  # (1, 1) object-score logit on the device (memory re-encoding reads it there)
    from_prompt: bool  # memory is encoded from the binarised mask (what the user saw)
    memory: torch.Tensor | None = None  # (1, mem_dim, h, w) in the precision's memory dtype; None once evicted
    unfilled_logits: torch.Tensor | None = None  # before hole filling: what the memory encoder saw
    # Distractor-aware memory flags.
    ram: bool = False
    drm: bool = False
    # The results thread's work for this record, until it is done: the finished job drops it,
    # as its result holds the frame's full-resolution masks.
    job: Future | None = field(default=None, repr=False)
    _host: HostFacts | None = field(default=None, repr=False)

    def set_host(self, facts: HostFacts) -> None:
        self._host = facts

    @property
    def has_host(self) -> bool:
        return self._host is not None

    @property
    def host(self) -> HostFacts:
        if self._host is None:
            job = self.job
            if job is not None:
                job.result()  # fills _host (or raises what went wrong)
            elif self._host is None:  # (the results thread may have filled it just now)
                raise RuntimeError("this record has no results yet")
        assert self._host is not None
        return self._host

    @property
    def object_score(self) -> float:
        return self.host.object_score

    @property
    def iou(self) -> float:
        return self.host.iou

    @property
    def agreement(self) -> float | None:
        return self.host.agreement

    @property
    def area(self) -> int:
        return self.host.area

    @property
    def mask_data(self) -> bytes:
        return self.host.mask_data

    @property
    def visible(self) -> bool:
        return self.object_score > 0 and self.area > 0

    def mask(self) -> np.ndarray:
        return decode_mask(self.mask_data)


@dataclass(frozen=True)
class HostFacts:
    """What the host knows of a record once its results came back from the device."""

    object_score: float
    iou: float
    area: int  # foreground pixels of the final mask
    # the final mask at video resolution, compressed (``postprocess.encode_mask``): the bytes,
    # or where a :class:`MaskArchive` keeps them
    stored_mask: bytes | ArchivedMask
    agreement: float | None = None  # mean IoU of the chosen candidate mask with the others; None with one

    @property
    def mask_data(self) -> bytes:
        stored = self.stored_mask
        return stored if isinstance(stored, bytes) else stored.read()


@dataclass
class ObjectTrack:
    """Everything about one object across the clip."""

    obj_id: int
    prompts: dict[int, Prompt] = field(default_factory=dict)
    committed: dict[int, FrameRecord] = field(default_factory=dict)  # frame -> record used as memory
    pending: dict[int, FrameRecord] = field(default_factory=dict)  # prompted since the last propagation
    cond_order: list[int] = field(default_factory=list)  # committed conditioning frames, in order added
    tracked: dict[int, bool] = field(default_factory=dict)  # frame -> tracked in reverse
    stale: set[int] = field(default_factory=set)  # tracked frames an edit has made outdated

    def record(self, frame: int) -> FrameRecord | None:
        """The newest result on ``frame``: pending first, then committed."""
        rec = self.pending.get(frame)
        return rec if rec is not None else self.committed.get(frame)

    def cond_frames(self) -> list[int]:
        return list(self.cond_order)

    def prompted_frames(self) -> list[int]:
        return sorted(set(self.prompts) | set(self.cond_order))

    def commit(self, frame: int, record: FrameRecord) -> None:
        self.committed[frame] = record
        if record.is_cond:
            if frame not in self.cond_order:
                self.cond_order.append(frame)
        elif frame in self.cond_order:
            self.cond_order.remove(frame)
