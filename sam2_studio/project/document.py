"""The project document: the one place where objects, prompts, masks and settings live.

State changes only through commands on ``history`` (so every edit can be undone), and every
change is announced on ``events``. Read methods return immutable values or fresh arrays.
Not thread-safe: one thread (the GUI's) owns a document; a save on another thread works
from ``format.snapshot(doc)``, which shares only immutable data.

Masks are kept compressed (``EncodedMask``); with a ``MaskStore`` attached (``use_store``:
the editor does it beside the autosave) their bytes live on disk and the document and its
history hold small ``StoredMask`` handles, so memory stays flat in the clip's length.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sam2_studio.project import brush
from sam2_studio.project.commands import (AddObject, ChangeObject, MaskKey, RemoveObject,
                                          SetMasks, SetPrompts, SetReview, SetSetting)
from sam2_studio.project.errors import ProjectError
from sam2_studio.project.events import (DocumentEvents, HistoryEvent, MasksEvent, ObjectEvent,
                                        PromptsEvent, ReviewEvent)
from sam2_studio.project.history import DEFAULT_MAX_BYTES, DEFAULT_MAX_STEPS, History
from sam2_studio.project.mask_store import AnyMask, MaskStore, StoredMask
from sam2_studio.project.masks import EncodedMask
from sam2_studio.project.objects import (PALETTE, Color, Opaque, TrackedObject, check_name,
                                         parse_color)
from sam2_studio.project.prompts import BoxPrompt, BrushStroke, PointPrompt, Prompt, check_prompt
from sam2_studio.project.quality import (Evidence, Fingerprint, GeometryCache, MaskGeometry,
                                         fingerprint, geometry_of)
from sam2_studio.project.resolution import (DEFAULT_RESOLUTION, NAMES, Ranges, TrackedAt,
                                            check_resolution)
from sam2_studio.project.suspects import DEFAULT_THRESHOLD
from sam2_studio.project.video import VideoInfo, check_same_video

_UNSET: Any = object()

# the tracking engine's memory policies (``engine.make_policy`` names); SAM 2's is the default
MEMORY_POLICIES = ("sam2", "distractor_aware")
DEFAULT_MEMORY_POLICY = "sam2"


@dataclass(frozen=True, slots=True)
class FrameRange:
    """In and out points, both inclusive (an editor's I and O marks)."""

    first: int
    last: int


class Document:
    def __init__(self, video: VideoInfo, *, max_history_steps: int = DEFAULT_MAX_STEPS,
                 max_history_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.events = DocumentEvents()
        self.history = History(self, max_steps=max_history_steps, max_bytes=max_history_bytes,
                               on_change=self._history_changed)
        self.path: Path | None = None
        # where the video was relative to the project file when it was saved (finds it again
        # when both moved together)
        self.video_relative_path: str | None = None
        self.generation = 0  # counts every change, undo and redo included (autosave)
        self._video = video
        self._objects: dict[int, TrackedObject] = {}
        self._prompts: dict[int, dict[int, tuple[Prompt, ...]]] = {}
        self._masks: dict[int, dict[int, AnyMask]] = {}
        self._store: MaskStore | None = None
        # review data; kept when an object is deleted (ids are never reused, and an undo of
        # the deletion finds it again)
        self._evidence: dict[int, dict[int, Evidence]] = {}
        self._checks: dict[int, dict[int, Fingerprint]] = {}
        self.geometry = GeometryCache()
        self._settings: dict[str, Any] = {"frame_range": None, "model_variant": None,
                                          "working_resolution": DEFAULT_RESOLUTION,
                                          "memory_policy": DEFAULT_MEMORY_POLICY,
                                          "review_threshold": DEFAULT_THRESHOLD}
        self._threshold_step: int | None = None
        self._next_object_id = 1
        self._next_prompt_id = 1

    # == reading ============================================================================
    @property
    def video(self) -> VideoInfo:
        return self._video

    @property
    def objects(self) -> tuple[TrackedObject, ...]:
        return tuple(self._objects.values())

    def object(self, object_id: int) -> TrackedObject:
        try:
            return self._objects[object_id]
        except KeyError:
            raise ProjectError(f"there is no object {object_id} in this project") from None

    def prompts(self, object_id: int, frame: int) -> tuple[Prompt, ...]:
        return self._prompts.get(object_id, {}).get(frame, ())

    def prompt_frames(self, object_id: int) -> list[int]:
        """Frames with prompts: the keyframe markers of the timeline."""
        return sorted(self._prompts.get(object_id, {}))

    @property
    def mask_store(self) -> MaskStore | None:
        return self._store

    def use_store(self, store: MaskStore | None) -> None:
        """Keep the masks' bytes in ``store`` from now on (the ones held now move there);
        ``None`` gives every handle, the history's included, its bytes back in RAM so the
        store can close."""
        old = self._store
        if store is old:
            return
        if old is not None:
            old.on_problem = None
            old.release_handles()
        self._store = store
        if store is None:
            return
        store.on_problem = self.events.storage.emit
        store.reset()
        for obj in self._objects.values():
            store.set_object(obj.id, _store_info(obj))
        for object_id, frames in self._masks.items():
            moved = store.put_many(frames.values())
            self._masks[object_id] = dict(zip(frames, moved))
            store.set_current({(object_id, f): m for f, m in self._masks[object_id].items()})

    def _stored(self, mask: AnyMask | None) -> AnyMask | None:
        """``mask`` as the document keeps it: in the store when there is one."""
        if mask is None or self._store is None:
            return mask
        return self._store.put(mask)

    def mask(self, object_id: int, frame: int) -> np.ndarray | None:
        encoded = self.encoded_mask(object_id, frame)
        return None if encoded is None else encoded.decode()

    def encoded_mask(self, object_id: int, frame: int) -> AnyMask | None:
        return self._masks.get(object_id, {}).get(frame)

    def mask_frames(self, object_id: int) -> list[int]:
        return sorted(self._masks.get(object_id, {}))

    @property
    def frame_range(self) -> FrameRange:
        """The in/out range, or the whole clip when none is set."""
        return self._settings["frame_range"] or FrameRange(0, self._video.frame_count - 1)

    @property
    def has_frame_range(self) -> bool:
        return self._settings["frame_range"] is not None

    @property
    def model_variant(self) -> str | None:
        return self._settings["model_variant"]

    @property
    def working_resolution(self) -> str:
        """The model's input size for this project: "full" (1024), "balanced" or "draft"."""
        return self._settings["working_resolution"]

    def resolution_stale(self) -> dict[int, Ranges]:
        """Per object, the tracked frames made at another resolution than the project's."""
        out = {}
        for obj in self._objects.values():
            ranges = obj.tracked_at.other_than(self.working_resolution)
            if ranges:
                out[obj.id] = ranges
        return out

    @property
    def memory_policy(self) -> str:
        """The tracking memory: ``"sam2"`` or ``"distractor_aware"`` (SAM2.1++)."""
        return self._settings["memory_policy"]

    @property
    def review_threshold(self) -> float:
        """Confidence below which a tracked frame is suspect (0..1)."""
        return self._settings["review_threshold"]

    # == reading: review =====================================================================
    def evidence(self, object_id: int, frame: int) -> Evidence | None:
        """What the model said about the frame's current mask; None when it said nothing or
        the mask was changed by hand since."""
        ev = self._evidence.get(object_id, {}).get(frame)
        if ev is None:
            return None
        mask = self.encoded_mask(object_id, frame)
        return ev if mask is not None and ev.mask == fingerprint(mask) else None

    def mask_geometry(self, object_id: int, frame: int) -> MaskGeometry | None:
        mask = self.encoded_mask(object_id, frame)
        return None if mask is None else self.geometry.get(mask)

    def is_checked(self, object_id: int, frame: int) -> bool:
        """A person looked at this frame's mask and found it right (and it has not changed)."""
        fp = self._checks.get(object_id, {}).get(frame)
        if fp is None:
            return False
        mask = self.encoded_mask(object_id, frame)
        return mask is not None and fingerprint(mask) == fp

    def checked_frames(self, object_id: int) -> list[int]:
        return [f for f in sorted(self._checks.get(object_id, {})) if self.is_checked(object_id, f)]

    @property
    def dirty(self) -> bool:
        return self.history.dirty

    @property
    def next_ids(self) -> tuple[int, int]:
        """Next object id and prompt id: ids are never reused, even after an undo, so caches
        keyed by them stay right."""
        return self._next_object_id, self._next_prompt_id

    def title(self) -> str:
        return (self.path.stem if self.path else self._video.path.stem) + (" *" if self.dirty else "")

    # == editing: objects ===================================================================
    def add_object(self, name: str | None = None, color: Color | str | None = None, *,
                   object_id: int | None = None) -> TrackedObject:
        """A new object. ``object_id`` keeps an id from elsewhere (an importer, a prompts file);
        it must be one this document has never used, since ids are never reused."""
        if object_id is None:
            object_id = self._next_object_id
        elif (isinstance(object_id, bool) or not isinstance(object_id, (int, np.integer))
              or object_id < self._next_object_id):
            raise ProjectError(f"object id {object_id} is not free in this project (ids are "
                               f"never reused; the next free one is {self._next_object_id})")
        object_id = int(object_id)
        obj = TrackedObject(
            id=object_id,
            name=self._checked(check_name, name if name is not None else f"Object {object_id}"),
            color=self._checked(parse_color, color) if color is not None
            else PALETTE[(object_id - 1) % len(PALETTE)],
        )
        self._next_object_id = object_id + 1
        self.history.execute(AddObject(obj, label=f"Add {obj.name}"))
        return obj

    def remove_object(self, object_id: int) -> None:
        obj = self._editable(object_id)
        self.history.execute(RemoveObject(
            obj, list(self._objects).index(object_id), dict(self._prompts.get(object_id, {})),
            dict(self._masks.get(object_id, {})), label=f"Delete {obj.name}"))

    def update_object(self, object_id: int, *, name: str = _UNSET, color: Color | str = _UNSET,
                      visible: bool = _UNSET, locked: bool = _UNSET, effects: Any = _UNSET,
                      refinement: Any = _UNSET, tracked_at: TrackedAt = _UNSET) -> TrackedObject:
        """Change any of the object's properties as one step. ``effects`` and ``refinement``
        are JSON data owned by the effects layer."""
        before = self.object(object_id)
        changes: dict[str, Any] = {}
        if name is not _UNSET:
            changes["name"] = self._checked(check_name, name)
        if color is not _UNSET:
            changes["color"] = self._checked(parse_color, color)
        if visible is not _UNSET:
            changes["visible"] = bool(visible)
        if locked is not _UNSET:
            changes["locked"] = bool(locked)
        if effects is not _UNSET:
            changes["effects"] = self._checked(Opaque.of, effects)
        if refinement is not _UNSET:
            changes["refinement"] = self._checked(Opaque.of, refinement)
        if tracked_at is not _UNSET:
            if not isinstance(tracked_at, TrackedAt):
                raise ProjectError(f"not a record of tracked resolutions: {tracked_at!r}")
            changes["tracked_at"] = tracked_at
        after = replace(before, **changes)
        if after != before:
            self.history.execute(ChangeObject(before, after, label=_change_label(before, changes)))
        return after

    # == editing: prompts ===================================================================
    def add_point(self, object_id: int, frame: int, x: float, y: float,
                  positive: bool = True) -> PointPrompt:
        point = PointPrompt(self._new_prompt_id(), float(x), float(y), bool(positive))
        self._set_prompts(object_id, frame, self.prompts(object_id, frame) + (point,),
                          "Add point" if positive else "Add negative point", check=point)
        return point

    def add_box(self, object_id: int, frame: int, x0: float, y0: float, x1: float,
                y1: float) -> BoxPrompt:
        """A frame holds one box per object (what SAM 2 takes): a new box replaces the old."""
        box = BoxPrompt(self._new_prompt_id(), float(x0), float(y0), float(x1), float(y1))
        kept = tuple(p for p in self.prompts(object_id, frame) if not isinstance(p, BoxPrompt))
        self._set_prompts(object_id, frame, kept + (box,), "Add box", check=box)
        return box

    def replace_prompt(self, object_id: int, frame: int, prompt: Prompt,
                       label: str = "Move prompt") -> None:
        """Put ``prompt`` in place of the prompt with its id (a drag, a resized box)."""
        current = self.prompts(object_id, frame)
        if not any(p.id == prompt.id for p in current):
            raise ProjectError(f"there is no prompt {prompt.id} on frame {frame}")
        self._set_prompts(object_id, frame,
                          tuple(prompt if p.id == prompt.id else p for p in current), label,
                          check=prompt)

    def move_prompt(self, object_id: int, frame: int, prompt_id: int, dx: float, dy: float) -> Prompt:
        moved = self._find_prompt(object_id, frame, prompt_id).moved(dx, dy)
        self.replace_prompt(object_id, frame, moved)
        return moved

    def remove_prompt(self, object_id: int, frame: int, prompt_id: int) -> None:
        self._find_prompt(object_id, frame, prompt_id)
        self._set_prompts(object_id, frame, tuple(
            p for p in self.prompts(object_id, frame) if p.id != prompt_id), "Remove prompt")

    def clear_prompts(self, object_id: int, frame: int) -> None:
        if self.prompts(object_id, frame):
            self._set_prompts(object_id, frame, (), "Clear prompts")

    # == editing: masks =====================================================================
    def set_mask(self, object_id: int, frame: int, mask: np.ndarray | AnyMask | None, *,
                 label: str = "Edit mask", amend: bool = False) -> None:
        self.set_masks({(object_id, frame): mask}, label=label, amend=amend)

    def set_masks(self, masks: Mapping[MaskKey, np.ndarray | AnyMask | None], *,
                  label: str = "Edit masks", amend: bool = False) -> None:
        """Replace masks on any (object, frame) pairs as one step; ``None`` deletes.

        ``amend`` adds them to the step on top (the answer to the click that asked), and
        inside ``edit_group`` they join the group (a propagation run: call this per frame).
        """
        changes: dict[MaskKey, tuple[AnyMask | None, AnyMask | None]] = {}
        for (object_id, frame), mask in masks.items():
            self._editable(object_id)
            self._check_frame(frame)
            if mask is not None and not isinstance(mask, EncodedMask | StoredMask):
                array = np.asarray(mask)
                mask = self._checked(EncodedMask.encode, array)
                self.geometry.put(mask, geometry_of(array))
            if mask is not None and mask.shape != (self._video.height, self._video.width):
                raise ProjectError(f"a mask of {mask.width}×{mask.height} does not fit the "
                                   f"{self._video.width}×{self._video.height} video")
            changes[(object_id, frame)] = (self.encoded_mask(object_id, frame), self._stored(mask))
        if changes:
            self.history.execute(SetMasks(changes, label=label), amend=amend)

    def set_evidence(self, evidence: Mapping[MaskKey, Evidence | None], *,
                     amend: bool = False) -> None:
        """Record what the model said about the masks now on these (object, frame) pairs;
        call it right after ``set_masks`` so both are one step (``amend``, or in a group)."""
        changes: dict[MaskKey, tuple[Any, Any]] = {}
        for (object_id, frame), ev in evidence.items():
            self._editable(object_id)
            self._check_frame(frame)
            mask = self.encoded_mask(object_id, frame)
            after = ev.for_mask(mask) if ev is not None and mask is not None else None
            before = self._evidence.get(object_id, {}).get(frame)
            if before != after:
                changes[(object_id, frame)] = (before, after)
        if changes:
            self.history.execute(SetReview("evidence", changes, label="Model evidence"),
                                 amend=amend)

    def set_checked(self, keys: list[MaskKey] | tuple[MaskKey, ...], checked: bool = True) -> int:
        """Mark frames' masks as checked by a person (clears them from the suspects), or
        unmark them; one undo step. Frames without a mask are skipped; returns how many
        changed."""
        changes: dict[MaskKey, tuple[Any, Any]] = {}
        for object_id, frame in keys:
            self.object(object_id)
            self._check_frame(frame)
            mask = self.encoded_mask(object_id, frame)
            before = self._checks.get(object_id, {}).get(frame)
            after = fingerprint(mask) if checked and mask is not None else None
            if (before == after) or (checked and mask is None):
                continue
            changes[(object_id, frame)] = (before, after)
        if changes:
            n = len(changes)
            label = (("Mark checked" if checked else "Unmark checked")
                     + (f" ({n} frames)" if n > 1 else ""))
            self.history.execute(SetReview("checked", changes, label=label))
        return len(changes)

    def begin_stroke(self, object_id: int, frame: int, radius: float, *,
                     erase: bool = False) -> StrokeEdit:
        """Start painting; the mask updates as points come, and the stroke is one step."""
        return StrokeEdit(self, object_id, frame, radius, erase)

    @contextmanager
    def edit_group(self, label: str) -> Iterator[None]:
        """Everything inside is one undo step (an exception reverts it all)."""
        with self.history.group(label):
            yield

    # == editing: settings ==================================================================
    def set_frame_range(self, first: int | None, last: int | None = None) -> None:
        """Set in/out points (inclusive); ``None`` clears them."""
        if first is None:
            value = None
        else:
            last = self._video.frame_count - 1 if last is None else last
            self._check_frame(first)
            self._check_frame(last)
            if first > last:
                raise ProjectError(f"the in point ({first}) is after the out point ({last})")
            value = FrameRange(int(first), int(last))
        self._set_setting("frame_range", value, "Set in/out points")

    def set_model_variant(self, variant: str | None) -> None:
        if variant is not None and (not isinstance(variant, str) or not variant.strip()):
            raise ProjectError(f"not a model variant: {variant!r}")
        self._set_setting("model_variant", variant, "Choose model")

    def set_working_resolution(self, name: str) -> None:
        """Change the model's input size for this project. Frames tracked at another size are
        then stale (``resolution_stale``) until tracked again; nothing is recomputed here."""
        name = self._checked(check_resolution, name)
        self._set_setting("working_resolution", name, f"Working resolution: {NAMES[name]}")

    def set_memory_policy(self, policy: str) -> None:
        """Which tracking memory this project uses; tracks made with the other are outdated."""
        if policy not in MEMORY_POLICIES:
            raise ProjectError(f"unknown tracking memory {policy!r}; choose one of "
                               f"{', '.join(MEMORY_POLICIES)}")
        self._set_setting("memory_policy", policy, "Choose tracking memory")

    def set_review_threshold(self, value: float) -> None:
        """Confidence below which frames are suspect. Consecutive changes (a slider being
        moved) are one undo step."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ProjectError(f"a confidence threshold is a number, got {value!r}") from None
        if not 0.0 <= value <= 1.0:
            raise ProjectError(f"a confidence threshold lies between 0 and 1, got {value}")
        if value == self.review_threshold:
            return
        amend = self._threshold_step is not None and self._threshold_step == self.history.state
        self.history.execute(SetSetting("review_threshold", self.review_threshold, value,
                                        label="Set confidence threshold"), amend=amend)
        self._threshold_step = self.history.state

    def relink_video(self, path: str | Path) -> None:
        """Point the project at its video's new place; refuses another video
        (``VideoMismatchError``)."""
        path = Path(path).absolute()
        check_same_video(self._video, path)
        if path != self._video.path:
            self._set_setting("video", self._video.moved_to(path), "Relink video")

    # == undo ===============================================================================
    def undo(self) -> str | None:
        return self.history.undo()

    def redo(self) -> str | None:
        return self.history.redo()

    # == helpers ============================================================================
    @staticmethod
    def _checked(fn: Any, value: Any) -> Any:
        try:
            return fn(value)
        except ValueError as exc:
            raise ProjectError(str(exc)) from None

    def _editable(self, object_id: int) -> TrackedObject:
        obj = self.object(object_id)
        if obj.locked:
            raise ProjectError(f"{obj.name} is locked; unlock it to change it")
        return obj

    def _check_frame(self, frame: int) -> None:
        if not isinstance(frame, (int, np.integer)) or not 0 <= frame < self._video.frame_count:
            raise ProjectError(
                f"frame {frame} is outside the video (0–{self._video.frame_count - 1})")

    def _new_prompt_id(self) -> int:
        self._next_prompt_id += 1
        return self._next_prompt_id - 1

    def _find_prompt(self, object_id: int, frame: int, prompt_id: int) -> Prompt:
        for p in self.prompts(object_id, frame):
            if p.id == prompt_id:
                return p
        raise ProjectError(f"there is no prompt {prompt_id} on frame {frame}")

    def _set_prompts(self, object_id: int, frame: int, after: tuple[Prompt, ...], label: str,
                     check: Prompt | None = None) -> None:
        self._editable(object_id)
        self._check_frame(frame)
        if check is not None:
            self._checked(lambda p: check_prompt(p, self._video.width, self._video.height), check)
        self.history.execute(SetPrompts(object_id, frame, self.prompts(object_id, frame), after,
                                        label=label))

    def _set_setting(self, name: str, value: Any, label: str) -> None:
        before = self._video if name == "video" else self._settings[name]
        if before != value:
            self.history.execute(SetSetting(name, before, value, label=label))

    # -- the only mutators, called by commands ---------------------------------------------
    def _changed(self) -> None:
        self.generation += 1

    def _put_object(self, obj: TrackedObject, index: int | None = None,
                    prompts: dict[int, tuple[Prompt, ...]] | None = None,
                    masks: Mapping[int, AnyMask] | None = None) -> None:
        items = list(self._objects.items())
        items.insert(len(items) if index is None else index, (obj.id, obj))
        self._objects = dict(items)
        if prompts:
            self._prompts[obj.id] = dict(prompts)
        if self._store is not None:
            self._store.set_object(obj.id, _store_info(obj))
        if masks:
            self._masks[obj.id] = {f: m for f, m in masks.items()}
            if self._store is not None:
                self._masks[obj.id] = dict(zip(masks, self._store.put_many(masks.values())))
                self._store.set_current({(obj.id, f): m for f, m in self._masks[obj.id].items()})
        self._changed()
        self.events.objects.emit(ObjectEvent(obj.id, "added"))

    def _take_object(self, object_id: int) -> None:
        del self._objects[object_id]
        self._prompts.pop(object_id, None)
        self._masks.pop(object_id, None)
        if self._store is not None:
            self._store.set_object(object_id, None)
        self._changed()
        self.events.objects.emit(ObjectEvent(object_id, "removed"))

    def _replace_object(self, obj: TrackedObject) -> None:
        self._objects[obj.id] = obj
        if self._store is not None:
            self._store.set_object(obj.id, _store_info(obj))
        self._changed()
        self.events.objects.emit(ObjectEvent(obj.id, "changed"))

    def _put_prompts(self, object_id: int, frame: int, prompts: tuple[Prompt, ...]) -> None:
        frames = self._prompts.setdefault(object_id, {})
        if prompts:
            frames[frame] = prompts
        else:
            frames.pop(frame, None)
            if not frames:
                del self._prompts[object_id]
        self._changed()
        self.events.prompts.emit(PromptsEvent(object_id, frame))

    def _put_masks(self, masks: Mapping[MaskKey, AnyMask | None]) -> None:
        if self._store is not None:
            masks = {key: self._stored(m) for key, m in masks.items()}
            self._store.set_current(masks)
        touched = _put_frames(self._masks, masks)
        self._changed()
        for object_id, changed in touched.items():
            self.events.masks.emit(MasksEvent(object_id, changed))

    def _put_review(self, store: str, values: Mapping[MaskKey, Any]) -> None:
        touched = _put_frames(self._evidence if store == "evidence" else self._checks, values)
        self._changed()
        for object_id, changed in touched.items():
            self.events.review.emit(ReviewEvent(object_id, changed))

    def _put_setting(self, name: str, value: Any) -> None:
        if name == "video":
            self._video = value
        else:
            self._settings[name] = value
        self._changed()
        self.events.settings.emit(name)

    def _history_changed(self) -> None:
        h = self.history
        self.events.history.emit(HistoryEvent(h.can_undo, h.can_redo, h.undo_label,
                                              h.redo_label, h.dirty))


def _put_frames(table: dict[int, dict[int, Any]], values: Mapping[MaskKey, Any]) -> dict[int, tuple[int, ...]]:
    """Put per-(object, frame) values into ``table`` (``None`` deletes); the frames touched
    per object, sorted."""
    touched: dict[int, list[int]] = {}
    for (object_id, frame), value in values.items():
        frames = table.setdefault(object_id, {})
        if value is None:
            frames.pop(frame, None)
            if not frames:
                del table[object_id]
        else:
            frames[frame] = value
        touched.setdefault(object_id, []).append(frame)
    return {object_id: tuple(sorted(frames)) for object_id, frames in touched.items()}


def _store_info(obj: TrackedObject) -> dict[str, Any]:
    """What the mask store keeps of an object, to bring it back after a crash."""
    return {"name": obj.name, "color": list(obj.color)}


def _change_label(before: TrackedObject, changes: dict[str, Any]) -> str:
    if len(changes) != 1:
        return f"Change {before.name}"
    key, value = next(iter(changes.items()))
    return {
        "name": f"Rename {before.name}",
        "color": f"Recolour {before.name}",
        "visible": f"{'Show' if value else 'Hide'} {before.name}",
        "locked": f"{'Lock' if value else 'Unlock'} {before.name}",
        "effects": f"Change effects of {before.name}",
        "refinement": f"Change refinement of {before.name}",
        "tracked_at": f"Track {before.name}",
    }[key]


class StrokeEdit:
    """A brush stroke in progress: each ``add_points`` paints and shows at once; ``finish``
    makes the whole stroke one undo step, ``cancel`` takes it back."""

    def __init__(self, doc: Document, object_id: int, frame: int, radius: float,
                 erase: bool) -> None:
        doc._editable(object_id)
        doc._check_frame(frame)
        if not radius > 0:
            raise ProjectError(f"a brush radius is positive, got {radius}")
        self._doc = doc
        self._key = (object_id, frame)
        self._radius = float(radius)
        self._erase = erase
        current = doc.mask(object_id, frame)
        self._mask = current if current is not None else np.zeros(
            (doc.video.height, doc.video.width), dtype=bool)
        self._stroke = BrushStroke(doc._new_prompt_id(), (), self._radius, erase)
        self._open = True
        doc.history.begin_group("Erase" if erase else "Brush stroke")

    @property
    def stroke(self) -> BrushStroke:
        return self._stroke

    def add_points(self, *points: tuple[float, float]) -> None:
        if not self._open:
            raise RuntimeError("the stroke is finished")
        if not points:
            return
        pts = [(float(x), float(y)) for x, y in points]
        last = list(self._stroke.points[-1:])
        brush.paint(self._mask, last + pts, self._radius, self._erase)
        before = self._stroke
        self._stroke = replace(before, points=before.points + tuple(pts))
        object_id, frame = self._key
        prompts = self._doc.prompts(object_id, frame)
        if before.points:
            prompts = tuple(self._stroke if p.id == before.id else p for p in prompts)
        else:
            prompts = prompts + (self._stroke,)
        self._doc._set_prompts(object_id, frame, prompts, "Brush stroke", check=self._stroke)
        self._doc.set_mask(object_id, frame, self._mask)

    def finish(self) -> None:
        if self._open:
            self._open = False
            self._doc.history.end_group()

    def cancel(self) -> None:
        if self._open:
            self._open = False
            self._doc.history.cancel_group()
