"""The project document: the one place where objects, prompts, masks and settings live.

State changes only through commands on ``history`` (so every edit can be undone), and every
change is announced on ``events``. Read methods return immutable values or fresh arrays.
Not thread-safe: one thread (the GUI's) owns a document; a save on another thread works
from ``format.snapshot(doc)``, which shares only immutable data.
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
                                          SetMasks, SetPrompts, SetSetting)
from sam2_studio.project.errors import ProjectError
from sam2_studio.project.events import (DocumentEvents, HistoryEvent, MasksEvent, ObjectEvent,
                                        PromptsEvent)
from sam2_studio.project.history import DEFAULT_MAX_BYTES, DEFAULT_MAX_STEPS, History
from sam2_studio.project.masks import EncodedMask
from sam2_studio.project.objects import (PALETTE, Color, Opaque, TrackedObject, check_name,
                                         parse_color)
from sam2_studio.project.prompts import BoxPrompt, BrushStroke, PointPrompt, Prompt, check_prompt
from sam2_studio.project.resolution import (DEFAULT_RESOLUTION, NAMES, Ranges, TrackedAt,
                                            check_resolution)
from sam2_studio.project.video import VideoInfo, check_same_video

_UNSET: Any = object()


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
        self._masks: dict[int, dict[int, EncodedMask]] = {}
        self._settings: dict[str, Any] = {"frame_range": None, "model_variant": None,
                                          "working_resolution": DEFAULT_RESOLUTION}
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

    def mask(self, object_id: int, frame: int) -> np.ndarray | None:
        encoded = self.encoded_mask(object_id, frame)
        return None if encoded is None else encoded.decode()

    def encoded_mask(self, object_id: int, frame: int) -> EncodedMask | None:
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
    def set_mask(self, object_id: int, frame: int, mask: np.ndarray | EncodedMask | None, *,
                 label: str = "Edit mask", amend: bool = False) -> None:
        self.set_masks({(object_id, frame): mask}, label=label, amend=amend)

    def set_masks(self, masks: Mapping[MaskKey, np.ndarray | EncodedMask | None], *,
                  label: str = "Edit masks", amend: bool = False) -> None:
        """Replace masks on any (object, frame) pairs as one step; ``None`` deletes.

        ``amend`` adds them to the step on top (the answer to the click that asked), and
        inside ``edit_group`` they join the group (a propagation run: call this per frame).
        """
        changes: dict[MaskKey, tuple[EncodedMask | None, EncodedMask | None]] = {}
        for (object_id, frame), mask in masks.items():
            self._editable(object_id)
            self._check_frame(frame)
            if mask is not None and not isinstance(mask, EncodedMask):
                mask = self._checked(EncodedMask.encode, np.asarray(mask))
            if mask is not None and mask.shape != (self._video.height, self._video.width):
                raise ProjectError(f"a mask of {mask.width}×{mask.height} does not fit the "
                                   f"{self._video.width}×{self._video.height} video")
            changes[(object_id, frame)] = (self.encoded_mask(object_id, frame), mask)
        if changes:
            self.history.execute(SetMasks(changes, label=label), amend=amend)

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
                    masks: dict[int, EncodedMask] | None = None) -> None:
        items = list(self._objects.items())
        items.insert(len(items) if index is None else index, (obj.id, obj))
        self._objects = dict(items)
        if prompts:
            self._prompts[obj.id] = dict(prompts)
        if masks:
            self._masks[obj.id] = dict(masks)
        self._changed()
        self.events.objects.emit(ObjectEvent(obj.id, "added"))

    def _take_object(self, object_id: int) -> None:
        del self._objects[object_id]
        self._prompts.pop(object_id, None)
        self._masks.pop(object_id, None)
        self._changed()
        self.events.objects.emit(ObjectEvent(object_id, "removed"))

    def _replace_object(self, obj: TrackedObject) -> None:
        self._objects[obj.id] = obj
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

    def _put_masks(self, masks: Mapping[MaskKey, EncodedMask | None]) -> None:
        touched: dict[int, list[int]] = {}
        for (object_id, frame), mask in masks.items():
            frames = self._masks.setdefault(object_id, {})
            if mask is None:
                frames.pop(frame, None)
                if not frames:
                    del self._masks[object_id]
            else:
                frames[frame] = mask
            touched.setdefault(object_id, []).append(frame)
        self._changed()
        for object_id, changed in touched.items():
            self.events.masks.emit(MasksEvent(object_id, tuple(sorted(changed))))

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
