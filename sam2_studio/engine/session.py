"""A video tracking session: prompts on any frame, many objects, both directions, corrections.

Semantics follow the SAM 2 paper and the official video predictor (``sam2==1.1.0``, with
``add_all_frames_to_correct_as_cond=True``): a prompted frame is a conditioning frame; a
frame not yet tracked is segmented like a single image, a frame already tracked is
corrected with its memory and its previous mask; prompts join the memory bank when the
next propagation starts; objects are tracked independently.

Memory stays flat in clip length: image features, low-resolution logits and memory
features live in bounded caches (memories in one declared dtype, bf16 as the official
predictor keeps them); what is evicted is recomputed when needed; final masks are kept
compressed.

On an accelerator the device never waits for the host: all objects of a frame advance in
one batched step (``batch.py``), post-processing stays on the device, the next frames are
decoded on a loader thread (``loader.py``) and the copy to the host, mask compression and
bookkeeping run on a results thread (``results.py``) while the next frame computes.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from sam2_studio.model import HeadOutput, ImageFeatures, PointerMemory, Sam2Model, SpatialMemory
from sam2_studio.model.device import trim_cpu_heap

from .batch import Step, group_by_layout, same_or_each
from .distractor import FrameEvidence
from .errors import OutOfDeviceMemory, is_out_of_memory, requested_bytes
from .features import FeatureCache
from .graphs import GraphCache
from .frames import FrameSource
from .mask_archive import MaskArchive
from .memory_bank import MemorySelection, make_policy
from .postprocess import fill_holes, non_overlapping, to_video_resolution
from .quality import FrameQuality, candidate_agreement, nan_to_none
from .records import FrameRecord, ObjectTrack, Prompt
from .results import HostResults, ResultsThread, StepOutput, host_facts, pack_bits

DIRECTIONS = ("forward", "backward", "both")
LOGIT_CLAMP = 32.0
MASK_LOGIT = 10.0  # logits standing in for a mask whose logits were evicted
HEAP_TRIM_EVERY = 200  # frames between giving the heap's free pages back (model.device.trim_cpu_heap)


@dataclass
class SessionOptions:
    """Knobs of a session. The defaults are the official video predictor's."""

    fill_hole_area: int = 8  # holes up to this many low-res pixels are filled
    non_overlapping: bool = False  # at each pixel only the highest-scoring object keeps its mask
    feature_cache: int = 3  # encoded frames kept
    keep_logits: int = 64  # low-res logits kept per object (besides prompted frames)
    keep_memories: int = 32  # memory features kept per object (besides pinned frames)
    batch_objects: bool = True  # objects with the same memory layout share one model call per frame
    cuda_graphs: bool = True  # on CUDA, replay steps whose shapes repeat as CUDA graphs (graphs.py)
    # Frames computed ahead of the one handed out; None: 1 on an accelerator (the device works
    # on the next frame while the host takes this one), 0 on the CPU (nothing to overlap, and
    # a stop would waste a frame's work).
    pipeline_depth: int | None = None
    # Keep tracked frames' compressed masks in a temporary file instead of RAM (mask_archive.py):
    # the engine's memory then stays flat however long the clip.
    archive_masks: bool = True


@dataclass
class FrameResult:
    """Every object's state on one frame."""

    frame: int
    masks: dict[int, np.ndarray]  # object id -> bool (H, W) at the source resolution
    visible: dict[int, bool]  # the object-score head says present
    scores: dict[int, float]  # object-score logits
    logits: dict[int, torch.Tensor] = field(default_factory=dict)  # low-res logits (1, 1, S/4, S/4)
    computed: tuple[int, ...] = ()  # objects the model ran for on this frame
    quality: dict[int, FrameQuality] = field(default_factory=dict)  # how sure the model was, per object

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
        self._graphs = GraphCache(model.precision.autocast_dtype, enabled=self.options.cuda_graphs)
        self.features = FeatureCache(model, frames, self.options.feature_cache, self._graphs)
        self._tracks: dict[int, ObjectTrack] = {}
        self._steps_run = 0
        self._range = (0, len(frames) - 1)
        self._logit_lru: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._memory_lru: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._mem_pos: dict[tuple, torch.Tensor] = {}
        self._last_condition: tuple[list[tuple[tuple[int, int], weakref.ref]], torch.Tensor] | None = None
        # tracked frames' compressed masks: on disk when the options say so (prompted ones stay in RAM)
        self._archive = MaskArchive() if self.options.archive_masks else None

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
        masks, visible, scores, logits, quality = {}, {}, {}, {}, {}
        for obj_id, track in self._tracks.items():
            rec = track.record(frame)
            if rec is None:
                masks[obj_id] = np.zeros((h, w), bool)
                visible[obj_id], scores[obj_id] = False, float("-inf")
                continue
            masks[obj_id] = fresh[obj_id] if obj_id in fresh else rec.mask()
            visible[obj_id], scores[obj_id] = rec.object_score > 0, rec.object_score
            quality[obj_id] = FrameQuality(rec.object_score, rec.iou, rec.agreement)
            if rec.logits is not None:
                logits[obj_id] = rec.logits
        if self.options.non_overlapping and len(masks) > 1:
            masks = self._non_overlapping(frame, masks)
        return FrameResult(frame, masks, visible, scores, logits, tuple(fresh), quality)

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
            order = [f for f in frames if todo is None or any(f in d for d in todo.values())]
            pending: deque[Step] = deque()
            with self.features.reading_ahead(order), ResultsThread(self.model.device, archive=self._archive) as results:
                try:
                    for frame in frames:
                        if todo is not None and not any(todo.values()):
                            break
                        step = Step(frame, reverse, only_stale)
                        runnable = self._runnable(tracks, frame, reverse, todo)
                        if runnable:
                            try:
                                with self._compute():
                                    self._advance(step, runnable, results)
                            except Exception as exc:
                                if not is_out_of_memory(exc):
                                    raise
                                while pending:  # hand out what was done, then say where it stopped
                                    result = self._finish(pending.popleft())
                                    if result is not None:
                                        yield result
                                kind = self.model.device.type
                                raise OutOfDeviceMemory(frame, kind, requested_bytes(exc), len(runnable)) from exc
                        pending.append(step)
                        self._steps_run += 1
                        if self._steps_run % HEAP_TRIM_EVERY == 0:
                            trim_cpu_heap()
                        while len(pending) > self._depth():
                            result = self._finish(pending.popleft())
                            if result is not None:
                                yield result
                    while pending:
                        result = self._finish(pending.popleft())
                        if result is not None:
                            yield result
                finally:
                    for step in pending:  # computed ahead but never handed out: as if not run
                        self._undo(step)

    def _runnable(self, tracks: list[ObjectTrack], frame: int, reverse: bool, todo: dict[int, set[int]] | None) -> list[ObjectTrack]:
        """The objects the model must run for on ``frame``."""
        out = []
        for track in tracks:
            if track.obj_id not in self._tracks:  # removed while iterating
                continue
            rec = track.committed.get(frame)
            if rec is not None and rec.is_cond:
                track.tracked[frame] = reverse
                continue
            if todo is not None:
                if frame not in todo[track.obj_id]:
                    continue
                todo[track.obj_id].discard(frame)
            out.append(track)
        return out

    def _depth(self) -> int:
        depth = self.options.pipeline_depth
        if depth is None:
            depth = 0 if self.model.device.type == "cpu" else 1
        return 0 if self.policy.needs_evidence else depth  # that policy reads each frame before the next

    def _finish(self, step: Step) -> FrameResult | None:
        """Wait for a step's host results and make its :class:`FrameResult` (None when an
        only-stale run computed nothing on that frame)."""
        fresh: dict[int, np.ndarray] = {}
        if step.computed:
            try:
                host = step.changes[0].record.job.result() if step.changes[0].record.job else None
            except BaseException:
                self._undo(step)
                raise
            for change in step.changes:
                track, rec = change.track, change.record
                # An edit between two frames (a click on this frame) wins over the tracked mask.
                if track.committed.get(step.frame) is rec and step.frame not in track.pending:
                    fresh[track.obj_id] = host.masks[track.obj_id] if host is not None else rec.mask()
        elif step.only_stale:
            return None
        return self._result(step.frame, fresh)

    def _undo(self, step: Step) -> None:
        for key in step.undo():
            self._logit_lru.pop(key, None)
            self._memory_lru.pop(key, None)

    def _needed(self, track: ObjectTrack, frames: range) -> set[int]:
        cond = set(track.cond_order)
        return {f for f in frames if f not in cond and (f not in track.tracked or f in track.stale)}

    # ------------------------------------------------------------------ model steps
    def _compute(self):  # noqa: ANN202 - a context manager
        return self.model.inference()

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
        raw = heads.masks.float()
        logits = fill_holes(raw, self.options.fill_hole_area)
        mask = (to_video_resolution(logits, self.size)[0, 0] > 0).cpu().numpy()
        record = FrameRecord(
            is_cond=True,
            logits=logits,
            obj_ptr=heads.obj_ptr.float(),
            score=heads.object_score.float(),
            from_prompt=True,
            unfilled_logits=None if logits is raw else raw,
        )
        best = int(heads.best_index[0])
        agreement = float(candidate_agreement(heads.multi_masks, heads.best_index)[0])  # NaN: one candidate
        record.set_host(host_facts(mask, float(heads.object_score[0, 0]), float(heads.ious[0, best]),
                                   nan_to_none(agreement)))
        return record, mask

    def _advance(self, step: Step, tracks: list[ObjectTrack], results: ResultsThread) -> None:
        """Track ``tracks`` onto ``step.frame`` in as few batched model calls as their memory
        layouts allow. Nothing here reads a value back from the device: the masks and scores
        go to the results thread. Everything is computed before anything is committed, so a
        failure (out of memory) leaves the frame untouched."""
        frame = step.frame
        feats = self.features.get(frame)
        selections = [self.policy.select(t, frame, step.reverse, self.num_frames) for t in tracks]
        outputs = []
        for members in group_by_layout(selections, self.options.batch_objects):
            group = [tracks[i] for i in members]
            memory, memory_pos, n_ptr = self._bank(group, feats, [selections[i] for i in members])
            evidence = self.policy.needs_evidence
            key = ("track", memory.shape, n_ptr, evidence, self.size)
            tensors = self._graphs.run(key, self._tracking_step(n_ptr, evidence), feats.embedding, *feats.high_res,
                                       feats.pos, memory, memory_pos)
            outputs.append((group, self._outputs(group, *tensors)))
        future = results.submit([out for _, out in outputs])
        host = future.result() if self.policy.needs_evidence else None
        for group, out in outputs:
            for track, rec in zip(group, out.records):
                if host is not None:
                    self.policy.observe(track, frame, rec, self._evidence(host, track.obj_id))
                step.commit(track, rec)
                self._touch(track, frame)

    def _tracking_step(self, num_ptr_tokens: int, evidence: bool):  # noqa: ANN202 - a tensor function
        """The model's part of a tracking step as a function of tensors alone (so that it can
        be captured as a CUDA graph): memory attention, decoder, memory encoder, hole filling,
        the masks at video resolution thresholded, and the numbers the host will want."""
        m = self.model

        def step(embedding, s0, s1, pos, memory, memory_pos):  # noqa: ANN001, ANN202
            feats = ImageFeatures(embedding, (s0, s1), pos)
            heads = m.decode(m.attend_memory(feats, memory, memory_pos, num_ptr_tokens), (s0, s1), multimask=True)
            mem, _ = m.encode_memory(embedding, heads.high_res_masks, heads.object_score, binarize=False)
            raw = heads.masks.float()
            logits = fill_holes(raw, self.options.fill_hole_area)
            scores = heads.object_score.float()
            rows = torch.arange(raw.shape[0], device=raw.device)
            agreement = candidate_agreement(heads.multi_masks, heads.best_index)  # stays on the device
            stats = torch.stack([scores[:, 0], heads.ious[rows, heads.best_index].float(), heads.best_index.float(),
                                 agreement.float()], 1)
            masks = to_video_resolution(logits, self.size)[:, 0] > 0
            if masks.device.type != "cpu":
                masks = pack_bits(masks)  # an eighth of the bytes to copy, no bit packing on the host
            out = (raw, logits, heads.obj_ptr.float(), scores, mem.to(m.precision.memory_dtype), stats, masks)
            return (*out, heads.multi_masks > 0) if evidence else out

        return step

    def _outputs(self, group: list[ObjectTrack], raw: torch.Tensor, logits: torch.Tensor, ptrs: torch.Tensor,
                 scores: torch.Tensor, memory: torch.Tensor, stats: torch.Tensor, masks: torch.Tensor,
                 candidates: torch.Tensor | None = None) -> StepOutput:
        """The records of one batched call, and what goes to the host."""
        records = [
            FrameRecord(
                is_cond=False,
                logits=logits[i : i + 1],
                obj_ptr=ptrs[i : i + 1],
                score=scores[i : i + 1],
                from_prompt=False,
                memory=memory[i : i + 1],  # stored in one dtype, converted in the step only
                unfilled_logits=None if logits is raw else raw[i : i + 1],
            )
            for i in range(len(group))
        ]
        return StepOutput(records, [t.obj_id for t in group], masks, stats, self.size, candidates)

    @staticmethod
    def _evidence(host: HostResults, obj_id: int) -> FrameEvidence | None:
        candidates = host.candidates.get(obj_id)
        if candidates is None or candidates.shape[0] < 2:
            return None
        _, iou, best = host.stats[obj_id]
        alts = [candidates[i] for i in range(candidates.shape[0]) if i != best]
        return FrameEvidence(candidates[best], iou, alts)

    def _encode_memory(self, embedding: torch.Tensor, high: torch.Tensor, score: torch.Tensor, binarize: bool) -> torch.Tensor:
        mem, _ = self.model.encode_memory(embedding, high, score, binarize=binarize)
        return mem.to(self.model.precision.memory_dtype)

    def _commit_pending(self) -> None:
        """Prompted frames join the memory bank, encoded from the mask the user saw."""
        s = self.model.image_size
        for track in self._tracks.values():
            for frame, rec in list(track.pending.items()):
                if rec.memory is None:
                    high = F.interpolate(rec.logits, size=(s, s), mode="bilinear", align_corners=False)
                    rec.memory = self._encode_memory(self.features.get(frame).embedding, high, rec.score, True)
                track.commit(frame, rec)
            track.pending.clear()

    def _memory_pos(self, memory: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        key = (tuple(memory.shape[-3:]), memory.device, dtype)
        pos = self._mem_pos.get(key)
        if pos is None:
            pos = self._mem_pos[key] = self.model.memory_encoder.position_encoding(memory[:1].float()).to(dtype)
        return pos

    def _bank(self, group: list[ObjectTrack], feats: ImageFeatures, sels: list[MemorySelection]) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The memory tokens each object of ``group`` attends to on this frame (``sels`` share
        one layout): (len(group), M, mem_dim), their positions, and how many are pointers."""
        dtype = feats.embedding.dtype
        spatial = []
        for j in range(len(sels[0].spatial)):
            entries = [sel.spatial[j] for sel in sels]
            mems = [self._memory(track, t) for track, (t, _) in zip(group, entries)]
            mem = (mems[0] if len(mems) == 1 else torch.cat(mems)).to(dtype)
            spatial.append(SpatialMemory(mem, self._memory_pos(mem, dtype), same_or_each([slot for _, slot in entries])))
        pointers = []
        for j in range(len(sels[0].pointers)):
            entries = [sel.pointers[j] for sel in sels]
            ptrs = [track.committed[t].obj_ptr for track, (t, _) in zip(group, entries)]
            ptr = (ptrs[0] if len(ptrs) == 1 else torch.cat(ptrs)).to(dtype)
            pointers.append(PointerMemory(ptr, same_or_each([off for _, off in entries])))
        memory, memory_pos, n_ptr = self.model.assemble_memory(spatial, pointers, self.policy.max_pointer_offset(self.num_frames))
        b = len(group)
        return memory.expand(b, -1, -1), memory_pos.expand(b, -1, -1), n_ptr

    def _condition(self, group: list[ObjectTrack], feats: ImageFeatures, sels: list[MemorySelection]) -> torch.Tensor:
        """The frame's embedding for each object of ``group`` after attending to its memory bank."""
        return self.model.attend_memory(feats, *self._bank(group, feats, sels))

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
        embedding = self._condition([track], feats, [sel])
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
            rec.memory = self._encode_memory(self.features.get(frame).embedding, high, rec.score, rec.from_prompt)
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
