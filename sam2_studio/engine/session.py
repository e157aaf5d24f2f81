"""A video tracking session: prompts on any frame, many objects, both directions, corrections.

Semantics follow the SAM 2 paper and the official video predictor (``sam2==1.1.0``, with
``add_all_frames_to_correct_as_cond=True``): a prompted frame is a conditioning frame; a
frame not yet tracked is segmented like a single image, a frame already tracked is
corrected with its memory and its previous mask; prompts join the memory bank when the
next propagation starts; objects are tracked independently.

Memory stays flat in clip length: image features, low-resolution logits and memory
features live in bounded caches (memories in bf16, as the official predictor keeps them);
what is evicted is recomputed when needed; final masks are kept PNG-compressed.
"""

from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from sam2_studio.model import HeadOutput, ImageFeatures, PointerMemory, Sam2Model, SpatialMemory, inference_context

from .distractor import FrameEvidence
from .features import FeatureCache
from .frames import FrameSource
from .memory_bank import MemorySelection, make_policy
from .postprocess import encode_mask, fill_holes, non_overlapping, to_video_resolution
from .records import FrameRecord, ObjectTrack, Prompt

DIRECTIONS = ("forward", "backward", "both")
LOGIT_CLAMP = 32.0
MASK_LOGIT = 10.0  # logits standing in for a mask whose logits were evicted


@dataclass
class SessionOptions:
    """Knobs of a session. The defaults are the official video predictor's."""

    fill_hole_area: int = 8  # holes up to this many low-res pixels are filled
    non_overlapping: bool = False  # at each pixel only the highest-scoring object keeps its mask
    feature_cache: int = 3  # encoded frames kept
    keep_logits: int = 64  # low-res logits kept per object (besides prompted frames)
    keep_memories: int = 32  # memory features kept per object (besides pinned frames)


@dataclass
class FrameResult:
    """Every object's state on one frame."""

    frame: int
    masks: dict[int, np.ndarray]  # object id -> bool (H, W) at the source resolution
    visible: dict[int, bool]  # the object-score head says present
    scores: dict[int, float]  # object-score logits
    logits: dict[int, torch.Tensor] = field(default_factory=dict)  # low-res logits (1, 1, S/4, S/4)
    computed: tuple[int, ...] = ()  # objects the model ran for on this frame

    @property
    def object_ids(self) -> list[int]:
        return list(self.masks)


class VideoSession:
    def __init__(
        self,
        model: Sam2Model,
        frames: FrameSource,
        memory_policy: str = "sam2",
        options: SessionOptions | None = None,
    ) -> None:
        if len(frames) == 0:
            raise ValueError("the clip has no frames")
        self.model = model
        self.frames = frames
        self.options = options or SessionOptions()
        cfg = model.config
        self.policy = make_policy(memory_policy, cfg.num_maskmem, cfg.max_obj_ptrs)
        self.features = FeatureCache(model, frames, self.options.feature_cache)
        self._tracks: dict[int, ObjectTrack] = {}
        self._range = (0, len(frames) - 1)
        self._logit_lru: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._memory_lru: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._mem_pos: torch.Tensor | None = None
        self._last_condition: tuple[list[tuple[tuple[int, int], weakref.ref]], torch.Tensor] | None = None

    # ------------------------------------------------------------------ properties
    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        return self.frames.size

    @property
    def object_ids(self) -> list[int]:
        return list(self._tracks)

    @property
    def range(self) -> tuple[int, int]:
        """In and out points (inclusive): propagation stays inside them."""
        return self._range

    def set_range(self, in_point: int | None = None, out_point: int | None = None) -> None:
        lo = 0 if in_point is None else self._check_frame(in_point, "in point")
        hi = self.num_frames - 1 if out_point is None else self._check_frame(out_point, "out point")
        if lo > hi:
            raise ValueError(f"in point {lo} is after out point {hi}")
        self._range = (lo, hi)

    def prompted_frames(self, obj_id: int | None = None) -> dict[int, list[int]]:
        tracks = [self._track(obj_id)] if obj_id is not None else self._tracks.values()
        return {t.obj_id: sorted(set(t.prompts)) for t in tracks}

    # ------------------------------------------------------------------ validation
    def _check_frame(self, frame: int, what: str = "frame") -> int:
        if isinstance(frame, bool) or not isinstance(frame, int | np.integer):
            raise ValueError(f"{what} must be an integer, got {frame!r}")
        if not 0 <= frame < self.num_frames:
            raise ValueError(f"{what} {frame} is outside the clip (0..{self.num_frames - 1})")
        return int(frame)

    def _track(self, obj_id: int) -> ObjectTrack:
        track = self._tracks.get(obj_id)
        if track is None:
            raise ValueError(f"unknown object {obj_id}; objects: {self.object_ids}")
        return track

    def _check_points(self, points, labels) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        pts = np.asarray(points, dtype=np.float32).reshape(-1, 2) if points is not None else np.zeros((0, 2), np.float32)
        if labels is None:
            raise ValueError("points need labels (1 positive, 0 negative)")
        labs = np.asarray(labels, dtype=np.int64).reshape(-1)
        if pts.shape[0] == 0:
            raise ValueError("no points given")
        if labs.shape[0] != pts.shape[0]:
            raise ValueError(f"{pts.shape[0]} points but {labs.shape[0]} labels")
        if not np.all((labs == 0) | (labs == 1)):
            raise ValueError("point labels must be 1 (positive) or 0 (negative)")
        w, h = self.size
        if not np.all(np.isfinite(pts)) or np.any(pts < 0) or np.any(pts[:, 0] > w) or np.any(pts[:, 1] > h):
            raise ValueError(f"points must lie inside the {w}x{h} frame")
        return pts, labs.astype(np.int32)

    def _check_box(self, box) -> np.ndarray:  # noqa: ANN001
        b = np.asarray(box, dtype=np.float32).reshape(-1)
        if b.shape != (4,) or not np.all(np.isfinite(b)):
            raise ValueError(f"a box is (x0, y0, x1, y1), got {box!r}")
        w, h = self.size
        x0, y0, x1, y1 = b
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"box {b.tolist()} has no area (x1 must exceed x0, y1 exceed y0)")
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            raise ValueError(f"box {b.tolist()} lies outside the {w}x{h} frame")
        return np.array([max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)], np.float32)

    def _check_mask(self, mask) -> np.ndarray:  # noqa: ANN001
        m = np.asarray(mask)
        w, h = self.size
        if m.shape != (h, w):
            raise ValueError(f"the mask is {m.shape[1] if m.ndim > 1 else '?'}x{m.shape[0]}, the clip is {w}x{h}")
        return m.astype(bool)

    # ------------------------------------------------------------------ prompts
    def add_points(self, frame: int, obj_id: int, points, labels, clear: bool = True) -> FrameResult:  # noqa: ANN001
        """Clicks on ``frame`` for ``obj_id`` (created if new), in video pixels; 1 positive, 0 negative.

        ``clear=False`` adds to the clicks already on that frame. Returns every object's masks
        on that frame.
        """
        frame = self._check_frame(frame)
        pts, labs = self._check_points(points, labels)
        old = self._tracks[obj_id].prompts.get(frame) if obj_id in self._tracks else None
        if not clear and old is not None and old.mask is None:
            pts = np.concatenate([old.points, pts])
            labs = np.concatenate([old.labels, labs])
        return self._prompt(frame, obj_id, Prompt(pts, labs))

    def add_box(self, frame: int, obj_id: int, box, points=None, labels=None) -> FrameResult:  # noqa: ANN001
        """A box (x0, y0, x1, y1), optionally with clicks; replaces the frame's prompts for the object."""
        frame = self._check_frame(frame)
        b = self._check_box(box)
        pts, labs = b.reshape(2, 2), np.array([2, 3], np.int32)
        if points is not None:
            p, lab = self._check_points(points, labels)
            pts, labs = np.concatenate([pts, p]), np.concatenate([labs, lab])
        return self._prompt(frame, obj_id, Prompt(pts, labs))

    def add_mask(self, frame: int, obj_id: int, mask: np.ndarray) -> FrameResult:
        """A mask (bool, video size) for ``obj_id`` on ``frame``, e.g. painted with a brush."""
        frame = self._check_frame(frame)
        return self._prompt(frame, obj_id, Prompt(mask=self._check_mask(mask)))

    def _prompt(self, frame: int, obj_id: int, prompt: Prompt) -> FrameResult:
        is_new = obj_id not in self._tracks
        track = self._tracks.get(obj_id) or ObjectTrack(obj_id)
        with self._compute():
            record, mask = self._prompt_step(track, frame, prompt)
        if is_new:
            self._tracks[obj_id] = track
        track.prompts[frame] = prompt
        track.pending[frame] = record
        self._mark_stale(track, frame)
        return self._result(frame, {obj_id: mask})

    def clear_frame(self, frame: int, obj_id: int | None = None) -> FrameResult:
        """Remove the prompts on ``frame`` (of one object, or all). Its result stays as a
        tracked frame, no longer conditioning."""
        frame = self._check_frame(frame)
        tracks = [self._track(obj_id)] if obj_id is not None else list(self._tracks.values())
        for track in tracks:
            had = frame in track.prompts or frame in track.pending or frame in track.cond_order
            track.prompts.pop(frame, None)
            track.pending.pop(frame, None)
            rec = track.committed.get(frame)
            if rec is not None and rec.is_cond:
                rec.is_cond = False
                track.commit(frame, rec)
                track.tracked.pop(frame, None)
            if had:
                self._mark_stale(track, frame)
                if rec is not None:  # its result came from the prompt just removed
                    track.stale.add(frame)
        return self.result(frame)

    def remove_object(self, obj_id: int) -> list[int]:
        """Forget an object entirely; returns the frames it had prompts on."""
        track = self._track(obj_id)
        del self._tracks[obj_id]
        for lru in (self._logit_lru, self._memory_lru):
            for key in [k for k in lru if k[0] == obj_id]:
                del lru[key]
        if hasattr(self.policy, "_runs"):
            self.policy._runs.pop(obj_id, None)
        return sorted(track.prompts)

    def reset(self) -> None:
        """Forget every object, prompt and result (the encoded frames stay cached)."""
        self._tracks.clear()
        self._logit_lru.clear()
        self._memory_lru.clear()

    def prefetch(self, frame: int, obj_id: int | None = None) -> None:
        """Do ahead of a click on ``frame`` what the click would start with: encode the frame
        (kept in the feature cache) and, with ``obj_id`` on a frame that object has tracked,
        attend to its memory (kept until the memory it read changes). The editor calls this
        while the playhead rests; a click there then runs only the decoder. Nothing the
        session remembers changes."""
        frame = self._check_frame(frame)
        with self._compute():
            feats = self.features.get(frame)
            track = self._tracks.get(obj_id) if obj_id is not None else None
            if track is not None and frame in track.tracked:
                sel = self.policy.select(track, frame, track.tracked[frame], self.num_frames)
                self._condition_cached(track, frame, feats, sel)

    # ------------------------------------------------------------------ results
    def result(self, frame: int) -> FrameResult:
        """The current masks of every object on ``frame``, without running the model."""
        return self._result(self._check_frame(frame), {})

    def mask(self, frame: int, obj_id: int) -> np.ndarray | None:
        rec = self._track(obj_id).record(self._check_frame(frame))
        return None if rec is None else rec.mask()

    def stale_ranges(self) -> dict[int, list[tuple[int, int]]]:
        """Per object, the inclusive frame ranges whose results an edit has made outdated."""
        out = {}
        for obj_id, track in self._tracks.items():
            ranges: list[tuple[int, int]] = []
            for t in sorted(track.stale):
                if ranges and t == ranges[-1][1] + 1:
                    ranges[-1] = (ranges[-1][0], t)
                else:
                    ranges.append((t, t))
            out[obj_id] = ranges
        return out

    def _mark_stale(self, track: ObjectTrack, frame: int) -> None:
        """An edit on ``frame`` outdates tracked frames up to the neighbouring prompts."""
        anchors = set(track.cond_order) | set(track.pending) | set(track.prompts)
        anchors.discard(frame)
        before = max((a for a in anchors if a < frame), default=-1)
        after = min((a for a in anchors if a > frame), default=self.num_frames)
        track.stale.update(t for t in track.tracked if before < t < after and t != frame)
        track.stale.discard(frame)

    def _result(self, frame: int, fresh: dict[int, np.ndarray]) -> FrameResult:
        w, h = self.size
        masks, visible, scores, logits = {}, {}, {}, {}
        for obj_id, track in self._tracks.items():
            rec = track.record(frame)
            if rec is None:
                masks[obj_id] = np.zeros((h, w), bool)
                visible[obj_id], scores[obj_id] = False, float("-inf")
                continue
            masks[obj_id] = fresh[obj_id] if obj_id in fresh else rec.mask()
            visible[obj_id], scores[obj_id] = rec.object_score > 0, rec.object_score
            if rec.logits is not None:
                logits[obj_id] = rec.logits
        if self.options.non_overlapping and len(masks) > 1:
            masks = self._non_overlapping(frame, masks)
        return FrameResult(frame, masks, visible, scores, logits, tuple(fresh))

    def _non_overlapping(self, frame: int, masks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        stack = []
        for obj_id, mask in masks.items():
            rec = self._tracks[obj_id].record(frame)
            if rec is not None and rec.logits is not None:
                stack.append(to_video_resolution(rec.logits, self.size)[0])
            else:  # no logits kept: the binary mask stands in
                m = torch.from_numpy(mask)[None].float()
                stack.append(m * 2 * MASK_LOGIT - MASK_LOGIT if rec is not None else torch.full_like(m, -1024.0))
        logits = non_overlapping(torch.stack([s.to(stack[0].device) for s in stack]))
        return {obj_id: (logits[i, 0] > 0).cpu().numpy() for i, obj_id in enumerate(masks)}

    # ------------------------------------------------------------------ propagation
    def propagate(
        self, start: int | None = None, direction: str = "forward", end: int | None = None, only_stale: bool = False
    ) -> Iterator[FrameResult]:
        """Track every prompted object through the clip, one :class:`FrameResult` per frame.

        ``start`` defaults to the earliest prompted frame; ``end`` (inclusive) to the out
        point going forward and the in point going backward; ``both`` runs forward then
        backward from ``start``. With ``only_stale`` only frames an edit outdated, or never
        tracked, are computed. Stop iterating at any frame: the session stays consistent.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        if start is not None:
            start = self._check_frame(start, "start")
        if end is not None:
            end = self._check_frame(end, "end")
            if direction == "both":
                raise ValueError("'both' runs to the in and out points; set them with set_range()")
            if start is not None and ((direction == "forward") != (end >= start)) and end != start:
                raise ValueError(f"end {end} is not {direction} of start {start}")
        if not any(t.cond_order or t.pending for t in self._tracks.values()):
            raise ValueError("no object has a prompt yet: click, box or paint an object first")
        return self._propagate(start, direction, end, only_stale)

    def _propagate(self, start: int | None, direction: str, end: int | None, only_stale: bool) -> Iterator[FrameResult]:
        with self._compute():
            self._commit_pending()
        tracks = [t for t in self._tracks.values() if t.cond_order]
        lo, hi = self._range
        if start is None:
            start = min(min(t.cond_order) for t in tracks)
            start = min(max(start, lo), hi)
        passes = []
        if direction in ("forward", "both"):
            passes.append((False, range(start, (hi if end is None else end) + 1)))
        if direction in ("backward", "both"):
            passes.append((True, range(start, (lo if end is None else end) - 1, -1)))
        for reverse, frames in passes:
            for track in tracks:
                self.policy.start_run(track, start, reverse)
            todo = {t.obj_id: self._needed(t, frames) for t in tracks} if only_stale else None
            for frame in frames:
                if todo is not None and not any(todo.values()):
                    break
                fresh: dict[int, np.ndarray] = {}
                with self._compute():
                    for track in tracks:
                        if track.obj_id not in self._tracks:  # removed while iterating
                            continue
                        rec = track.committed.get(frame)
                        if rec is not None and rec.is_cond:
                            track.tracked[frame] = reverse
                            continue
                        if frame in track.pending:  # prompted while this run was suspended:
                            continue  # the user's answer stands (it joins the memory next run)
                        if todo is not None:
                            if frame not in todo[track.obj_id]:
                                continue
                            todo[track.obj_id].discard(frame)
                        fresh[track.obj_id] = self._track_step(track, frame, reverse)
                if todo is None or fresh:
                    yield self._result(frame, fresh)

    def _needed(self, track: ObjectTrack, frames: range) -> set[int]:
        cond = set(track.cond_order)
        return {f for f in frames if f not in cond and (f not in track.tracked or f in track.stale)}

    # ------------------------------------------------------------------ model steps
    @contextlib.contextmanager
    def _compute(self) -> Iterator[None]:
        with inference_context(self.model.device):
            yield

    def _prompt_step(self, track: ObjectTrack, frame: int, prompt: Prompt) -> tuple[FrameRecord, np.ndarray]:
        m = self.model
        feats = self.features.get(frame)
        if prompt.mask is not None:
            mask = torch.from_numpy(prompt.mask).to(m.device, torch.float32)[None, None]
            s = m.image_size
            if mask.shape[-2:] != (s, s):
                mask = F.interpolate(mask, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
                mask = (mask >= 0.5).float()
            heads = m.mask_as_output(feats.embedding, feats.high_res, mask)
        else:
            is_init = frame not in track.tracked
            if is_init:
                embedding = m.without_memory(feats.embedding)
            else:
                sel = self.policy.select(track, frame, track.tracked[frame], self.num_frames)
                embedding = self._condition_cached(track, frame, feats, sel)
            prev = track.record(frame)
            prev_logits = None
            if prev is not None and prev.logits is not None:
                prev_logits = prev.logits.clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
            w, h = self.size
            scale = np.array([m.image_size / w, m.image_size / h], np.float32)
            pts = torch.from_numpy(prompt.points * scale).to(m.device)[None]
            labs = torch.from_numpy(prompt.labels).to(m.device)[None]
            heads = m.decode(embedding, feats.high_res, pts, labs, prev_logits, multimask=len(prompt.labels) <= 1)
        return self._record(track, frame, heads, is_cond=True, from_prompt=True)

    def _track_step(self, track: ObjectTrack, frame: int, reverse: bool) -> np.ndarray:
        m = self.model
        feats = self.features.get(frame)
        sel = self.policy.select(track, frame, reverse, self.num_frames)
        heads = m.decode(self._condition(track, feats, sel), feats.high_res, multimask=True)
        memory, _ = m.encode_memory(feats.embedding, heads.high_res_masks, heads.object_score, binarize=False)
        record, mask = self._record(track, frame, heads, is_cond=False, from_prompt=False)
        record.memory = memory.to(torch.bfloat16)
        self.policy.observe(track, frame, record, self._evidence(heads))
        track.commit(frame, record)
        track.tracked[frame] = reverse
        track.stale.discard(frame)
        self._touch(track, frame)
        return mask

    def _record(
        self, track: ObjectTrack, frame: int, heads: HeadOutput, is_cond: bool, from_prompt: bool
    ) -> tuple[FrameRecord, np.ndarray]:
        raw = heads.masks.float()
        logits = fill_holes(raw, self.options.fill_hole_area)
        mask = (to_video_resolution(logits, self.size)[0, 0] > 0).cpu().numpy()
        best = int(heads.best_index[0])
        record = FrameRecord(
            is_cond=is_cond,
            logits=logits,
            obj_ptr=heads.obj_ptr.float(),
            object_score=float(heads.object_score[0, 0]),
            iou=float(heads.ious[0, best]),
            from_prompt=from_prompt,
            mask_png=encode_mask(mask),
            area=int(mask.sum()),
            unfilled_logits=None if logits is raw else raw,
        )
        return record, mask

    def _evidence(self, heads: HeadOutput) -> FrameEvidence | None:
        if self.policy.name != "distractor_aware" or heads.multi_masks.shape[1] < 2:
            return None
        masks = (heads.multi_masks[0] > 0).cpu().numpy()
        best = int(heads.best_index[0])
        alts = [masks[i] for i in range(masks.shape[0]) if i != best]
        return FrameEvidence(masks[best], float(heads.ious[0, best]), alts)

    def _commit_pending(self) -> None:
        """Prompted frames join the memory bank, encoded from the mask the user saw."""
        m = self.model
        s = m.image_size
        for track in self._tracks.values():
            for frame, rec in list(track.pending.items()):
                if rec.memory is None:
                    feats = self.features.get(frame)
                    high = F.interpolate(rec.logits, size=(s, s), mode="bilinear", align_corners=False)
                    score = torch.tensor([[rec.object_score]], device=m.device)
                    mem, _ = m.encode_memory(feats.embedding, high, score, binarize=True)
                    rec.memory = mem.to(torch.bfloat16)
                track.commit(frame, rec)
            track.pending.clear()

    def _memory_pos(self, memory: torch.Tensor) -> torch.Tensor:
        if self._mem_pos is None or self._mem_pos.shape[-2:] != memory.shape[-2:] or self._mem_pos.device != memory.device:
            self._mem_pos = self.model.memory_encoder.position_encoding(memory[:1].float())
        return self._mem_pos

    def _condition(self, track: ObjectTrack, feats: ImageFeatures, sel: MemorySelection) -> torch.Tensor:
        dtype = feats.embedding.dtype
        spatial = []
        for t, slot in sel.spatial:
            mem = self._memory(track, t).to(dtype)
            spatial.append(SpatialMemory(mem, self._memory_pos(mem).to(dtype), slot))
        pointers = [PointerMemory(track.committed[t].obj_ptr.to(dtype), off) for t, off in sel.pointers]
        return self.model.condition_on_memory(
            feats, spatial, pointers, self.policy.max_pointer_offset(self.num_frames)
        )

    def _condition_cached(self, track: ObjectTrack, frame: int, feats: ImageFeatures, sel: MemorySelection) -> torch.Tensor:
        """``_condition`` remembered for one (object, frame): a click where the playhead rested,
        or a second click on a tracked frame, skips memory attention. It is reused only while
        the very same features, memories and pointers are selected (held by weak reference:
        an evicted or replaced one no longer matches)."""
        inputs = [((track.obj_id, frame), weakref.ref(feats))]
        inputs += [((t, slot), weakref.ref(self._memory(track, t))) for t, slot in sel.spatial]
        inputs += [((t, off), weakref.ref(track.committed[t].obj_ptr)) for t, off in sel.pointers]
        last = self._last_condition
        if last is not None and len(last[0]) == len(inputs) and all(
            key == k and ref() is not None and ref() is r() for (key, ref), (k, r) in zip(last[0], inputs)
        ):
            return last[1]
        embedding = self._condition(track, feats, sel)
        self._last_condition = (inputs, embedding)
        return embedding

    def _memory(self, track: ObjectTrack, frame: int) -> torch.Tensor:
        rec = track.committed[frame]
        if rec.memory is None:  # evicted: encode again from what is kept
            m = self.model
            s = m.image_size
            low = rec.unfilled_logits if rec.unfilled_logits is not None else rec.logits
            if low is None:
                mask = torch.from_numpy(rec.mask()).to(m.device, torch.float32)[None, None]
                high = F.interpolate(mask * 2 * MASK_LOGIT - MASK_LOGIT, size=(s, s), mode="bilinear", align_corners=False)
            else:
                high = F.interpolate(low, size=(s, s), mode="bilinear", align_corners=False)
            score = torch.tensor([[rec.object_score]], device=m.device)
            mem, _ = m.encode_memory(self.features.get(frame).embedding, high, score, binarize=rec.from_prompt)
            rec.memory = mem.to(torch.bfloat16)
        self._touch(track, frame)
        return rec.memory

    def _touch(self, track: ObjectTrack, frame: int) -> None:
        """Mark a record as recently used and evict the least recently used beyond the bounds."""
        key = (track.obj_id, frame)
        for lru in (self._logit_lru, self._memory_lru):
            lru[key] = None
            lru.move_to_end(key)
        n = max(1, len(self._tracks))
        self._evict(self._logit_lru, self.options.keep_logits * n, logits=True)
        self._evict(self._memory_lru, self.options.keep_memories * n, logits=False)

    def _evict(self, lru: OrderedDict[tuple[int, int], None], capacity: int, logits: bool) -> None:
        while len(lru) > capacity:
            (obj_id, frame), _ = lru.popitem(last=False)
            track = self._tracks.get(obj_id)
            rec = track.committed.get(frame) if track is not None else None
            if rec is None:
                continue
            if logits:
                if not rec.is_cond:
                    rec.logits = None
                    rec.unfilled_logits = None
            elif frame not in self.policy.pinned(track):
                rec.memory = None
